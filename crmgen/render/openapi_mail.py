"""OpenAPI of e-mail from records: ``GET|POST /api/<path>/{id}/emails`` for every entity with
e-mails (the entities of the spec's ``email_templates`` and the contacts an address is matched
against), when the spec logs mail."""

from __future__ import annotations

from typing import Any

from crmgen.language.model import Spec
from crmgen.render.mail_settings import mail_context

ERROR = {"$ref": "#/components/schemas/Error"}
EMAIL = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "direction": {"enum": ["out", "in"]},
        "at": {"type": "string", "format": "date-time"},
        "from": {"type": "string"},
        "to": {"type": "string"},
        "subject": {"type": "string"},
        "body": {"type": "string"},
        "template": {"type": ["string", "null"]},
        "process": {"type": ["string", "null"], "description": "the process that sent it"},
        "user_email": {"type": ["string", "null"], "description": "who sent it from the record"},
        "message_id": {"type": ["string", "null"], "description": "Message-ID of incoming mail"},
        "status": {"enum": ["pending", "sent", "dead", "received"]},
    },
}


def _errors(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {
        status: {"description": text, "content": {"application/json": {"schema": ERROR}}}
        for status, text in pairs
    }


def mail_paths(spec: Spec) -> dict[str, Any]:
    """The paths, by URL (none when the spec logs no mail)."""
    if not spec.logs_mail:
        return {}
    context = mail_context(spec)
    names = set(context["mail_recipients"]) | {e for e, _ in context["mail_contacts"]}
    paths: dict[str, Any] = {}
    for entity in spec.entities:
        if entity.name not in names or "read" not in entity.api:
            continue
        templates = sorted(t.name for t in spec.email_templates if t.entity == entity.name)
        parameter = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
        unreadable = ("404", "No such record (or it is outside the role's record rule)")
        paths[f"/api/{entity.api_path}/{{id}}/emails"] = {
            "get": {
                "operationId": f"emails_{entity.api_path}",
                "summary": f"The e-mails of a {entity.name}, newest first",
                "description": "Sent from the record, by processes, or read from a mailbox; "
                "for every reader of the record. limit (default 50, at most 500) and offset.",
                "tags": ["emails"],
                "parameters": [parameter],
                "responses": {
                    "200": {
                        "description": "A page of e-mails",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "items": {"type": "array", "items": EMAIL},
                                        "total": {"type": "integer"},
                                        "limit": {"type": "integer"},
                                        "offset": {"type": "integer"},
                                    },
                                }
                            }
                        },
                    },
                    **_errors(
                        ("401", "Not signed in"), ("403", "The role may not read it"), unreadable
                    ),
                },
            },
            "post": {
                "operationId": f"send_email_{entity.api_path}",
                "summary": f"Send an e-mail from a {entity.name}",
                "description": "From a template (its subject and body, in `locale`) or with "
                "`subject` and `body`; `to` defaults to the record's address. Queued in the "
                "outbox and logged on the record and on the contacts it goes to. Needs a role "
                "with send_email.",
                "tags": ["emails"],
                "parameters": [parameter],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "template": {"enum": templates}
                                    if templates
                                    else {"type": "string"},
                                    "to": {
                                        "anyOf": [
                                            {"type": "string", "format": "email"},
                                            {"type": "array", "items": {"type": "string"}},
                                        ]
                                    },
                                    "subject": {"type": "string", "maxLength": 998},
                                    "body": {"type": "string", "maxLength": 100000},
                                    "locale": {"enum": list(spec.app.locales)},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "The e-mail, queued and logged",
                        "content": {"application/json": {"schema": EMAIL}},
                    },
                    **_errors(
                        ("400", "The body is not a JSON object"),
                        ("401", "Not signed in"),
                        ("403", "The role may not send e-mail (send_email)"),
                        unreadable,
                        ("422", "A field is wrong (named in fields)"),
                    ),
                },
            },
        }
    return paths
