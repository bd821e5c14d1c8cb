"""The sign-in endpoints of an app, ``routes(catalog)``, mounted at ``/api/auth``.

``POST /login`` {email, password} -> a bearer token, the session cookie and its CSRF token;
``POST /logout``; ``GET /me``; ``POST /password-reset`` {email} (always 202, may mail a link);
``POST /password-reset/confirm`` {token, password}. The endpoints that need no session take
JSON only (else 415): a cross-site form cannot send it. The work is ``crmgen_runtime.auth``'s,
on the thread pool.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import auth, credentials, passwords
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser, require_user
from crmgen_runtime.resources import Catalog

JSON_MEDIA_TYPE = "application/json"
IP_LENGTH = 45  # the longest text form of an IPv6 address


def client_of(request: Request) -> tuple[str | None, str | None]:
    """The client's IP address and user agent, as the sign-in log keeps them."""
    ip = request.client.host if request.client else None
    agent = request.headers.get("user-agent")
    return (None if ip is None else ip[:IP_LENGTH]), agent


def require_json(request: Request) -> None:
    """A 415 unless the body is declared ``application/json`` (parameters such as charset
    allowed): a cross-site form can send a body, but not of that type."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        raise ApiError(
            415,
            "unsupported_media_type",
            "Send the body as JSON, with the header Content-Type: application/json.",
        )


async def json_body(request: Request, *names: str) -> dict[str, str]:
    """The request's JSON object, each of ``names`` a non-empty string (else 422).

    JSON only (else 415): these endpoints need no session, so nothing else keeps a cross-site
    form from posting to them.
    """
    require_json(request)
    try:
        data = await request.json()
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python goes
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The request body must be a JSON object.")
    missing = {
        name: "This field is required (a string)."
        for name in names
        if not isinstance(data.get(name), str) or not data[name].strip()
    }
    if missing:
        raise ApiError(422, "validation_error", "Some fields are invalid.", missing)
    return {name: data[name] for name in names}


async def optional_text(request: Request, name: str) -> str | None:
    """The string ``name`` of the request's JSON object (read already), or None (422 when it is
    there and not a string)."""
    data = await request.json()
    value = data.get(name)
    if value is None or isinstance(value, str):
        return value
    problem = "Must be a string."
    raise ApiError(422, "validation_error", "Some fields are invalid.", {name: problem})


def signed_in(request: Request, token: str, **more: Any) -> Response:
    """The answer of a sign-in: the bearer token, the CSRF token, the session cookie."""
    csrf = credentials.session_csrf_token(request.app, token)
    answer = {"access_token": token, "token_type": "bearer", "csrf_token": csrf, **more}
    response = JSONResponse(answer)
    credentials.set_session_cookie(request, response, token)
    response.headers["Cache-Control"] = "no-store"
    return response


def _json_ready(value: Any) -> Any:
    """``value`` as JSON can carry it (dates as ISO 8601, decimals as strings)."""
    if isinstance(value, dt.datetime):
        return (auth.aware(value) or value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def describe(user: CurrentUser) -> dict[str, Any]:
    """The JSON of ``user``: the spec's extra fields, then id, email, name and roles."""
    data = {column: _json_ready(value) for column, value in user.extra.items()}
    data.update(
        id=user.id,
        email=user.email,
        name=user.name,
        roles=sorted(user.roles),
        superuser=user.superuser,
        locale=user.locale,
    )
    return data


def public_url(request: Request) -> str:
    """The base of links in e-mails: ``PUBLIC_URL``. Only in local development without one,
    the address the request came to (its host is an allowed one, see hosts.py)."""
    settings = request.app.state.settings
    if settings.public_url:
        return str(settings.public_url)
    if not getattr(settings, "development", False):
        raise RuntimeError("PUBLIC_URL is not set")  # settings.check refuses to start without
    return str(request.base_url).rstrip("/")


async def mail_reset_link(catalog: Catalog, request: Request, email: str) -> None:
    """``auth.request_reset`` for ``request``: its link from ``public_url``, counted against
    the client's address, within the app's limits."""
    await run_in_threadpool(
        functools.partial(
            auth.request_reset,
            catalog,
            request.app.state.db,
            email,
            public_url(request),
            address=client_of(request)[0],
            limits=auth.reset_limits(catalog, request.app),
        )
    )


def routes(catalog: Catalog) -> list[BaseRoute]:
    """The sign-in routes of ``catalog``'s app, relative to ``/api/auth``."""

    async def login(request: Request) -> Response:
        """``POST /api/auth/login`` {email, password, code?} -> a bearer token and a cookie.

        Also the CSRF token that requests signed in by that cookie send as X-CSRF-Token. A user
        with two-factor sign-in adds ``code``, or answers the 401 ``two_factor_required`` at
        ``POST /api/auth/login/code`` (``account_security``).
        """
        body = await json_body(request, "email", "password")
        code = await optional_text(request, "code")
        ip, agent = client_of(request)
        database: Database = request.app.state.db
        token = await run_in_threadpool(
            auth.sign_in, catalog, database, body["email"], body["password"], ip, agent, code
        )
        return signed_in(request, token)

    async def logout(request: Request) -> Response:
        """``POST /api/auth/logout``: revokes the request's session, clears the cookie."""
        token = credentials.request_token(request.scope)
        if token:
            await run_in_threadpool(auth.sign_out, catalog, request.app.state.db, token)
        response = Response(status_code=204)
        credentials.clear_session_cookie(response)
        return response

    async def me(request: Request) -> Response:
        """``GET /api/auth/me``: the signed-in user."""
        return JSONResponse(describe(await require_user(request)))

    async def password_reset(request: Request) -> Response:
        """``POST /api/auth/password-reset`` {email}: always 202; may e-mail a link (at most
        so many per account and per client address: the settings ``RESET_MAIL_*``)."""
        body = await json_body(request, "email")
        await mail_reset_link(catalog, request, body["email"])
        return JSONResponse(
            {"status": "accepted", "message": "If the account exists, an e-mail is on its way."},
            status_code=202,
        )

    async def password_reset_confirm(request: Request) -> Response:
        """``POST /api/auth/password-reset/confirm`` {token, password}: a new password."""
        body = await json_body(request, "token", "password")
        problem = passwords.password_problem(body["password"])
        if problem:
            raise ApiError(422, "validation_error", problem, {"password": problem})
        done = await run_in_threadpool(
            auth.confirm_reset, catalog, request.app.state.db, body["token"], body["password"]
        )
        if not done:
            message = "The reset link is invalid, used or expired: ask for a new one."
            raise ApiError(400, "invalid_token", message, {"token": message})
        return Response(status_code=204)

    return [
        Route("/login", login, methods=["POST"], name="auth_login"),
        Route("/logout", logout, methods=["POST"], name="auth_logout"),
        Route("/me", me, methods=["GET"], name="auth_me"),
        Route("/password-reset", password_reset, methods=["POST"], name="auth_password_reset"),
        Route(
            "/password-reset/confirm",
            password_reset_confirm,
            methods=["POST"],
            name="auth_password_reset_confirm",
        ),
    ]
