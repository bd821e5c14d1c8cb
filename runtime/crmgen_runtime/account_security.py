"""One's own sign-in security over the API: two-factor sign-in, and one's sessions.

Routes (``routes(catalog)``, mounted at ``/api/auth`` beside ``auth_routes`` and ``profile``):

- ``POST /login/code`` {two_factor_token, code}: the second step of a sign-in (the token is in
  the 401 ``two_factor_required`` of ``POST /login``) -> what ``POST /login`` answers.
- ``GET /two-factor`` -> {available, enabled, required, recovery_codes_left}.
- ``POST /two-factor/setup`` -> {secret, otpauth_uri}: signed in, or with the token of a 403
  ``two_factor_setup_required`` (a role that requires it, not set up yet).
- ``POST /two-factor/confirm`` {code} -> {recovery_codes} (shown once); with that token, it
  also signs in (the answer and cookie of ``POST /login``).
- ``POST /two-factor/disable`` {password, code} -> 204 (403 when one's role requires it).
- ``POST /two-factor/recovery-codes`` {password} -> {recovery_codes}: a new set.
- ``GET /sessions`` -> {items: [{id, created_at, expires_at, ip, user_agent, current}]}: one's
  live sessions; ``DELETE /sessions/{id}`` ends one of them (someone else's: 404).

Every body is JSON (415 otherwise): the token routes need no session, so nothing else keeps a
cross-site form from posting to them. Blocking work runs off the event loop.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import auth, auth_routes, credentials, twofactor
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError, not_found
from crmgen_runtime.principal import CurrentUser, require_user
from crmgen_runtime.resources import Catalog
from crmgen_runtime.tables import UserSessionTable, utcnow

WRONG_PASSWORD = "The current password is wrong."


# --- the blocking work ------------------------------------------------------------------------


def check_password(
    catalog: Catalog, session: Session, user: CurrentUser, password: str, client: Any
) -> ApiError | None:
    """``password`` checked as a sign-in of ``user`` (lockout, log): the error, or None."""
    ip, agent = client
    outcome = auth.authenticate(
        catalog, session, user.email, password, ip=ip, user_agent=agent, second_factor=False
    )
    if outcome.error is None:
        return None
    if outcome.error.code == "invalid_credentials":
        return ApiError(403, "wrong_password", WRONG_PASSWORD, {"password": WRONG_PASSWORD})
    return outcome.error


def two_factor_state(catalog: Catalog, database: Database, user_id: int) -> dict[str, Any]:
    with database.session() as session:
        found = twofactor.state(catalog, session, user_id)
    return {
        "available": catalog.config.two_factor,
        "enabled": found.enabled,
        "required": found.required,
        "recovery_codes_left": found.recovery_left,
    }


def start_setup(
    catalog: Catalog,
    database: Database,
    user: CurrentUser | None,
    token: str | None,
    again: bool = False,
) -> twofactor.Setup:
    """A new secret for the signed-in ``user``, or for the user of a setup ``token``
    (``again``: the one started, to retry a mistyped code)."""
    with database.session() as session:
        user_id, email = _who(catalog, session, user, token)
        return twofactor.setup(catalog, session, user_id, email, again=again)


def _who(
    catalog: Catalog, session: Session, user: CurrentUser | None, token: str | None
) -> tuple[int, str]:
    if token:
        user_id = twofactor.token_user(catalog, session, token, utcnow())
        if user_id is None:
            raise ApiError(401, "invalid_token", "The sign-in expired: sign in again.")
        model = auth.user_model(catalog)
        email = session.scalar(sa.select(model.email).where(model.id == user_id))
        return user_id, str(email)
    if user is None:
        raise ApiError(401, "unauthorized", "Sign in first.")
    return user.id, user.email


def confirm_setup(
    catalog: Catalog,
    database: Database,
    user: CurrentUser | None,
    token: str | None,
    code: str,
    client: Any,
) -> tuple[list[str], str | None]:
    """Turns two-factor on: the recovery codes, and a session token when ``token`` signed in."""
    ip, agent = client
    with database.session() as session:
        user_id, email = _who(catalog, session, user, token)
        codes = twofactor.confirm(catalog, session, user_id, code)
        started = None
        if token:
            started = auth.start_session(catalog, session, user_id, ip=ip, user_agent=agent)
            auth.log_attempt(catalog, session, utcnow(), email, user_id, ip, agent, "ok")
    return codes, started


def disable(
    catalog: Catalog, database: Database, user: CurrentUser, password: str, code: str, client: Any
) -> None:
    with database.session() as session:
        error = check_password(catalog, session, user, password, client)
        if error is None:
            twofactor.disable(catalog, session, user.id, code)
    if error is not None:  # after the commit: the failed attempt stays counted
        raise error


def new_codes(
    catalog: Catalog, database: Database, user: CurrentUser, password: str, client: Any
) -> list[str]:
    with database.session() as session:
        error = check_password(catalog, session, user, password, client)
        codes = [] if error is not None else twofactor.new_recovery_codes(catalog, session, user.id)
    if error is not None:
        raise error
    return codes


def live_sessions(
    catalog: Catalog, database: Database, user_id: int, current: str | None
) -> list[dict[str, Any]]:
    """``user_id``'s live sessions, the newest first; ``current`` marks the caller's."""
    model = catalog.table(UserSessionTable)
    mine = auth.digest(current) if current else None
    with database.session() as session:
        rows = session.execute(
            sa.select(model)
            .where(
                model.user_id == user_id,
                model.revoked_at.is_(None),
                model.expires_at > utcnow(),
            )
            .order_by(model.created_at.desc(), model.id.desc())
        ).scalars()
        return [
            {
                "id": row.id,
                "created_at": _iso(row.created_at),
                "expires_at": _iso(row.expires_at),
                "ip": row.ip,
                "user_agent": row.user_agent,
                "current": row.token_hash == mine,
            }
            for row in rows
        ]


def _iso(value: dt.datetime) -> str:
    return auth.iso(auth.aware(value) or value)


def end_session(catalog: Catalog, database: Database, user_id: int, session_id: int) -> None:
    """Ends ``user_id``'s own session ``session_id``; 404 for anyone else's or an ended one."""
    model = catalog.table(UserSessionTable)
    with database.session() as session:
        done = session.execute(
            sa.update(model)
            .where(model.id == session_id, model.user_id == user_id, model.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            raise not_found("session")


# --- HTTP -------------------------------------------------------------------------------------


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object of the request (415 when not JSON, 400 when not an object)."""
    auth_routes.require_json(request)
    try:
        data = await request.json()
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The request body must be a JSON object.")
    return data


