"""The OpenAPI paths of notifications and comments (the runtime's ``notifications`` and
``comments``): ``/api/notifications...`` for an app whose spec uses notifications, and
``/api/<path>/{id}/comments...`` for each entity with ``comments: true``. A spec without them
gets none."""

from __future__ import annotations

from typing import Any

from crmgen.language.model import Spec
from crmgen.render.openapi_accounts import ERROR

KINDS = ["assignment", "mention", "process"]
CHANNELS = ["app", "digest", "off"]
TAG = "Notifications"
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
PAGE = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
]


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _ok(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


NOTIFICATION = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "kind": {"enum": KINDS},
        "message": {"type": "string"},
        "entity": {"type": ["string", "null"]},
        "record_id": {"type": ["integer", "null"]},
        "url": {"type": ["string", "null"], "description": "the record's page in the web UI"},
        "actor_id": {"type": ["integer", "null"]},
        "actor": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "read": {"type": "boolean"},
        "read_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
PAGE_OF = {
    "total": {"type": "integer"},
    "limit": {"type": "integer"},
    "offset": {"type": "integer"},
    "next_offset": {"type": ["integer", "null"]},
}
PREFERENCES = {
    "type": "object",
    "properties": {kind: {"enum": CHANNELS} for kind in KINDS},
    "additionalProperties": False,
}
COMMENT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "body": {"type": ["string", "null"], "description": "null once deleted"},
        "author_id": {"type": ["integer", "null"]},
        "author": {"type": ["string", "null"]},
        "mentions": {"type": "array", "items": {"type": "integer"}},
        "created_at": {"type": "string", "format": "date-time"},
        "edited_at": {"type": ["string", "null"], "format": "date-time"},
        "deleted": {"type": "boolean"},
        "deleted_at": {"type": ["string", "null"], "format": "date-time"},
        "deleted_by_id": {"type": ["integer", "null"]},
        "deleted_by": {"type": ["string", "null"]},
        "may_edit": {"type": "boolean"},
        "may_delete": {"type": "boolean"},
    },
}
COMMENT_BODY = {
    "type": "object",
    "required": ["body"],
    "properties": {
        "body": {
            "type": "string",
            "maxLength": 10000,
            "description": "the text; @user@example.com mentions a user",
        }
    },
}
BODY = {"required": True, "content": {"application/json": {"schema": _ref("CrmCommentBody")}}}
COMMENT_LIST = {
    "type": "object",
    "properties": {"items": {"type": "array", "items": _ref("CrmComment")}, **PAGE_OF},
}
MENTION_CHOICES = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": ["string", "null"]},
                    "email": {"type": "string"},
                },
            },
        }
    },
}


def notification_paths() -> dict[str, Any]:
    listing = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": _ref("CrmNotification")},
            "unread": {"type": "integer"},
            **PAGE_OF,
        },
    }
    unread = {"name": "unread", "in": "query", "schema": {"type": "boolean"}}
    return {
        "/api/notifications": {
            "get": {
                "operationId": "notifications_list",
                "summary": "One's own notifications, newest first (unread=true: the unread ones)",
                "tags": [TAG],
                "parameters": [unread, *PAGE],
                "responses": {"200": _ok(listing, "A page"), "401": _error("Not signed in")},
            }
        },
        "/api/notifications/count": {
            "get": {
                "operationId": "notifications_count",
                "summary": "How many of one's notifications are unread (the bell)",
                "tags": [TAG],
                "responses": {
                    "200": _ok(
                        {"type": "object", "properties": {"unread": {"type": "integer"}}},
                        "The count",
                    ),
                    "401": _error("Not signed in"),
                },
            }
        },
        "/api/notifications/{id}/read": {
            "post": {
                "operationId": "notifications_read",
                "summary": "Mark one of one's own notifications read",
                "tags": [TAG],
                "parameters": [ID],
                "responses": {
                    "200": _ok({"type": "object"}, "Read"),
                    "401": _error("Not signed in"),
                    "404": _error("No such notification of one's own"),
                },
            }
        },
        "/api/notifications/read-all": {
            "post": {
                "operationId": "notifications_read_all",
                "summary": "Mark all of one's own notifications read",
                "tags": [TAG],
                "responses": {
                    "200": _ok(
                        {"type": "object", "properties": {"read": {"type": "integer"}}},
                        "How many were marked",
                    ),
                    "401": _error("Not signed in"),
                },
            }
        },
        "/api/notifications/preferences": {
            "get": {
                "operationId": "notifications_preferences",
                "summary": "One's channel per kind: app, digest (an e-mail digest too) or off",
                "tags": [TAG],
                "responses": {"200": _ok(_ref("CrmNotificationPreferences"), "Kind -> channel")},
            },
            "put": {
                "operationId": "notifications_preferences_set",
                "summary": "Choose the channel of some kinds",
                "tags": [TAG],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("CrmNotificationPreferences")}},
                },
                "responses": {
                    "200": _ok(_ref("CrmNotificationPreferences"), "Kind -> channel, now"),
                    "422": _error("An unknown kind or channel"),
                },
            },
        },
    }


