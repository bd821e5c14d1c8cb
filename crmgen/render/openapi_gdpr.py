"""The OpenAPI paths of personal data (``crmgen_runtime.gdpr``): per entity with
``personal_data``, ``GET /api/<path>/{id}/personal-data`` and ``POST /api/<path>/{id}/erase``."""

from __future__ import annotations

from typing import Any

from crmgen.language.model import Spec

ERROR = {"$ref": "#/components/schemas/Error"}
REASON_MAX = 2000  # crmgen_runtime.gdpr.REASON_MAX


def _error(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": ERROR}}}


def _refusals() -> dict[str, Any]:
    return {
        "401": _error("Not signed in"),
        "403": _error("The role may not export or erase this entity's personal data"),
        "404": _error("No such record, or one the caller may not read"),
    }


def paths(spec: Spec) -> dict[str, Any]:
    """The GDPR paths of ``spec`` (none when no entity declares personal data)."""
    found: dict[str, Any] = {}
    record_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    for entity in spec.entities:
        if entity.personal_data is None:
            continue
        base, tag = f"/api/{entity.api_path}/{{id}}", [entity.name]  # with its CRUD
        found[f"{base}/personal-data"] = {
            "get": {
                "operationId": f"{entity.api_path}_personal_data",
                "summary": f"Everything the CRM holds about a {entity.name}: a zip of JSON and CSV",
                "tags": tag,
                "parameters": [record_id],
                "responses": {
                    "200": {
                        "description": "The zip (one .json and one .csv per source, files/)",
                        "content": {
                            "application/zip": {"schema": {"type": "string", "format": "binary"}}
                        },
                    },
                    **_refusals(),
                },
            }
        }
        found[f"{base}/erase"] = {
            "post": {
                "operationId": f"{entity.api_path}_erase",
                "summary": f"Erase a {entity.name}'s personal data as the spec declares",
                "tags": tag,
                "parameters": [record_id],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["reason"],
                                "properties": {
                                    "reason": {
                                        "type": "string",
                                        "minLength": 1,
                                        "maxLength": REASON_MAX,
                                    }
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "What was erased (nothing on a second call)",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "id": {"type": "integer"},
                                        "erased": {"type": "array", "items": {"type": "string"}},
                                        "scrubbed": {"type": "integer"},
                                        "already": {"type": "boolean"},
                                    },
                                }
                            }
                        },
                    },
                    "400": _error("No reason, or one over 2000 characters"),
                    **_refusals(),
                },
            }
        }
    return found