def _text(data: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        problem = "This field is required (a string)."
        raise ApiError(422, "validation_error", "Some fields are invalid.", {name: problem})
    return value


def routes(catalog: Catalog) -> list[BaseRoute]:
    """The routes of one's sign-in security for the app of ``catalog`` (below ``/api/auth``)."""

    async def login_code(request: Request) -> Response:
        data = await _body(request)
        token, code = _text(data, "two_factor_token"), _text(data, "code")
        ip, agent = auth_routes.client_of(request)
        session_token = await run_in_threadpool(
            auth.finish_sign_in, catalog, request.app.state.db, token, code, ip, agent
        )
        return auth_routes.signed_in(request, session_token)

    async def state(request: Request) -> Response:
        user = await require_user(request)
        found = await run_in_threadpool(two_factor_state, catalog, request.app.state.db, user.id)
        return JSONResponse(found)

    async def setup(request: Request) -> Response:
        data = await _body(request)
        token = _text(data, "two_factor_token", required=False)
        user = None if token else await require_user(request)
        made = await run_in_threadpool(start_setup, catalog, request.app.state.db, user, token)
        return JSONResponse({"secret": made.secret, "otpauth_uri": made.uri})

    async def confirm(request: Request) -> Response:
        data = await _body(request)
        token = _text(data, "two_factor_token", required=False)
        code = _text(data, "code")
        user = None if token else await require_user(request)
        client = auth_routes.client_of(request)
        codes, started = await run_in_threadpool(
            confirm_setup, catalog, request.app.state.db, user, token, code, client
        )
        if started is None:
            return JSONResponse({"recovery_codes": codes})
        return auth_routes.signed_in(request, started, recovery_codes=codes)

    async def turn_off(request: Request) -> Response:
        user = await require_user(request)
        data = await _body(request)
        password, code = _text(data, "password"), _text(data, "code")
        client = auth_routes.client_of(request)
        await run_in_threadpool(
            disable, catalog, request.app.state.db, user, password, code, client
        )
        return Response(status_code=204)

    async def recovery_codes(request: Request) -> Response:
        user = await require_user(request)
        password = _text(await _body(request), "password")
        client = auth_routes.client_of(request)
        codes = await run_in_threadpool(
            new_codes, catalog, request.app.state.db, user, password, client
        )
        return JSONResponse({"recovery_codes": codes})

    async def sessions(request: Request) -> Response:
        user = await require_user(request)
        current = credentials.request_token(request.scope)
        items = await run_in_threadpool(
            live_sessions, catalog, request.app.state.db, user.id, current
        )
        return JSONResponse({"items": items})

    async def end(request: Request) -> Response:
        user = await require_user(request)
        try:
            session_id = int(request.path_params["id"])
        except ValueError:
            raise not_found("session") from None
        await run_in_threadpool(end_session, catalog, request.app.state.db, user.id, session_id)
        return Response(status_code=204)

    return [
        Route("/login/code", login_code, methods=["POST"], name="auth_login_code"),
        Route("/two-factor", state, methods=["GET"], name="auth_two_factor"),
        Route("/two-factor/setup", setup, methods=["POST"], name="auth_two_factor_setup"),
        Route("/two-factor/confirm", confirm, methods=["POST"], name="auth_two_factor_confirm"),
        Route("/two-factor/disable", turn_off, methods=["POST"], name="auth_two_factor_disable"),
        Route(
            "/two-factor/recovery-codes",
            recovery_codes,
            methods=["POST"],
            name="auth_two_factor_recovery_codes",
        ),
        Route("/sessions", sessions, methods=["GET"], name="auth_sessions"),
        Route("/sessions/{id}", end, methods=["DELETE"], name="auth_session_end"),
    ]
