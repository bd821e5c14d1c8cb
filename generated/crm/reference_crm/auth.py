"""Users and signing in: argon2 password hashes, sessions, lockout and password reset.

A session is an opaque random token; the database keeps only its SHA-256. API clients
send it as ``Authorization: Bearer <token>``; the web UI gets it in an HttpOnly cookie
signed with ``SECRET_KEY`` (HMAC-SHA256). ``AuthMiddleware`` finds either, and ``user_of``
turns it into a ``CurrentUser`` (or None) with one indexed query on the request's worker thread.
After 5 failed sign-ins in a row an account is locked for 30 minutes,
and so is an e-mail without an account (counted in the sign-in log); every attempt is logged
with its IP address and user agent. Every attempt does the same password work (one argon2
verification), so neither the answer nor its time tells whether an account exists.

A request with exactly one ``Authorization: Bearer <token>`` header is signed in by that token
alone; any other request by the cookie, and then a state-changing ``/api`` request must carry
the session's CSRF token. The endpoints that need no session take JSON only (a cross-site form
cannot send it). Password-reset mail is limited per account and per client address
(``throttle``, in the database).

Routes (mounted at ``/api/auth``): ``POST /login``, ``POST /logout``, ``GET /me``,
``POST /password-reset`` and ``POST /password-reset/confirm``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import functools
import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from crmgen_runtime import principal
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request, cookie_parser
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from reference_crm import throttle
from reference_crm.models import (
    EmailChange,
    LoginAttempt,
    OutboxMessage,
    PasswordReset,
    User,
    UserRole,
    UserSession,
    utcnow,
)
from reference_crm.settings import (
    LOCKOUT_ATTEMPTS,
    LOCKOUT_MINUTES,
    Settings,
    load_settings,
)

__all__ = [
    "AuthMiddleware",
    "CurrentUser",
    "SignIn",
    "authenticate",
    "create_user",
    "hash_password",
    "password_problem",
    "routes",
    "start_session",
    "verify_password",
]

log = logging.getLogger(__name__)

ROLES = frozenset(["admin", "manager", "sales", "support"])
SUPERUSER_ROLES = frozenset(["admin"])
# The spec's own User fields (columns), beyond id, email, name and active.
EXTRA_COLUMNS: tuple[str, ...] = ("position_id", "phone", "telegram_chat", "hired_on")

COOKIE_NAME = "session"
SESSION_LIFETIME = dt.timedelta(hours=12)
RESET_LIFETIME = dt.timedelta(hours=1)
LOCKOUT = dt.timedelta(minutes=LOCKOUT_MINUTES)
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 1024
EMAIL_LOG_LENGTH = 254  # login_attempts.email
JSON_MEDIA_TYPE = "application/json"
# Local development without SECRET_KEY: a random key kept in the working folder.
SECRET_KEY_FILE = ".secret_key"

# argon2id with the library's defaults (RFC 9106 low-memory profile); tests may swap it.
hasher = PasswordHasher()


# --- passwords ----------------------------------------------------------------


def password_problem(password: object) -> str | None:
    """Why ``password`` is not acceptable, or None when it is."""
    if not isinstance(password, str) or not password:
        return "A password is required."
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"The password must have at least {PASSWORD_MIN_LENGTH} characters."
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"The password must have at most {PASSWORD_MAX_LENGTH} characters."
    return None


def hash_password(password: str) -> str:
    """The argon2id hash of ``password``."""
    return hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches the ``stored`` hash; one argon2 verification whatever
    ``stored`` is (a missing or unreadable hash: against a dummy one, False)."""
    if not stored:
        return _dummy_verify(password)
    try:
        return hasher.verify(stored, password)
    except InvalidHashError:
        return _dummy_verify(password)
    except VerificationError:
        return False


@functools.cache
def _dummy_hash(of: Any) -> str:
    """A hash in the format and at the cost of the hasher ``of`` that no password matches:
    random bytes, not computed, so even the first use costs only the verification."""
    salt, digest = (
        base64.b64encode(secrets.token_bytes(size)).decode("ascii").rstrip("=")
        for size in (of.salt_len, of.hash_len)
    )
    cost = f"m={of.memory_cost},t={of.time_cost},p={of.parallelism}"
    return f"$argon2{of.type.name.lower()}$v=19${cost}${salt}${digest}"


