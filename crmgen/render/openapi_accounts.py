"""The OpenAPI parts of user management: the User's ``roles`` and one's own account's routes.

``roles`` is read on every User (a sorted list of role names) and written on create and update
by user managers (``manage_users``), beside the read-only ``invited`` (active, no password
yet); ``POST /api/auth/password``, ``/api/auth/email`` and ``/api/auth/email/confirm`` change
one's own password and e-mail; ``POST /api/users/invite`` and ``/api/users/{id}/invite``
invite people (``invite_paths``).
"""

from __future__ import annotations

from typing import Any

from crmgen.language.model import Spec

USER = "User"
ERROR = {"$ref": "#/components/schemas/Error"}


def add_roles(spec: Spec, schemas: dict[str, Any]) -> None:
    """Put ``roles`` into the User's read, create and update schemas."""
    names = sorted(role.name for role in spec.roles)
    read = {"type": "array", "items": {"type": "string"}, "description": "The role names, sorted"}
    write = {
        "type": "array",
        "items": {"enum": names},
        "uniqueItems": True,
        "description": "The user's roles. Needs a role with manage_users; a superuser role "
        "only a superuser grants or removes; nobody changes their own",
    }
    schemas[USER]["properties"]["roles"] = read
    schemas[USER]["properties"]["invited"] = {
        "type": "boolean",
        "readOnly": True,
        "description": "Invited and has not chosen a password yet (active, no password)",
    }
    schemas[f"{USER}Create"]["properties"]["roles"] = write
    schemas[f"{USER}Update"]["properties"]["roles"] = write


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _post(
    operation: str, summary: str, fields: dict[str, str], responses: dict[str, Any]
) -> dict[str, Any]:
    body = {
        "type": "object",
        "required": sorted(fields),
        "properties": {
            name: {"type": "string", "description": text} for name, text in fields.items()
        },
    }
    return {
        "post": {
            "operationId": operation,
            "summary": summary,
            "tags": ["auth"],
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": responses,
        }
    }


def account_paths() -> dict[str, Any]:
    """The routes of one's own account below ``/api/auth``."""
    password = _post(
        "auth_password",
        "Change one's own password; ends one's other sessions",
        {"current_password": "the password now", "password": "the new password"},
        {
            "204": {"description": "Changed"},
            "401": _error("Not signed in"),
            "403": _error("The current password is wrong"),
            "422": _error("The new password breaks the rules"),
            "423": _error("The account is locked for a while"),
        },
    )
    email = _post(
        "auth_email",
        "Change one's own e-mail: mails a confirmation link to the new address",
        {"email": "the new e-mail", "password": "the password now"},
        {
            "202": {"description": "The link is on its way to the new address"},
            "401": _error("Not signed in"),
            "403": _error("The password is wrong"),
            "409": _error("Another user has this e-mail"),
            "422": _error("Not an e-mail address, or the current one"),
            "423": _error("The account is locked for a while"),
        },
    )
    confirm = _post(
        "auth_email_confirm",
        "Confirm an e-mail change with the token of the mailed link",
        {"token": "the last part of the link"},
        {
            "200": {
                "description": "The e-mail is changed; the user's other sessions end",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["id", "email"],
                            "properties": {"id": {"type": "integer"}, "email": {"type": "string"}},
                        }
                    }
                },
            },
            "400": _error("The link is invalid, used or expired"),
            "409": _error("Another user has this e-mail now"),
        },
    )
    confirm["post"]["security"] = []
    return {
        "/api/auth/password": password,
        "/api/auth/email": email,
        "/api/auth/email/confirm": confirm,
    }


def invite_paths(path: str) -> dict[str, Any]:
    """``POST /api/<users>/invite`` and ``POST /api/<users>/{id}/invite`` (the runtime's
    ``invites``), for a User API that creates users."""
    user = {"$ref": f"#/components/schemas/{USER}"}
    body = {
        "type": "object",
        "required": ["email", "name"],
        "properties": {
            "email": {"type": "string", "description": "the person's e-mail"},
            "name": {"type": "string", "description": "the person's name"},
            "roles": {
                "type": "array",
                "items": {"type": "string"},
                "uniqueItems": True,
                "description": "the role names, as on POST (a superuser role: superusers only)",
            },
        },
        "additionalProperties": True,
        "description": "Any other field of UserCreate may be sent too",
    }
    invite = {
        "post": {
            "operationId": "users_invite",
            "summary": "Invite a person: creates the user without a password and mails a "
            "one-time link to /invite/<token> (INVITE_TTL_HOURS) through the outbox",
            "tags": [USER],
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {
                "201": {
                    "description": "The new user (never the link)",
                    "content": {"application/json": {"schema": user}},
                },
                "401": _error("Not signed in"),
                "403": _error("No manage_users, or a superuser role without being a superuser"),
                "409": _error("A user has this e-mail (an invited one: resend instead)"),
                "422": _error("Some fields are invalid"),
            },
        }
    }
    resend = {
        "post": {
            "operationId": "users_invite_resend",
            "summary": "Mail a new invitation link; the unused ones sent before stop working",
            "tags": [USER],
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {
                "200": {
                    "description": "The user",
                    "content": {"application/json": {"schema": user}},
                },
                "401": _error("Not signed in"),
                "403": _error("No manage_users, or a superuser's account"),
                "404": _error("No such user"),
                "409": _error("The user has a password already, or is deactivated"),
            },
        }
    }
    return {f"/api/{path}/invite": invite, f"/api/{path}/{{id}}/invite": resend}
