"""What a request carries to say who is asking: a bearer token or the signed session cookie, and
the CSRF token of requests signed in by the cookie; ``AuthMiddleware`` reads them.

API clients send the session token as ``Authorization: Bearer <token>``; the web UI gets it in
an HttpOnly cookie signed with ``SECRET_KEY`` (HMAC-SHA256). A request with exactly one bearer
header is signed in by that token alone; any other request by the cookie, and then a
state-changing ``/api`` request must carry the session's CSRF token (an HMAC of the session,
so nothing is stored). The endpoints that need no session take JSON only (a cross-site form
cannot send it).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request, cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from crmgen_runtime import auth, principal
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError, error_response
from crmgen_runtime.resources import Catalog

log = logging.getLogger(__name__)

COOKIE_NAME = "session"
# Local development without SECRET_KEY: a random key kept in the working folder.
SECRET_KEY_FILE = ".secret_key"
CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# An anonymous CSRF cookie of another length was not made here: a new one is.
CSRF_COOKIE_LENGTHS = range(20, 101)
LOGIN_PATH = "/api/auth/login"
# the sign-in and its second step (account_security): JSON only, no session needed
SIGN_IN_PATHS = frozenset({LOGIN_PATH, LOGIN_PATH + "/code"})
API_KEY_HEADER = b"x-api-key"
# Of /api/auth (sign-in, sessions, one's own account), an API key may only ask who it is.
KEY_AUTH_PATHS = frozenset({"/api/auth/me"})


# --- the signed cookie --------------------------------------------------------------------------


def secret_key(app: Any) -> bytes:
    """The app's ``SECRET_KEY``; in local development without one, a development key file's.

    Outside local development the app does not start without a strong key (settings.check).
    """
    settings = app.state.settings
    if settings.secret_key:
        return str(settings.secret_key).encode("utf-8")
    if not getattr(settings, "development", False):
        raise RuntimeError("SECRET_KEY is not set")
    return _development_key(Path.cwd() / SECRET_KEY_FILE)


@functools.cache
def _development_key(path: Path) -> bytes:
    """A random key kept in ``path`` (made 0600 on first use): sessions persist, and every
    process of ``serve`` (WEB_CONCURRENCY) signs with the same key. The key is written to a
    file of this process's own, then linked to ``path`` (which fails when another process was
    first): ``path`` never exists without its key."""
    if not path.exists():
        draft = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: its key counts
        finally:
            draft.unlink()
    key = path.read_text(encoding="utf-8").strip()
    log.warning(
        "SECRET_KEY is not set: local development, using the key in %s "
        "(keep it out of version control)",
        path,
    )
    return key.encode("utf-8")


def _signature(key: bytes, token: str) -> str:
    mac = hmac.new(key, b"session:" + token.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def sign_token(key: bytes, token: str) -> str:
    """The cookie value for ``token``: ``token.signature``."""
    return f"{token}.{_signature(key, token)}"


def unsign_token(key: bytes, value: str) -> str | None:
    """The token inside a cookie value, or None when the signature is wrong."""
    token, _, signature = value.rpartition(".")
    if not token or not hmac.compare_digest(signature, _signature(key, token)):
        return None
    return token


def cookies_secure(request: Request) -> bool:
    """Whether cookies get ``Secure``: the request came over https (directly, or through a
    proxy named in FORWARDED_ALLOW_IPS), or users come over https (``PUBLIC_URL``)."""
    settings = getattr(request.app.state, "settings", None)
    return request.url.scheme == "https" or bool(getattr(settings, "secure_cookies", False))


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """Put the signed session cookie of ``token`` on ``response`` (HttpOnly, SameSite=Lax)."""
    response.set_cookie(
        COOKIE_NAME,
        sign_token(secret_key(request.app), token),
        max_age=int(auth.SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookies_secure(request),
    )


def clear_session_cookie(response: Response) -> None:
    """Tell the browser to drop the session cookie."""
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")


# --- the token of a request ---------------------------------------------------------------------


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of the header ``name`` (lower case) of a request, or None."""
    for key, value in scope.get("headers", ()):
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None