def _dummy_verify(password: str) -> bool:
    """Spend the time a real check takes (an unknown e-mail cannot be told by timing); False."""
    with contextlib.suppress(VerificationError, InvalidHashError):
        hasher.verify(_dummy_hash(hasher), password)
    return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` in UTC (SQLite hands back naive datetimes)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _iso(value: dt.datetime) -> str:
    return (
        value.astimezone(dt.UTC)
        .replace(microsecond=0)
        .isoformat()
        .replace("+00:00", "Z")
    )


def json_ready(value: Any) -> Any:
    """``value`` as JSON can carry it (dates as ISO 8601, decimals as strings)."""
    if isinstance(value, dt.datetime):
        return (_aware(value) or value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


# --- users --------------------------------------------------------------------


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    roles: Iterable[str] = (),
    name: str | None = None,
) -> User:
    """Add a user with an argon2 password hash and ``roles``; flushed, not committed.

    Without a ``name`` the user is named by the e-mail's local part.

    Raises ValueError for an empty e-mail, a password that breaks the rules, an unknown
    role or an e-mail that is taken.
    """
    email = normalize_email(email)
    if not email or "@" not in email:
        raise ValueError(f"{email!r} is not an e-mail address")
    problem = password_problem(password)
    if problem:
        raise ValueError(problem)
    wanted = sorted(set(roles))
    unknown = [r for r in wanted if r not in ROLES]
    if unknown:
        known = ", ".join(sorted(ROLES))
        raise ValueError(f"unknown role {unknown[0]!r} (the roles are: {known})")
    taken = session.scalar(
        sa.select(User.id).where(sa.func.lower(User.email) == email).limit(1)
    )
    if taken is not None:
        raise ValueError(f"a user with the e-mail {email} exists already")
    name = name or email.partition("@")[0]  # shown wherever the user is named
    user = User(email=email, name=name, password_hash=hash_password(password))
    user.roles = wanted
    session.add(user)
    session.flush()
    return user


def _find_user(session: Session, email: str) -> User | None:
    return session.scalars(
        sa.select(User)
        .where(sa.func.lower(User.email) == email)
        .order_by(User.id)
        .limit(1)
    ).first()


def _update_user(user_id: int, **values: Any) -> sa.Update:
    """An UPDATE of sign-in bookkeeping that leaves ``version`` and updated_at alone."""
    values.setdefault("updated_at", User.updated_at)
    return sa.update(User).where(User.id == user_id).values(**values)


# --- signing in ---------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: the user id, or the error to answer with."""

    user_id: int | None
    error: ApiError | None = None


def _locked_error(until: dt.datetime) -> ApiError:
    wait = max(1, int((until - utcnow()).total_seconds()) + 1)
    return ApiError(
        423,
        "account_locked",
        f"Too many failed sign-in attempts: the account is locked until {_iso(until)}. "
        "Try again later or reset the password.",
        headers={"Retry-After": str(wait)},
    )


def authenticate(
    session: Session,
    email: str,
    password: str,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
) -> SignIn:
    """Check ``email``/``password``, apply the lockout rules and log the attempt.

    Every path does one argon2 verification, before anything is locked or written: an
    unknown e-mail, a locked or deactivated account and a missing password cost what a
    wrong or a right password does. An unknown e-mail is locked like an account (see
    ``_unknown_failure``), so the answers are alike too.

    Everything is written through ``session`` (the caller commits, also on failure: the
    failed-attempt counter and the log must be kept).
    """
    email = normalize_email(email)
    now = utcnow()
    user = _find_user(session, email)
    matches = verify_password(None if user is None else user.password_hash, password)
    outcome: SignIn
    if user is None:
        reason, outcome = _unknown_failure(session, email[:EMAIL_LOG_LENGTH], now)
    elif (until := _aware(user.locked_until)) is not None and until > now:
        reason, outcome = "locked", SignIn(None, _locked_error(until))
    elif not matches:
        reason = "bad_password" if user.password_hash else "no_password"
        outcome = _count_failure(session, user.id, now)
    elif user.active is not True:
        reason, outcome = "inactive", SignIn(None, _inactive())
    else:
        reason, outcome = "ok", SignIn(user.id)
        values: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
        if user.password_hash and hasher.check_needs_rehash(user.password_hash):
            values["password_hash"] = hash_password(password)
        session.execute(_update_user(user.id, **values))
    session.add(
        LoginAttempt(
            at=now,
            email=email[:EMAIL_LOG_LENGTH],
            user_id=None if user is None else user.id,
            ip=ip,
            user_agent=None if user_agent is None else user_agent[:512],
            success=reason == "ok",
            reason=reason,
        )
    )
    session.flush()
    return outcome


def _unknown_failure(
    session: Session, email: str, now: dt.datetime
) -> tuple[str, SignIn]:
    """A failed attempt on an e-mail without an account, locked as an account would be.

    Its failures are its ``unknown_email`` rows of the sign-in log (attempts made while it
    is locked are logged as ``locked`` and do not count); each ``LOCKOUT_ATTEMPTS``-th locks
    the e-mail for ``LOCKOUT`` from its own time, as the counter of an account would.
    Attempts on e-mails of one stripe take turns (``throttle.lock``), so parallel attempts
    count exactly as an account's do.
    """
    throttle.lock(session, throttle.stripe("login", email), now)
    failures, last = session.execute(
        sa.select(sa.func.count(), sa.func.max(LoginAttempt.at)).where(
            LoginAttempt.email == email,
            LoginAttempt.user_id.is_(None),
            LoginAttempt.reason == "unknown_email",
        )
    ).one()
    if failures and failures % LOCKOUT_ATTEMPTS == 0:
        until = (_aware(last) or now) + LOCKOUT
        if until > now:
            return "locked", SignIn(None, _locked_error(until))
    if (failures + 1) % LOCKOUT_ATTEMPTS == 0:
        return "unknown_email", SignIn(None, _locked_error(now + LOCKOUT))
    return "unknown_email", SignIn(None, _bad_credentials())


def _count_failure(session: Session, user_id: int, now: dt.datetime) -> SignIn:
    """One more failed attempt; the last one allowed locks the account."""
    reached = User.failed_logins + 1 >= LOCKOUT_ATTEMPTS
    until = now + LOCKOUT
    session.execute(
        _update_user(
            user_id,
            failed_logins=sa.case((reached, 0), else_=User.failed_logins + 1),
            locked_until=sa.case((reached, until), else_=User.locked_until),
        )
    )
    locked = _aware(
        session.scalar(sa.select(User.locked_until).where(User.id == user_id))
    )
    if locked is not None and locked > now:
        return SignIn(None, _locked_error(locked))
    return SignIn(None, _bad_credentials())


def _bad_credentials() -> ApiError:
    return ApiError(401, "invalid_credentials", "The e-mail or the password is wrong.")


def _inactive() -> ApiError:
    return ApiError(403, "account_inactive", "This account is deactivated.")


def start_session(
    session: Session,
    user_id: int,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
) -> str:
    """A new session for ``user_id``: returns its token (stored only as a hash)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UserSession(
            token_hash=_digest(token),
            user_id=user_id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
            ip=ip,
            user_agent=None if user_agent is None else user_agent[:512],
        )
    )
    session.flush()
    return token


def revoke_session(session: Session, token: str) -> bool:
    """Revoke the session of ``token``; False when there was none to revoke."""
    done = session.execute(
        sa.update(UserSession)
        .where(
            UserSession.token_hash == _digest(token), UserSession.revoked_at.is_(None)
        )
        .values(revoked_at=utcnow())
    )
    return bool(done.rowcount)


# --- the signed cookie --------------------------------------------------------


def secret_key(app: Any) -> bytes:
    """The app's ``SECRET_KEY``; in local development without one, a development key file's.

    Outside local development the app does not start without a strong key (settings.check).
    """
    settings = app.state.settings
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    if not getattr(settings, "development", False):
        raise RuntimeError("SECRET_KEY is not set")
    return _development_key(Path.cwd() / SECRET_KEY_FILE)


@functools.cache
def _development_key(path: Path) -> bytes:
    """A random key kept in ``path`` (made 0600 on first use): sessions persist."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="utf-8").strip()
    else:
        key = secrets.token_hex(32)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
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


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _bearer(scope: Scope) -> str | None:
    """The token of the request's only ``Authorization: Bearer <token>`` header, else None.

    An empty or blank bearer, another scheme or several ``Authorization`` headers are no
    bearer token: such a request is signed in by its cookie, if at all (and CSRF-checked).
    """
    values = [
        value for name, value in scope.get("headers", ()) if name == b"authorization"
    ]
    if len(values) != 1:
        return None
    scheme, _, token = values[0].decode("latin-1").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _credentials(scope: Scope, key_source: Any = None) -> tuple[str | None, bool]:
    """The session token of a request and whether it came from the cookie.

    A bearer token alone says who is asking (a wrong one is anonymous: the cookie is not
    looked at then); without one, the signed cookie's token.
    """
    bearer = _bearer(scope)
    if bearer is not None:
        return bearer, False
    cookies = _header(scope, b"cookie")
    value = cookie_parser(cookies).get(COOKIE_NAME) if cookies else None
    if not value:
        return None, False
    return unsign_token(secret_key(key_source or scope.get("app")), value), True


def request_token(scope: Scope, key_source: Any = None) -> str | None:
    """The session token of a request: the bearer token, else the signed cookie's."""
    return _credentials(scope, key_source)[0]


# --- CSRF tokens ---------------------------------------------------------------

CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _csrf_basis(request: Request, *, create: bool) -> str | None:
    token = request_token(request.scope)
    if token:
        return "session:" + token
    anonymous = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(anonymous) <= 100:
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
    cached = getattr(request.state, "csrf_token", None)
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
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())  # type: ignore[union-attr]


def cookies_secure(request: Request) -> bool:
    """Whether cookies get ``Secure``: the request came over https (directly, or through a
    proxy named in FORWARDED_ALLOW_IPS), or users come over https (``PUBLIC_URL``)."""
    settings = getattr(request.app.state, "settings", None)
    return request.url.scheme == "https" or bool(
        getattr(settings, "secure_cookies", False)
    )


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


def _needs_csrf(scope: Scope) -> bool:
    """Whether a request signed in by the cookie must carry the CSRF header: state-changing
    ``/api`` requests but the sign-in (JSON only: no cross-site form can send it)."""
    return (
        scope["type"] == "http"
        and scope["method"] not in SAFE_METHODS
        and scope["path"].startswith("/api/")
        and scope["path"] != "/api/auth/login"
    )


async def _refuse_csrf(scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse(
        {
            "error": {
                "code": "csrf",
                "message": "A request signed in by the session cookie must send the "
                "X-CSRF-Token header (the page's csrf-token meta tag).",
                "fields": {},
            }
        },
        status_code=403,
    )
    await response(scope, receive, send)


# --- the middleware -----------------------------------------------------------


def _principal(rows: list[Any]) -> CurrentUser | None:
    """The ``CurrentUser`` of the rows of ``_LOOKUP`` (one per role), or None."""
    if not rows:
        return None
    first = rows[
        0
    ]  # id, email, name, *EXTRA_COLUMNS, role (by position: no name clash)
    roles = frozenset(row[-1] for row in rows if row[-1] is not None)
    return CurrentUser(
        id=first[0],
        email=first[1],
        name=first[2],
        roles=roles,
        superuser=bool(roles & SUPERUSER_ROLES),
        extra=dict(zip(EXTRA_COLUMNS, first[3:-1], strict=True)),
    )


_LOOKUP = (
    sa.select(
        User.id,
        User.email,
        User.name,
        *(getattr(User, column) for column in EXTRA_COLUMNS),
        UserRole.role,
    )
    .select_from(UserSession)
    .join(User, User.id == UserSession.user_id)
    .outerjoin(UserRole, UserRole.user_id == User.id)
    .where(
        UserSession.token_hash == sa.bindparam("token_hash"),
        UserSession.revoked_at.is_(None),
        UserSession.expires_at > sa.bindparam("now", type_=sa.DateTime(timezone=True)),
        User.active.is_(True),
    )
    .order_by(UserRole.role)
)


def load_user(database: Any, token: str) -> CurrentUser | None:
    """The user of a live session ``token``: one query over the unique token index."""
    with database.engine.connect() as connection:
        rows = connection.execute(
            _LOOKUP, {"token_hash": _digest(token), "now": utcnow()}
        ).all()
    return _principal(rows)


class AuthMiddleware:
    """Pure ASGI: finds the session token of each request (bearer header or cookie).

    A state-changing ``/api`` request signed in by the cookie (any request without exactly
    one bearer token, whatever else its ``Authorization`` says) must carry the session's
    CSRF token in ``X-CSRF-Token`` (the web UI's scripts send it); otherwise it is a 403.

    The token is looked up later, on the worker thread that serves the request
    (``user_of``), so a request costs one hop to the thread pool, not two. The database is
    ``database`` when given, else the Starlette app's ``state.db``. A missing, expired,
    revoked or forged token means an anonymous request; the endpoints decide on a 401.
    """

    def __init__(self, app: ASGIApp, database: Any = None) -> None:
        self.app = app
        self.database = database

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            state = scope.setdefault("state", {})
            state["user"] = None
            token, by_cookie = _credentials(scope)
            if token:
                database = self.database or scope["app"].state.db
                state[principal.USER_LOOKUP] = functools.partial(
                    load_user, database, token
                )
                if (
                    by_cookie
                    and _needs_csrf(scope)
                    and not csrf_matches(
                        Request(scope), _header(scope, CSRF_HEADER.encode()) or ""
                    )
                ):
                    await _refuse_csrf(scope, receive, send)
                    return
        await self.app(scope, receive, send)


# Who is asking, as the rest of the app reads it (the lookup is the middleware's, above).
user_of = principal.user_of
current_user = principal.current_user
require_user = principal.require_user


# --- endpoints ----------------------------------------------------------------


def _client(request: Request) -> tuple[str | None, str | None]:
    ip = request.client.host if request.client else None
    agent = request.headers.get("user-agent")
    return (None if ip is None else ip[:45]), agent


def require_json(request: Request) -> None:
    """A 415 unless the body is declared ``application/json`` (parameters such as charset
    allowed): a cross-site form can send a body, but not of that type."""
    media_type = (
        request.headers.get("content-type", "").partition(";")[0].strip().lower()
    )
    if media_type != JSON_MEDIA_TYPE:
        raise ApiError(
            415,
            "unsupported_media_type",
            "Send the body as JSON, with the header Content-Type: application/json.",
        )


async def _body(request: Request, *names: str) -> dict[str, str]:
    """The request's JSON object, each of ``names`` a non-empty string (else 422).

    JSON only (else 415): these endpoints need no session, so nothing else keeps a cross-site
    form from posting to them.
    """
    require_json(request)
    try:
        data = await request.json()
    except (
        ValueError,
        RecursionError,
    ):  # RecursionError: nested deeper than Python goes
        raise ApiError(
            400, "invalid_json", "The request body is not valid JSON."
        ) from None
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


def _database(request: Request) -> Any:
    return request.app.state.db


def _login(database: Any, email: str, password: str, ip: Any, agent: Any) -> str:
    with database.session() as session:
        outcome = authenticate(session, email, password, ip=ip, user_agent=agent)
        token = None
        if outcome.user_id is not None:
            token = start_session(session, outcome.user_id, ip=ip, user_agent=agent)
    if outcome.error is not None:  # raised after the commit: the attempt stays logged
        raise outcome.error
    assert token is not None
    return token


async def login(request: Request) -> Response:
    """``POST /api/auth/login`` {email, password} -> a bearer token and a cookie.

    Also the CSRF token that requests signed in by that cookie send as X-CSRF-Token.
    """
    body = await _body(request, "email", "password")
    ip, agent = _client(request)
    token = await run_in_threadpool(
        _login, _database(request), body["email"], body["password"], ip, agent
    )
    csrf = session_csrf_token(request.app, token)
    response = JSONResponse(
        {"access_token": token, "token_type": "bearer", "csrf_token": csrf}
    )
    set_session_cookie(request, response, token)
    response.headers["Cache-Control"] = "no-store"
    return response


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """Put the signed session cookie of ``token`` on ``response`` (HttpOnly, SameSite=Lax)."""
    response.set_cookie(
        COOKIE_NAME,
        sign_token(secret_key(request.app), token),
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookies_secure(request),
    )


def sign_in(database: Any, email: str, password: str, ip: Any, agent: Any) -> str:
    """Check the credentials and start a session: its token, else raises the ``ApiError``
    (401 wrong credentials, 423 locked, 403 deactivated). Blocking: call it off the loop.
    """
    return _login(database, email, password, ip, agent)


def sign_out(database: Any, token: str) -> None:
    """Revoke the session of ``token``. Blocking."""
    _logout(database, token)


def _logout(database: Any, token: str) -> None:
    with database.session() as session:
        revoke_session(session, token)


async def logout(request: Request) -> Response:
    """``POST /api/auth/logout``: revokes the request's session, clears the cookie."""
    token = request_token(request.scope)
    if token:
        await run_in_threadpool(_logout, _database(request), token)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return response


def describe(user: CurrentUser) -> dict[str, Any]:
    """The JSON of ``user``: the spec's extra fields, then id, email, name and roles."""
    data = {column: json_ready(value) for column, value in user.extra.items()}
    data.update(
        id=user.id,
        email=user.email,
        name=user.name,
        roles=sorted(user.roles),
        superuser=user.superuser,
    )
    return data


async def me(request: Request) -> Response:
    """``GET /api/auth/me``: the signed-in user."""
    return JSONResponse(describe(await require_user(request)))


def public_url(request: Request) -> str:
    """The base of links in e-mails: ``PUBLIC_URL``. Only in local development without one,
    the address the request came to (its host is an allowed one, see hosts.py)."""
    settings = request.app.state.settings
    if settings.public_url:
        return str(settings.public_url)
    if not getattr(settings, "development", False):
        raise RuntimeError(
            "PUBLIC_URL is not set"
        )  # settings.check refuses to start without
    return str(request.base_url).rstrip("/")


@dataclass(frozen=True)
class ResetLimits:
    """How many reset mails go out within ``window``: per account and per client address."""

    per_account: int
    per_address: int
    window: dt.timedelta


def reset_limits(app: Any = None) -> ResetLimits:
    """The reset-mail limits of ``app``'s settings, else of the environment's."""
    settings = getattr(getattr(app, "state", None), "settings", None)
    if not isinstance(settings, Settings):
        settings = load_settings()
    return ResetLimits(
        settings.reset_mail_per_account,
        settings.reset_mail_per_address,
        dt.timedelta(minutes=settings.reset_mail_window_minutes),
    )


def address_bucket(ip: str | None) -> str:
    """What the per-address limit counts for the client ``ip``: the address itself, or the
    /64 network of an IPv6 address (one client usually has a whole /64)."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return ip or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def request_reset(
    database: Any,
    email: str,
    base_url: str,
    *,
    address: str | None = None,
    limits: ResetLimits | None = None,
) -> None:
    """Mail a one-time reset link (through the outbox) if ``email`` is an active account and
    neither its client ``address`` nor the e-mail has used up its mails (``limits``).

    Every request counts against the address first, whatever the e-mail; one the address
    lets through counts against the e-mail, known or not, so both do the same work (an
    account only adds the two rows of its mail). The counts are rows of ``rate_limits``,
    locked while they change: they hold across processes and under parallel requests.
    """
    email = normalize_email(email)
    limits = limits or reset_limits()
    now = utcnow()
    with database.session() as session:
        allowed = throttle.admit(
            session,
            throttle.key("reset-address", address_bucket(address)),
            limits.per_address,
            limits.window,
            now,
        ) and throttle.admit(
            session,
            throttle.key("reset-account", email),
            limits.per_account,
            limits.window,
            now,
        )
        user = _find_user(session, email)
        if not allowed:
            log.info(
                "password-reset mail not sent: the limit of the address or e-mail is reached"
            )
        elif user is not None and user.active is True:
            _queue_reset_mail(session, user, base_url, now)
    throttle.prune(database, now - limits.window)


def _queue_reset_mail(
    session: Session, user: User, base_url: str, now: dt.datetime
) -> None:
    """A new reset token of ``user`` and the mail with its link, in the outbox."""
    token = secrets.token_urlsafe(32)
    digest = _digest(token)
    session.add(
        PasswordReset(
            token_hash=digest,
            user_id=user.id,
            created_at=now,
            expires_at=now + RESET_LIFETIME,
        )
    )
    link = f"{base_url}/password-reset/{token}"  # the web UI's page
    minutes = int(RESET_LIFETIME.total_seconds() // 60)
    session.add(
        OutboxMessage(
            kind="email",
            payload={
                "to": user.email,
                "subject": "Reset your password: Эталонная CRM",
                "text": (
                    "Someone asked to reset the password of your account. "
                    f"To choose a new password, open {link} within {minutes} "
                    "minutes. If it was not you, ignore this message."
                ),
                "template": "password_reset",
                "link": link,
            },
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            idempotency_key=f"password-reset:{digest}",
        )
    )


async def mail_reset_link(request: Request, email: str) -> None:
    """``request_reset`` for ``request``: its link from ``public_url``, counted against the
    client's address, within the app's limits."""
    await run_in_threadpool(
        functools.partial(
            request_reset,
            _database(request),
            email,
            public_url(request),
            address=_client(request)[0],
            limits=reset_limits(request.app),
        )
    )


async def password_reset(request: Request) -> Response:
    """``POST /api/auth/password-reset`` {email}: always 202; may e-mail a link (at most
    so many per account and per client address: the settings ``RESET_MAIL_*``)."""
    body = await _body(request, "email")
    await mail_reset_link(request, body["email"])
    return JSONResponse(
        {
            "status": "accepted",
            "message": "If the account exists, an e-mail is on its way.",
        },
        status_code=202,
    )


def confirm_reset(database: Any, token: str, password: str) -> bool:
    """Set the password of a valid, unused reset token's user; False for a bad token."""
    now = utcnow()
    with database.session() as session:
        reset = session.scalars(
            sa.select(PasswordReset).where(PasswordReset.token_hash == _digest(token))
        ).first()
        if reset is None or reset.used_at is not None:
            return False
        if (_aware(reset.expires_at) or now) <= now:
            return False
        claimed = session.execute(
            sa.update(PasswordReset)
            .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:  # used by a concurrent request
            return False
        session.execute(
            _update_user(
                reset.user_id,
                password_hash=hash_password(password),
                failed_logins=0,
                locked_until=None,
            )
        )
        # Every other way in ends: open sessions, other reset links, pending e-mail changes.
        session.execute(
            sa.update(UserSession)
            .where(
                UserSession.user_id == reset.user_id, UserSession.revoked_at.is_(None)
            )
            .values(revoked_at=now)
        )
        session.execute(
            sa.update(PasswordReset)
            .where(
                PasswordReset.user_id == reset.user_id, PasswordReset.used_at.is_(None)
            )
            .values(used_at=now)
        )
        session.execute(
            sa.update(EmailChange)
            .where(EmailChange.user_id == reset.user_id, EmailChange.used_at.is_(None))
            .values(used_at=now)
        )
    return True


async def password_reset_confirm(request: Request) -> Response:
    """``POST /api/auth/password-reset/confirm`` {token, password}: a new password."""
    body = await _body(request, "token", "password")
    problem = password_problem(body["password"])
    if problem:
        raise ApiError(422, "validation_error", problem, {"password": problem})
    done = await run_in_threadpool(
        confirm_reset, _database(request), body["token"], body["password"]
    )
    if not done:
        message = "The reset link is invalid, used or expired: ask for a new one."
        raise ApiError(400, "invalid_token", message, {"token": message})
    return Response(status_code=204)


routes = [
    Route("/login", login, methods=["POST"], name="auth_login"),
    Route("/logout", logout, methods=["POST"], name="auth_logout"),
    Route("/me", me, methods=["GET"], name="auth_me"),
    Route(
        "/password-reset", password_reset, methods=["POST"], name="auth_password_reset"
    ),
    Route(
        "/password-reset/confirm",
        password_reset_confirm,
        methods=["POST"],
        name="auth_password_reset_confirm",
    ),
]
