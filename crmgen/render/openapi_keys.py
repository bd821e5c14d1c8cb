"""The OpenAPI paths of API keys (``GET|POST /api/api_keys``, ``DELETE /api/api_keys/{id}``: the
runtime's ``api_keys``), in every app."""

from __future__ import annotations

from typing import Any

from crmgen.language.model import Spec

_MOMENT = {"type": ["string", "null"], "format": "date-time"}
_KEY = {
    "type": "object",
    "description": "An API key as listed: never the key itself, its first characters.",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "prefix": {"type": "string", "description": "the key's first characters"},
        "role": {"type": "string"},
        "user_id": {"type": "integer", "description": "the key's service user"},
        "created_by_id": {"type": ["integer", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "expires_at": _MOMENT,
        "revoked_at": _MOMENT,
        "last_used_at": {**_MOMENT, "description": "moved at most once a minute"},
        "status": {"type": "string", "enum": ["active", "expired", "revoked"]},
    },
}
_INPUT = {
    "type": "object",
    "required": ["name", "role"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "role": {
            "type": "string",
            "description": "a role of the app (a superuser role: superusers)",
        },
        "expires_at": {**_MOMENT, "description": "ISO 8601, in the future; null: never expires"},
    },
    "additionalProperties": False,
}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def key_paths(spec: Spec) -> dict[str, Any]:
    """The paths of API keys (every app has them)."""
    del spec  # the same in every app
    tags = ["api_keys"]
    signed_out = _error("Not signed in")
    forbidden = _error("No manage_users, or the request sent an API key")
    made = {
        **_KEY,
        "properties": {
            **_KEY["properties"],  # type: ignore[dict-item]
            "key": {"type": "string", "description": "the key (crm_...): shown this once"},
        },
    }
    return {
        "/api/api_keys": {
            "get": {
                "operationId": "api_keys_list",
                "summary": "Every API key, newest first (user managers)",
                "tags": tags,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"items": {"type": "array", "items": _KEY}},
                        },
                        "The keys",
                    ),
                    "401": signed_out,
                    "403": forbidden,
                },
            },
            "post": {
                "operationId": "api_keys_create",
                "summary": "Create an API key acting as its own service user; the key is shown once",
                "tags": tags,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _INPUT}},
                },
                "responses": {
                    "201": _json(made, "The key, with `key` (shown only now)"),
                    "401": signed_out,
                    "403": _error(
                        "No manage_users, the request sent an API key, or a superuser role "
                        "asked by someone who is no superuser"
                    ),
                    "422": _error("No name, an unknown role, or an expiry in the past"),
                },
            },
        },
        "/api/api_keys/{id}": {
            "delete": {
                "operationId": "api_keys_revoke",
                "summary": "Revoke an API key (it answers 401 from now on)",
                "tags": tags,
                "parameters": [_ID],
                "responses": {
                    "204": {"description": "Revoked"},
                    "401": signed_out,
                    "403": forbidden,
                    "404": _error("No such key"),
                },
            }
        },
    }
