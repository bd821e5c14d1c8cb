"""The OpenAPI paths of saved views (``GET|POST /api/views``, ``GET|PATCH|DELETE
/api/views/{id}``: the runtime's ``views``), for a spec with ``ui.saved_views`` (the default)."""

from __future__ import annotations

from typing import Any

from crmgen.language.model import Spec

_NAMES = {"type": "array", "items": {"type": "string"}}
_FILTERS = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "description": 'list filters as the entity\'s list API takes them: {"stage__in": "won,lost"}',
}
_INPUT = {
    "type": "object",
    "properties": {
        "entity": {"type": "string", "description": "the list's API path (POST only)"},
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "q": {"type": "string", "maxLength": 200},
        "sort": {"type": "string", "description": "as the list API's sort: name,-amount"},
        "filters": _FILTERS,
        "columns": {**_NAMES, "description": "fields the saver may read"},
        "roles": {**_NAMES, "description": "the roles it is shared with"},
    },
    "additionalProperties": False,
}
_VIEW = {
    "type": "object",
    "description": "A view as it applies to the caller: what they may not read is left out.",
    "properties": {
        "id": {"type": "integer"},
        "entity": {"type": "string"},
        "name": {"type": "string"},
        "q": {"type": "string"},
        "sort": {"type": "string"},
        "filters": _FILTERS,
        "columns": _NAMES,
        "roles": _NAMES,
        "owner_id": {"type": "integer"},
        "mine": {"type": "boolean"},
        "url": {"type": "string", "description": "the web list page showing it"},
        "api_url": {"type": "string", "description": "the list API query of it"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(required: list[str]) -> dict[str, Any]:
    schema = {**_INPUT, "required": required} if required else _INPUT
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def view_paths(spec: Spec) -> dict[str, Any]:
    """The paths of saved views, or none when the spec turns them off."""
    if not spec.ui.saved_views:
        return {}
    tags = ["views"]
    signed_out = _error("Not signed in")
    missing = _error("No such view the caller sees (someone else's private view included)")
    return {
        "/api/views": {
            "get": {
                "operationId": "views_list",
                "summary": "The caller's views and those shared with one of their roles",
                "tags": tags,
                "parameters": [
                    {
                        "name": "entity",
                        "in": "query",
                        "required": False,
                        "description": "only the views of this list (its API path)",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"items": {"type": "array", "items": _VIEW}},
                        },
                        "The views",
                    ),
                    "401": signed_out,
                },
            },
            "post": {
                "operationId": "views_create",
                "summary": "Save a list's filters, sort and columns under a name",
                "tags": tags,
                "requestBody": _body(["entity", "name"]),
                "responses": {
                    "201": _json(_VIEW, "The view"),
                    "401": signed_out,
                    "409": _error("The caller has a view of this name for this list"),
                    "422": _error("A filter, sort, column or role the list or the saver refuses"),
                },
            },
        },
        "/api/views/{id}": {
            "get": {
                "operationId": "views_read",
                "summary": "One view, as it applies to the caller",
                "tags": tags,
                "parameters": [_ID],
                "responses": {"200": _json(_VIEW, "The view"), "401": signed_out, "404": missing},
            },
            "patch": {
                "operationId": "views_update",
                "summary": "Change one's own view",
                "tags": tags,
                "parameters": [_ID],
                "requestBody": _body([]),
                "responses": {
                    "200": _json(_VIEW, "The view"),
                    "401": signed_out,
                    "403": _error("A view shared with the caller: only its owner changes it"),
                    "404": missing,
                    "409": _error("The caller has a view of this name for this list"),
                    "422": _error("A filter, sort, column or role the list or the saver refuses"),
                },
            },
            "delete": {
                "operationId": "views_delete",
                "summary": "Delete one's own view",
                "tags": tags,
                "parameters": [_ID],
                "responses": {
                    "204": {"description": "Deleted"},
                    "401": signed_out,
                    "403": _error("A view shared with the caller: only its owner deletes it"),
                    "404": missing,
                },
            },
        },
    }