def bearer(scope: Scope) -> str | None:
    """The token of the request's only ``Authorization: Bearer <token>`` header, else None.

    An empty or blank bearer, another scheme or several ``Authorization`` headers are no
    bearer token: such a request is signed in by its cookie, if at all (and CSRF-checked).
    """
    values = [value for name, value in scope.get("headers", ()) if name == b"authorization"]
    if len(values) != 1:
        return None
    scheme, _, token = values[0].decode("latin-1").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def credentials(scope: Scope, key_source: Any = None) -> tuple[str | None, bool]:
    """The session token of a request and whether it came from the cookie.

    A bearer token alone says who is asking (a wrong one is anonymous: the cookie is not
    looked at then); without one, the signed cookie's token. The cookie's key is that of
    ``key_source`` (an app), else of the request's app.
    """
    found = bearer(scope)
    if found is not None:
        return found, False
    cookies = header(scope, b"cookie")
    value = cookie_parser(cookies).get(COOKIE_NAME) if cookies else None
    if not value:
        return None, False
    return unsign_token(secret_key(key_source or scope.get("app")), value), True


def request_token(scope: Scope, key_source: Any = None) -> str | None:
    """The session token of a request: the bearer token, else the signed cookie's."""
    return credentials(scope, key_source)[0]


def api_key(scope: Scope) -> str | None:
    """The API key a request sends: its ``X-API-Key`` header, else a bearer token that starts
    with ``crm_`` (``api_keys.PREFIX``); None without one."""
    from crmgen_runtime.api_keys import PREFIX

    sent = header(scope, API_KEY_HEADER)
    if sent is not None:
        return sent.strip() or None
    found = bearer(scope)
    if found is not None and found.startswith(PREFIX):
        return found
    return None


def takes_keys(scope: Scope) -> bool:
    """Whether an API key may sign in this request: the API's paths, but the sign-in and
    account ones (``/api/auth``, where only ``/api/auth/me`` takes a key); never a web page."""
    path: str = scope.get("path", "")
    if not path.startswith("/api/"):
        return False
    return not path.startswith("/api/auth/") or path in KEY_AUTH_PATHS


# --- CSRF tokens --------------------------------------------------------------------------------


def _csrf_basis(request: Request, *, create: bool) -> str | None:
    token = request_token(request.scope)
    if token:
        return "session:" + token
    anonymous = request.cookies.get(CSRF_COOKIE, "")
    if len(anonymous) in CSRF_COOKIE_LENGTHS:
        return "anonymous:" + anonymous
    if not create:
        return None
    fresh = secrets.token_urlsafe(24)
    request.state.new_csrf_cookie = fresh
    return "anonymous:" + fresh


def _csrf_of(key: bytes, basis: str) -> str:
    return hmac.new(key, b"csrf:" + basis.encode("utf-8"), hashlib.sha256).hexdigest()


def session_csrf_token(app: Any, token: str) -> str:
    """The CSRF token of the session ``token``."""
    return _csrf_of(secret_key(app), "session:" + token)


def csrf_token(request: Request, *, create: bool = True) -> str | None:
    """The CSRF token of the request's session (or, before signing in, of a random cookie
    that ``set_csrf_cookie`` sets): an HMAC, so nothing is stored."""
    cached: str | None = getattr(request.state, "csrf_token", None)
    if cached:
        return cached
    basis = _csrf_basis(request, create=create)
    if basis is None:
        return None
    token = _csrf_of(secret_key(request.app), basis)
    request.state.csrf_token = token
    return token


def csrf_matches(request: Request, given: str) -> bool:
    """Whether ``given`` is the request's CSRF token (compared in constant time)."""
    expected = csrf_token(request, create=False)
    if not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def set_csrf_cookie(request: Request, response: Response) -> None:
    """Set the anonymous CSRF cookie when this request made one up."""
    fresh = getattr(request.state, "new_csrf_cookie", None)
    if fresh:
        response.set_cookie(
            CSRF_COOKIE,
            fresh,
            path="/",
            httponly=True,
            samesite="lax",
            secure=cookies_secure(request),
        )


