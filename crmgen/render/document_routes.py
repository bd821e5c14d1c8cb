"""Documents (print formats): which entities the generated app serves them for, and their
routes in the OpenAPI document. Their data in ``ui.json`` comes from ``crmgen.render.web.print_formats``.
"""

from __future__ import annotations

from typing import Any

from crmgen.language.model import Entity, Spec

MEDIA_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def served(entity: Entity) -> bool:
    """Whether the app serves the entity's documents (its records can be listed and read)."""
    return bool(entity.documents) and "list" in entity.api and "read" in entity.api


def openapi_paths(spec: Spec) -> dict[str, Any]:
    """``GET /api/<path>/{id}/documents/<name>.<format>`` for every document the app serves."""
    paths: dict[str, Any] = {}
    locale = spec.app.default_locale
    error = {"$ref": "#/components/schemas/Error"}
    for entity in spec.entities:
        if not served(entity):
            continue
        for doc in entity.documents:
            for fmt in doc.formats:
                who = ", ".join(doc.roles) if doc.roles else "whoever may read the record"
                paths[f"/api/{entity.api_path}/{{id}}/documents/{doc.name}.{fmt}"] = {
                    "get": {
                        "operationId": f"document_{entity.api_path}_{doc.name}_{fmt}",
                        "summary": f"{doc.label.get(locale, locale)} ({fmt.upper()})",
                        "description": f"The {entity.name} printed as the document '{doc.name}'. Roles: {who}. "
                        "The labels follow the `locale` parameter, else Accept-Language.",
                        "tags": ["documents"],
                        "parameters": [
                            {
                                "name": "id",
                                "in": "path",
                                "required": True,
                                "schema": {"type": "integer"},
                            },
                            {
                                "name": "locale",
                                "in": "query",
                                "required": False,
                                "schema": {"enum": list(spec.app.locales)},
                            },
                        ],
                        "responses": {
                            "200": {
                                "description": "The document, as an attachment",
                                "content": {
                                    MEDIA_TYPES[fmt]: {
                                        "schema": {"type": "string", "format": "binary"}
                                    }
                                },
                            },
                            **{
                                status: {
                                    "description": text,
                                    "content": {"application/json": {"schema": error}},
                                }
                                for status, text in (
                                    ("401", "Not signed in"),
                                    ("403", "The role may not read or print this"),
                                    (
                                        "404",
                                        "No such record (or it is outside the role's record rule)",
                                    ),
                                )
                            },
                        },
                    }
                }
    return paths
