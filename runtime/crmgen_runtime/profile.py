"""One's own account: changing one's password, and one's e-mail through a mailed link.

Both need the current password, checked like a sign-in (a wrong one counts toward the lockout
and is logged). A new e-mail takes effect only when the one-time link mailed (through the
outbox) to the new address is confirmed, within 24 hours; the old address is told. Either
change ends the user's other sessions and unused password-reset and e-mail-change links; the
session that made it goes on.

Routes (``routes(catalog)``, mounted at ``/api/auth`` beside ``auth_routes``): ``POST /password``
{current_password, password} -> 204; ``POST /name`` {name} -> 200 (one's own name, audited); ``POST /locale`` {locale} -> 200 (one's UI
and mail language); ``POST /email`` {email, password} -> 202;
``POST /email/confirm`` {token} -> 200 with the user (no sign-in needed: the link is the proof).
Every function takes the app's catalog first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import (
    account_mail,
    account_security,
    accounts,
    audit,
    auth,
    auth_routes,
    credentials,
    passwords,
    throttle,
    validation,
)
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser, require_user
from crmgen_runtime.resources import Catalog
from crmgen_runtime.tables import EmailChangeTable, utcnow

EMAIL_CHANGE_LIFETIME = dt.timedelta(hours=24)
INVALID_LINK = "The link is invalid, used or expired: ask for the change again."


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    """``value`` in UTC (SQLite hands back naive datetimes, stored in UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _new_email(catalog: Catalog, raw: str) -> str:
    """``raw`` checked like the User's e-mail field (422), normalised."""
    values = validation.validate(catalog.by_name[accounts.USER], {"email": raw}, partial=True)
    return auth.normalize_email(values["email"])


# --- the password ---------------------------------------------------------------------------


def change_password(
    catalog: Catalog,
    database: Any,
    user: CurrentUser,
    current: str,
    new: str,
    token: str | None,
    client: Any,
) -> None:
    """Set ``user``'s password to ``new`` after checking ``current``; ends the other sessions
    (all but the one of ``token``) and unused links. Blocking."""
    problem = passwords.password_problem(new)
    if problem:
        raise ApiError(422, "validation_error", problem, {"password": problem})
    users = catalog.by_name[accounts.USER].model
    with database.session() as session:
        error = account_security.check_password(catalog, session, user, current, client)
        if error is None:
            session.execute(
                sa.update(users)
                .where(users.id == user.id)
                .values(password_hash=passwords.hash_password(new))
            )
            accounts.end_sessions(
                session, catalog, user.id, keep=None if token is None else _digest(token)
            )
            accounts.end_links(session, catalog, user.id)
    if error is not None:  # raised after the commit: the attempt stays counted and logged
        raise error


# --- the e-mail ----------------------------------------------------------------------------


def request_email_change(
    catalog: Catalog,
    database: Any,
    user: CurrentUser,
    raw: str,
    password: str,
    base_url: str,
    client: Any,
    limits: auth.ResetLimits | None = None,
) -> None:
    """Mail a one-time link to the new address ``raw`` once ``password`` is right. Blocking.

    422 for an address that is not one (or is the current one), 409 when another user has it,
    429 when the account has asked for as many mails within the window as the reset-mail
    limit per account allows (``RESET_MAIL_PER_ACCOUNT``): no address is mail-bombed this way.
    """
    email = _new_email(catalog, raw)
    if email == auth.normalize_email(user.email):
        message = "This is your e-mail already."
        raise ApiError(422, "validation_error", message, {"email": message})
    limits = limits or auth.reset_limits(catalog)
    with database.session() as session:
        error = account_security.check_password(catalog, session, user, password, client)
        if error is None:
            if accounts.email_taken(session, catalog, email, user.id):
                message = "Another user has this e-mail."
                raise ApiError(409, "conflict", message, {"email": message})
            now = utcnow()
            name = throttle.key("email-change-account", str(user.id))
            if throttle.admit(catalog, session, name, limits.per_account, limits.window, now):
                _mail_link(catalog, session, user.id, email, base_url)
            else:
                error = ApiError(
                    429,
                    "too_many_requests",
                    "Too many e-mail changes asked for: try again later.",
                    headers={"Retry-After": str(int(limits.window.total_seconds()))},
                )
    if error is not None:
        raise error


def _mail_link(catalog: Catalog, session: Session, user_id: int, email: str, base_url: str) -> None:
    token = secrets.token_urlsafe(32)
    title = catalog.config.plain_title
    changes: Any = catalog.table(EmailChangeTable)  # the app's models (keyword constructors)
    digest = _digest(token)
    now = utcnow()
    session.add(
        changes(
            token_hash=digest,
            user_id=user_id,
            new_email=email,
            created_at=now,
            expires_at=now + EMAIL_CHANGE_LIFETIME,
        )
    )
    link = f"{base_url}/email-change/{token}"  # the web UI's page
    hours = int(EMAIL_CHANGE_LIFETIME.total_seconds() // 3600)
    account_mail.queue(
        session,
        catalog,
        to=email,
        subject=f"Confirm your new e-mail: {title}",
        text=(
            "Someone asked to make this address the e-mail of their account. "
            f"To confirm, open {link} within {hours} hours. "
            "If it was not you, ignore this message."
        ),
        template="email_change",
        key=f"email-change:{digest}",
        link=link,
        now=now,
    )


def confirm_email_change(
    catalog: Catalog, database: Any, token: str, session_token: str | None, ip: str | None
) -> dict[str, Any]:
    """Make the pending change of ``token`` the user's e-mail: ``{"id", "email"}``. Blocking.

    Ends the user's other sessions (the request's own goes on) and unused links, and tells the
    old address. 400 for a bad, used or expired link; 409 when the address was taken since.
    """
    now = utcnow()
    changes = catalog.table(EmailChangeTable)
    users = catalog.by_name[accounts.USER].model
    with database.session() as session:
        change = session.scalars(
            sa.select(changes).where(changes.token_hash == _digest(token))
        ).first()
        if change is None or change.used_at is not None or _aware(change.expires_at) <= now:
            raise ApiError(400, "invalid_token", INVALID_LINK, {"token": INVALID_LINK})
        claimed = session.execute(
            sa.update(changes)
            .where(changes.id == change.id, changes.used_at.is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:  # confirmed by a concurrent request
            raise ApiError(400, "invalid_token", INVALID_LINK, {"token": INVALID_LINK})
        user = session.get(users, change.user_id)
        if user is None or user.active is not True:
            raise ApiError(400, "invalid_token", INVALID_LINK, {"token": INVALID_LINK})
        if accounts.email_taken(session, catalog, change.new_email, user.id):
            message = "Another user has this e-mail now."
            raise ApiError(409, "conflict", message, {"email": message})
        old = user.email
        session.execute(
            sa.update(users)
            .where(users.id == user.id)
            .values(email=change.new_email, version=users.version + 1)
        )
        keep = None if session_token is None else _digest(session_token)
        accounts.end_sessions(session, catalog, user.id, keep=keep)
        accounts.end_links(session, catalog, user.id)
        accounts.tell_old_address(session, catalog, user.id, old, change.new_email)
        actor = CurrentUser(id=user.id, email=change.new_email, name=user.name, roles=frozenset())
        audit.record(
            session,
            catalog,
            user=actor,
            ip=ip,
            entity=accounts.USER,
            record_id=user.id,
            action="update",
            changes={"email": [old, change.new_email]},
        )
        return {"id": user.id, "email": change.new_email}


# --- the name ------------------------------------------------------------------------------


def change_name(
    catalog: Catalog, database: Any, user: CurrentUser, name: str, client: Any
) -> dict[str, Any]:
    """Set ``user``'s own name, checked like the User's ``name`` field (422), audited. Blocking.

    Anyone signed in changes their own name, whatever the User entity's update rule says."""
    resource = catalog.by_name[accounts.USER]
    if not name.strip():
        problem = "This field is required."
        raise ApiError(422, "validation_error", "Some fields are invalid.", {"name": problem})
    values = validation.validate(resource, {"name": name.strip()}, partial=True)
    users = resource.model
    with database.session() as session:
        old = session.scalar(sa.select(users.name).where(users.id == user.id))
        if old != values["name"]:
            session.execute(
                sa.update(users)
                .where(users.id == user.id)
                .values(name=values["name"], version=users.version + 1)
            )
            audit.record(
                session,
                catalog,
                user=user,
                ip=client[0],
                entity=accounts.USER,
                record_id=user.id,
                action="update",
                changes={"name": [old, values["name"]]},
            )
    return {"id": user.id, "name": values["name"]}


# --- the language ----------------------------------------------------------------------------


def change_locale(
    catalog: Catalog, database: Any, user: CurrentUser, locale: str | None
) -> dict[str, Any]:
    """Set ``user``'s own UI language, one of the app's (None: the browser's); the UI and the
    mails sent to them use it. 422 for a language the app does not have. Blocking."""
    if locale is not None and locale not in catalog.config.locales:
        problem = f"Not a language of this app (one of: {', '.join(catalog.config.locales)})."
        raise ApiError(422, "validation_error", "Some fields are invalid.", {"locale": problem})
    users = catalog.by_name[accounts.USER].model
    with database.session() as session:
        session.execute(sa.update(users).where(users.id == user.id).values(locale=locale))
    return {"id": user.id, "locale": locale}


# --- endpoints -----------------------------------------------------------------------------


async def _fields(request: Request, *names: str) -> dict[str, str]:
    """The request's JSON object with each of ``names`` a string (422 naming the others).

    JSON only (else 415), like every ``/api/auth`` endpoint: the confirmation needs no session.
    """
    auth_routes.require_json(request)
    try:
        data = await request.json()
    except ValueError:
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The request body must be a JSON object.")
    missing = {
        name: "This field is required (a string)."
        for name in names
        if not isinstance(data.get(name), str) or not data[name]
    }
    if missing:
        raise ApiError(422, "validation_error", "Some fields are invalid.", missing)
    return {name: data[name] for name in names}


def _client(request: Request) -> tuple[str | None, str | None]:
    ip = request.client.host if request.client else None
    return (None if ip is None else ip[:45]), request.headers.get("user-agent")


def routes(catalog: Catalog) -> list[BaseRoute]:
    """``POST /password``, ``/email`` and ``/email/confirm``, for the app of ``catalog``."""

    async def password(request: Request) -> Response:
        """``POST /api/auth/password`` {current_password, password}: 204."""
        user = await require_user(request)
        body = await _fields(request, "current_password", "password")
        await run_in_threadpool(
            change_password,
            catalog,
            request.app.state.db,
            user,
            body["current_password"],
            body["password"],
            credentials.request_token(request.scope),
            _client(request),
        )
        return Response(status_code=204)

    async def email(request: Request) -> Response:
        """``POST /api/auth/email`` {email, password}: 202; a link goes to the new address."""
        user = await require_user(request)
        body = await _fields(request, "email", "password")
        await run_in_threadpool(
            request_email_change,
            catalog,
            request.app.state.db,
            user,
            body["email"],
            body["password"],
            auth_routes.public_url(request),
            _client(request),
            auth.reset_limits(catalog, request.app),
        )
        return JSONResponse(
            {
                "status": "accepted",
                "message": "Open the link mailed to the new address to confirm.",
            },
            status_code=202,
        )

    async def name(request: Request) -> Response:
        """``POST /api/auth/name`` {name}: 200 ``{"id", "name"}``: one's own name."""
        user = await require_user(request)
        body = await _fields(request, "name")
        done = await run_in_threadpool(
            change_name, catalog, request.app.state.db, user, body["name"], _client(request)
        )
        return JSONResponse(done)

    async def locale(request: Request) -> Response:
        """``POST /api/auth/locale`` {locale}: 200 ``{"id", "locale"}`` (null: the browser's)."""
        user = await require_user(request)
        auth_routes.require_json(request)
        try:
            data = await request.json()
        except (ValueError, RecursionError):
            raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None
        chosen = data.get("locale") if isinstance(data, dict) else None
        if chosen is not None and not isinstance(chosen, str):
            problem = "Must be a language code or null."
            raise ApiError(422, "validation_error", "Some fields are invalid.", {"locale": problem})
        done = await run_in_threadpool(
            change_locale, catalog, request.app.state.db, user, chosen or None
        )
        return JSONResponse(done)

    async def email_confirm(request: Request) -> Response:
        """``POST /api/auth/email/confirm`` {token}: 200 ``{"id", "email"}``."""
        body = await _fields(request, "token")
        done = await run_in_threadpool(
            confirm_email_change,
            catalog,
            request.app.state.db,
            body["token"],
            credentials.request_token(request.scope),
            _client(request)[0],
        )
        return JSONResponse(done)

    return [
        Route("/password", password, methods=["POST"], name="auth_password"),
        Route("/email", email, methods=["POST"], name="auth_email"),
        Route("/name", name, methods=["POST"], name="auth_name"),
        Route("/locale", locale, methods=["POST"], name="auth_locale"),
        Route("/email/confirm", email_confirm, methods=["POST"], name="auth_email_confirm"),
    ]
