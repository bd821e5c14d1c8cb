"""The OpenAPI paths of the app's own collections: the audit log, the outbox, dashboards, reports.

They do not come from entities, so ``openapi.document`` adds them from here: the audit log and
the outbox for superusers and audit roles (``GET /api/audit``, ``GET /api/outbox``,
``POST /api/outbox/{id}/retry``), and the JSON of the spec's dashboards and reports
(``GET /api/dashboards/{name}``, ``GET /api/reports/{name}``, the names an enum).
"""

from __future__ import annotations

from typing import Any

from crmgen.language.model import Spec

_PAGE = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
    "offset": {"type": "integer", "minimum": 0, "default": 0},
}
_STAMP = {"type": ["string", "null"], "format": "date-time"}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _page_of(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "total", "limit", "offset"],
        "properties": {
            "items": {"type": "array", "items": item},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
        },
    }


_AUDIT_ENTRY = {
    "type": "object",
    "required": ["id", "at", "entity", "record_id", "action", "changes"],
    "properties": {
        "id": {"type": "integer"},
        "at": {"type": "string", "format": "date-time"},
        "user_id": {"type": ["integer", "null"]},
        "user_email": {"type": ["string", "null"]},
        "ip": {"type": ["string", "null"]},
        "entity": {"type": "string"},
        "record_id": {"type": "integer"},
        "action": {"enum": ["create", "update", "delete"]},
        "changes": {
            "type": "object",
            "description": "field -> [old value, new value]",
            "additionalProperties": {"type": "array", "minItems": 2, "maxItems": 2},
        },
    },
}

_OUTBOX_MESSAGE = {
    "type": "object",
    "required": ["id", "kind", "status", "attempts", "idempotency_key"],
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "description": "email, telegram, sms, webhook, http"},
        "status": {"enum": ["pending", "sent", "dead"]},
        "attempts": {"type": "integer"},
        "next_attempt_at": _STAMP,
        "created_at": _STAMP,
        "sent_at": _STAMP,
        "locked_until": _STAMP,
        "last_error": {"type": ["string", "null"]},
        "idempotency_key": {"type": "string"},
        "summary": {"type": "string", "description": "where it goes (never the message body)"},
    },
}

_VALUE = {"description": "a number, or a decimal number as text"}
_DASHBOARD = {
    "type": "object",
    "required": ["name", "kpis", "charts"],
    "properties": {
        "name": {"type": "string"},
        "kpis": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["available", "value"],
                "properties": {"available": {"type": "boolean"}, "value": _VALUE},
            },
        },
        "charts": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["available", "points"],
                "properties": {
                    "available": {"type": "boolean"},
                    "points": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["key", "value"],
                            "properties": {"key": {}, "value": _VALUE},
                        },
                    },
                },
            },
        },
    },
}
_REPORT = {
    "type": "object",
    "required": ["name", "group_by", "columns", "available", "rows", "totals"],
    "properties": {
        "name": {"type": "string"},
        "group_by": {"type": "array", "items": {"type": "string"}},
        "columns": {"type": "array", "items": {"type": "string"}},
        "available": {"type": "boolean"},
        "rows": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["keys", "values"],
                "properties": {
                    "keys": {"type": "array"},
                    "values": {"type": "object", "additionalProperties": _VALUE},
                },
            },
        },
        "totals": {"type": "object", "additionalProperties": _VALUE},
    },
}

_READERS = "Superusers and roles with `audit: true`."


def _audit() -> dict[str, Any]:
    return {
        "/api/audit": {
            "get": {
                "operationId": "audit_list",
                "summary": "The audit log, newest first. " + _READERS,
                "tags": ["audit"],
                "parameters": [
                    _query("entity", {"type": "string"}, "only this entity's changes"),
                    _query("record_id", {"type": "integer", "minimum": 0}, "only this record"),
                    _query("user_id", {"type": "integer", "minimum": 0}, "only this user's"),
                    _query("action", {"enum": ["create", "update", "delete"]}, "only these"),
                    _query("limit", _PAGE["limit"], "page size"),
                    _query("offset", _PAGE["offset"], "entries to skip"),
                ],
                "responses": {
                    "200": _json(_page_of(_AUDIT_ENTRY), "A page of entries"),
                    "401": _error("Not signed in"),
                    "403": _error("The role may not read the audit log"),
                    "422": _error("A bad filter or page parameter"),
                },
            }
        }
    }


def _outbox() -> dict[str, Any]:
    return {
        "/api/outbox": {
            "get": {
                "operationId": "outbox_list",
                "summary": "Messages to the outside world, newest first. " + _READERS,
                "tags": ["outbox"],
                "parameters": [
                    _query("status", {"enum": ["pending", "sent", "dead"]}, "only these"),
                    _query("kind", {"type": "string"}, "only this kind (email, sms, ...)"),
                    _query("limit", _PAGE["limit"], "page size"),
                    _query("offset", _PAGE["offset"], "messages to skip"),
                ],
                "responses": {
                    "200": _json(_page_of(_OUTBOX_MESSAGE), "A page of messages"),
                    "401": _error("Not signed in"),
                    "403": _error("The role may not see the outbox"),
                    "422": _error("A bad filter or page parameter"),
                },
            }
        },
        "/api/outbox/{id}/retry": {
            "post": {
                "operationId": "outbox_retry",
                "summary": "Deliver a dead or waiting message again now. " + _READERS,
                "tags": ["outbox"],
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1},
                    }
                ],
                "responses": {
                    "200": _json(_OUTBOX_MESSAGE, "The message, due again"),
                    "401": _error("Not signed in"),
                    "403": _error("The role may not see the outbox"),
                    "404": _error("No such message"),
                    "409": _error("The message was sent already"),
                },
            }
        },
    }


def _named(kind: str, names: list[str], schema: dict[str, Any], summary: str) -> dict[str, Any]:
    return {
        f"/api/{kind}s/{{name}}": {
            "get": {
                "operationId": f"{kind}_data",
                "summary": summary,
                "tags": [f"{kind}s"],
                "parameters": [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": names} if names else {"type": "string"},
                    }
                ],
                "responses": {
                    "200": _json(schema, f"The {kind}'s numbers"),
                    "401": _error("Not signed in"),
                    "403": _error(f"The role may not see this {kind}"),
                    "404": _error(f"No such {kind}"),
                },
            }
        }
    }


def system_paths(spec: Spec) -> dict[str, Any]:
    """The paths of the audit log, the outbox, and the spec's dashboards and reports."""
    dashboards = sorted(d.name for d in spec.ui.dashboards)
    reports = sorted(r.name for r in spec.ui.reports)
    return {
        **_audit(),
        **_outbox(),
        **_named(
            "dashboard",
            dashboards,
            _DASHBOARD,
            "Every KPI and chart of a dashboard, within the user's record rules",
        ),
        **_named(
            "report",
            reports,
            _REPORT,
            "A report's rows and totals, within the user's record rules",
        ),
    }
