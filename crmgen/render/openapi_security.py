"""The OpenAPI parts of one's sign-in security (the runtime's ``account_security``): the
sign-in's second step, two-factor setup, recovery codes, one's sessions, name and language."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
TOKEN_NOTE = (
    "two_factor_token: the token in the error of POST /api/auth/login "
    "(401 two_factor_required, 403 two_factor_setup_required)"
)


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(required: list[str], **fields: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": required,
        "properties": {
            name: {"type": "string", "description": text} for name, text in fields.items()
        },
    }
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _operation(
    method: str, operation: str, summary: str, responses: dict[str, Any], **more: Any
) -> dict[str, Any]:
    return {
        method: {
            "operationId": operation,
            "summary": summary,
            "tags": ["auth"],
            **more,
            "responses": responses,
        }
    }


CODES = {
    "type": "object",
    "required": ["recovery_codes"],
    "properties": {
        "recovery_codes": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Ten one-time codes, shown only in this answer",
        }
    },
}
SIGNED_IN = {
    "type": "object",
    "required": ["access_token", "token_type", "csrf_token"],
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"const": "bearer"},
        "csrf_token": {"type": "string"},
    },
    "description": "What POST /api/auth/login answers",
}


def security_paths(two_factor: bool) -> dict[str, Any]:
    """The paths below ``/api/auth`` of one's sessions and name, and of two-factor sign-in when
    the app has it (``two_factor``)."""
    session = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "expires_at": {"type": "string", "format": "date-time"},
            "ip": {"type": ["string", "null"]},
            "user_agent": {"type": ["string", "null"]},
            "current": {"type": "boolean", "description": "the session of this request"},
        },
    }
    paths: dict[str, Any] = {
        "/api/auth/name": _operation(
            "post",
            "auth_name",
            "Change one's own name (audited)",
            {
                "200": _json({"type": "object"}, "The id and the new name"),
                "401": _error("Not signed in"),
                "422": _error("Empty, or breaks the User's name rules"),
            },
            requestBody=_body(["name"], name="the new name"),
        ),
        "/api/auth/locale": _operation(
            "post",
            "auth_locale",
            "Choose one's own language (the UI on every device, one's mails); null: the browser's",
            {
                "200": _json({"type": "object"}, "The id and the language"),
                "401": _error("Not signed in"),
                "422": _error("Not a language of this app"),
            },
            requestBody={
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"locale": {"type": ["string", "null"]}},
                        }
                    }
                },
            },
        ),
        "/api/auth/sessions": _operation(
            "get",
            "auth_sessions",
            "One's live sessions, the newest first",
            {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"items": {"type": "array", "items": session}},
                    },
                    "The sessions",
                ),
                "401": _error("Not signed in"),
            },
        ),
        "/api/auth/sessions/{id}": _operation(
            "delete",
            "auth_session_end",
            "End one of one's sessions",
            {
                "204": {"description": "Ended"},
                "401": _error("Not signed in"),
                "404": _error("No such session of yours"),
            },
            parameters=[
                {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
        ),
    }
    if not two_factor:
        return paths
    state = {
        "type": "object",
        "properties": {
            "available": {"type": "boolean"},
            "enabled": {"type": "boolean"},
            "required": {"type": "boolean", "description": "one of one's roles requires it"},
            "recovery_codes_left": {"type": "integer"},
        },
    }
    secret = {
        "type": "object",
        "properties": {"secret": {"type": "string"}, "otpauth_uri": {"type": "string"}},
    }
    paths.update(
        {
            "/api/auth/login/code": _operation(
                "post",
                "auth_login_code",
                "The second step of a sign-in: the token and a code from the app (or a recovery code)",
                {
                    "200": _json(SIGNED_IN, "Signed in"),
                    "401": _error("Wrong code (counts toward the lockout), or the token expired"),
                    "415": _error("Not JSON"),
                    "423": _error("Locked for a while after too many failed attempts"),
                },
                security=[],
                requestBody=_body(
                    ["two_factor_token", "code"],
                    two_factor_token=TOKEN_NOTE,
                    code="6 digits, or a recovery code",
                ),
            ),
            "/api/auth/two-factor": _operation(
                "get",
                "auth_two_factor",
                "One's two-factor state",
                {"200": _json(state, "The state"), "401": _error("Not signed in")},
            ),
            "/api/auth/two-factor/setup": _operation(
                "post",
                "auth_two_factor_setup",
                "A new secret for an authenticator app (signed in, or with a setup token)",
                {
                    "200": _json(secret, "The secret and its otpauth:// URI"),
                    "401": _error("Not signed in, or the token expired"),
                    "409": _error("Two-factor sign-in is on already"),
                },
                requestBody=_body([], two_factor_token=TOKEN_NOTE + "; not needed when signed in"),
            ),
            "/api/auth/two-factor/confirm": _operation(
                "post",
                "auth_two_factor_confirm",
                "Turn two-factor sign-in on with a first code; with a setup token, also sign in",
                {
                    "200": _json(
                        CODES, "The recovery codes (with a token: and the sign-in's answer)"
                    ),
                    "400": _error("No setup started"),
                    "401": _error("Not signed in, or the token expired"),
                    "422": _error("The code is wrong"),
                },
                requestBody=_body(
                    ["code"], code="6 digits from the app", two_factor_token=TOKEN_NOTE
                ),
            ),
            "/api/auth/two-factor/disable": _operation(
                "post",
                "auth_two_factor_disable",
                "Turn two-factor sign-in off",
                {
                    "204": {"description": "Off"},
                    "401": _error("Not signed in"),
                    "403": _error("Wrong password, or one's role requires two-factor sign-in"),
                    "422": _error("The code is wrong"),
                },
                requestBody=_body(["password", "code"], password="the password now", code="a code"),
            ),
            "/api/auth/two-factor/recovery-codes": _operation(
                "post",
                "auth_two_factor_recovery_codes",
                "A new set of recovery codes (the old ones end)",
                {
                    "200": _json(CODES, "The new codes"),
                    "401": _error("Not signed in"),
                    "403": _error("Wrong password"),
                    "409": _error("Two-factor sign-in is off"),
                },
                requestBody=_body(["password"], password="the password now"),
            ),
        }
    )
    return paths