def comment_paths(path: str, tag: str) -> dict[str, Any]:
    base = f"/api/{path}/{{id}}/comments"
    cid = {"name": "cid", "in": "path", "required": True, "schema": {"type": "integer"}}
    hidden = _error("No such record the user may read (or no such comment)")
    listing, users = _ref("CrmCommentList"), _ref("CrmMentionChoices")
    return {
        base: {
            "get": {
                "operationId": f"{path}_comments",
                "summary": "The record's comments, oldest first (a deleted one as its trace)",
                "tags": [tag],
                "parameters": [ID, *PAGE],
                "responses": {"200": _ok(listing, "A page"), "404": hidden},
            },
            "post": {
                "operationId": f"{path}_comments_create",
                "summary": "Comment on the record; mentioned users who may read it are told",
                "tags": [tag],
                "parameters": [ID],
                "requestBody": BODY,
                "responses": {
                    "201": _ok(_ref("CrmComment"), "The comment"),
                    "404": hidden,
                    "422": _error("No text, or too long"),
                },
            },
        },
        f"{base}/mentions": {
            "get": {
                "operationId": f"{path}_comments_mentions",
                "summary": "Users who may read the record whose name or e-mail starts with q",
                "tags": [tag],
                "parameters": [ID, {"name": "q", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": _ok(users, "At most 10 users"), "404": hidden},
            }
        },
        f"{base}/{{cid}}": {
            "patch": {
                "operationId": f"{path}_comments_update",
                "summary": "Edit a comment: its author, within COMMENT_EDIT_MINUTES (15)",
                "tags": [tag],
                "parameters": [ID, cid],
                "requestBody": BODY,
                "responses": {
                    "200": _ok(_ref("CrmComment"), "The comment"),
                    "403": _error("Not the author, or too late"),
                    "404": hidden,
                    "409": _error("The comment was deleted"),
                },
            },
            "delete": {
                "operationId": f"{path}_comments_delete",
                "summary": "Delete a comment (its author, or who may update the record); a trace stays",
                "tags": [tag],
                "parameters": [ID, cid],
                "responses": {
                    "204": {"description": "Deleted"},
                    "403": _error("Neither the author nor allowed to update the record"),
                    "404": hidden,
                },
            },
        },
    }


def paths(spec: Spec, schemas: dict[str, Any]) -> dict[str, Any]:
    """The paths of notifications and comments this spec's app serves; their schemas are
    added to ``schemas`` (named ``Crm...``: no entity may take such a name)."""
    found: dict[str, Any] = {}
    if spec.notifications:
        found.update(notification_paths())
        schemas["CrmNotification"] = NOTIFICATION
        schemas["CrmNotificationPreferences"] = PREFERENCES
    commented = [e for e in spec.entities if e.comments]
    for entity in commented:
        found.update(comment_paths(entity.api_path, entity.name))
    if commented:
        schemas.update(
            CrmComment=COMMENT,
            CrmCommentBody=COMMENT_BODY,
            CrmCommentList=COMMENT_LIST,
            CrmMentionChoices=MENTION_CHOICES,
        )
    return found