def needs_csrf(scope: Scope) -> bool:
    """Whether a request signed in by the cookie must carry the CSRF header: state-changing
    ``/api`` requests but the sign-in (JSON only: no cross-site form can send it)."""
    return (
        scope["type"] == "http"
        and scope["method"] not in SAFE_METHODS
        and scope["path"].startswith("/api/")
        and scope["path"] not in SIGN_IN_PATHS
    )


async def _refuse_csrf(scope: Scope, receive: Receive, send: Send) -> None:
    message = (
        "A request signed in by the session cookie must send the X-CSRF-Token header (the "
        "page's csrf-token meta tag)."
    )
    await error_response(ApiError(403, "csrf", message), scope)(scope, receive, send)


# --- the middleware -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionLookup:
    """The pending lookup of a request's session token (``principal.USER_LOOKUP``): on a
    connection of its own when called, or on the caller's (``on``), which saves the hot
    reads a connection per request (``crud``)."""

    catalog: Catalog
    database: Database
    token: str

    def __call__(self) -> principal.CurrentUser | None:
        return auth.load_user(self.catalog, self.database, self.token)

    def on(self, connection: sa.Connection) -> principal.CurrentUser | None:
        return auth.user_on(connection, self.catalog, self.token)


class AuthMiddleware:
    """Pure ASGI: finds the session token of each request (bearer header or cookie).

    A state-changing ``/api`` request signed in by the cookie (any request without exactly
    one bearer token, whatever else its ``Authorization`` says) must carry the session's
    CSRF token in ``X-CSRF-Token`` (the web UI's scripts send it); otherwise it is a 403.

    The token is looked up later, on the worker thread that serves the request
    (``principal.user_of``), so a request costs one hop to the thread pool, not two: the
    user of ``catalog``'s app (``auth.load_user``). The database is ``database`` when given,
    else the Starlette app's ``state.db``. A missing, expired, revoked or forged token means
    an anonymous request; the endpoints decide on a 401.
    """

    def __init__(self, app: ASGIApp, *, catalog: Catalog, database: Database | None = None):
        self.app = app
        self.catalog = catalog
        self.database = database
        # an app whose spec turns API keys off reads a key as any other (unknown) token
        self.takes_keys = catalog.config.api_keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            state = scope.setdefault("state", {})
            state["user"] = None
            key = api_key(scope) if scope["type"] == "http" and self.takes_keys else None
            if key is not None:
                await self._by_key(key, scope, receive, send)
                return
            token, by_cookie = credentials(scope)
            if token:
                database = self.database or scope["app"].state.db
                lookup = SessionLookup(self.catalog, database, token)
                state[principal.USER_LOOKUP] = lookup
                if (
                    by_cookie
                    and needs_csrf(scope)
                    and not csrf_matches(Request(scope), header(scope, CSRF_HEADER.encode()) or "")
                ):
                    await _refuse_csrf(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _by_key(self, key: str, scope: Scope, receive: Receive, send: Send) -> None:
        """A request that sends an API key: signed in by the key alone (its service user) where
        keys are taken (``takes_keys``), anonymous elsewhere; the cookie is never looked at, so
        no CSRF token is needed. The key's last use is written after the answer."""
        from crmgen_runtime.api_keys import STATE, KeyLookup

        state = scope["state"]
        state[STATE] = True
        database = self.database or scope["app"].state.db
        if not takes_keys(scope):
            await self.app(scope, receive, send)
            return
        lookup = KeyLookup(self.catalog, database, key)
        state[principal.USER_LOOKUP] = lookup
        try:
            await self.app(scope, receive, send)
        finally:
            if lookup.stale is not None:
                await run_in_threadpool(lookup.touch)
