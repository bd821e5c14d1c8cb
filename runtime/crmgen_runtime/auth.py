"""Users and signing in: accounts, the lockout, sessions and password reset.

The database side of signing in, for one app (its ``Catalog``): the app's ``User`` model and its
roles, its lockout (``catalog.config.lockout_attempts`` failures in a row lock an account for
``catalog.config.lockout``) and its system tables (``crmgen_runtime.tables``). Everything here
is blocking: the HTTP side (``crmgen_runtime.auth_routes``) calls it off the event loop.

A session is an opaque random token; the database keeps only its SHA-256, and ``load_user``
turns a live one into a ``CurrentUser`` with one indexed query. An e-mail without an account is
locked like an account (counted in the sign-in log), and every attempt is logged with its IP
address and user agent. Every attempt does the same password work (one argon2 verification), so
neither the answer nor its time tells whether an account exists. Password-reset mail is limited
per account and per client address (``crmgen_runtime.throttle``, in the database).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crmgen_runtime import account_mail, passwords, throttle, twofactor
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import Catalog
from crmgen_runtime.settings import Settings
from crmgen_runtime.tables import (
    EmailChangeTable,
    LoginAttemptTable,
    PasswordResetTable,
    UserSessionTable,
    utcnow,
)

log = logging.getLogger(__name__)

USER = "User"  # the entity of the people who sign in
# The User fields every app has; the spec's others are its extra fields (``extra_columns``).
BUILTIN_USER_FIELDS = frozenset({"email", "name", "active"})
SESSION_LIFETIME = dt.timedelta(hours=12)
RESET_LIFETIME = dt.timedelta(hours=1)
EMAIL_LOG_LENGTH = 254  # login_attempts.email
USER_AGENT_LENGTH = 512  # sessions.user_agent, login_attempts.user_agent
TOKEN_BYTES = 32  # of a session or reset token


# --- the app's users --------------------------------------------------------------------------


def user_model(catalog: Catalog) -> Any:
    """The app's ``User`` model."""
    return catalog.by_name[USER].model


def role_model(catalog: Catalog) -> Any:
    """The model of the users' roles (``UserRole``: one row per user and role)."""
    return user_model(catalog).role_entries.property.mapper.class_


def extra_columns(catalog: Catalog) -> dict[str, str]:
    """The columns of the spec's own User fields, beyond email, name and active: they reach
    ``CurrentUser.extra``, ``GET /api/auth/me`` and the record rules. By the key they go by
    there (the column's name: ``position_id``, ``from``), the model attribute of each."""
    fields = catalog.by_name[USER].fields
    return {
        (info.column if info.is_ref else name): info.column
        for name, info in fields.items()
        if name not in BUILTIN_USER_FIELDS and info.column
    }


def digest(token: str) -> str:
    """The SHA-256 (hex) of a token: what the database keeps of it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` in UTC (SQLite hands back naive datetimes, stored in UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def iso(value: dt.datetime) -> str:
    """``value`` as an ISO 8601 UTC time to the second: ``2024-05-01T12:00:00Z``."""
    return value.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    catalog: Catalog,
    session: Session,
    *,
    email: str,
    password: str,
    roles: Iterable[str] = (),
    name: str | None = None,
) -> Any:
    """Add a user with an argon2 password hash and ``roles``; flushed, not committed.

    Without a ``name`` the user is named by the e-mail's local part.

    Raises ValueError for an empty e-mail, a password that breaks the rules, an unknown
    role or an e-mail that is taken.
    """
    email = normalize_email(email)
    if not email or "@" not in email:
        raise ValueError(f"{email!r} is not an e-mail address")
    problem = passwords.password_problem(password)
    if problem:
        raise ValueError(problem)
    known = catalog.config.roles
    wanted = sorted(set(roles))
    unknown = [r for r in wanted if r not in known]
    if unknown:
        raise ValueError(f"unknown role {unknown[0]!r} (the roles are: {', '.join(sorted(known))})")
    model = user_model(catalog)
    taken = session.scalar(sa.select(model.id).where(sa.func.lower(model.email) == email).limit(1))
    if taken is not None:
        raise ValueError(f"a user with the e-mail {email} exists already")
    name = name or email.partition("@")[0]  # shown wherever the user is named
    user = model(email=email, name=name, password_hash=passwords.hash_password(password))
    user.roles = wanted
    session.add(user)
    session.flush()
    return user


def find_user(catalog: Catalog, session: Session, email: str) -> Any:
    """The user of the (normalised) ``email``, or None."""
    model = user_model(catalog)
    return session.scalars(
        sa.select(model).where(sa.func.lower(model.email) == email).order_by(model.id).limit(1)
    ).first()


def update_user(catalog: Catalog, user_id: int, **values: Any) -> sa.Update:
    """An UPDATE of sign-in bookkeeping that leaves ``version`` (and ``updated_at``) alone."""
    model = user_model(catalog)
    if catalog.by_name[USER].timestamps:
        values.setdefault("updated_at", model.updated_at)
    return sa.update(model).where(model.id == user_id).values(**values)


# --- signing in -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: the user id, or the error to answer with."""

    user_id: int | None
    error: ApiError | None = None


class SecondStep(ApiError):
    """The password was right and a second factor is wanted: the error names a short-lived
    token (``two_factor_token``) that the second step sends instead of the password.

    401 ``two_factor_required``: send a code with the token (``POST /api/auth/login/code``).
    403 ``two_factor_setup_required``: the user's role requires two-factor sign-in, and they
    have not set it up: the token only enrols (``/api/auth/two-factor/setup`` and ``confirm``).
    """

    def __init__(self, setup: bool, token: str = "") -> None:
        if setup:
            super().__init__(
                403,
                "two_factor_setup_required",
                "Your role requires two-factor sign-in: set up an authenticator app first.",
            )
        else:
            super().__init__(
                401,
                "two_factor_required",
                "Enter the code from your authenticator app, or a recovery code.",
            )
        self.token = token

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        answer = super().body(request_id)
        answer["error"]["two_factor_token"] = self.token
        return answer


def bad_code() -> ApiError:
    return ApiError(401, "invalid_code", "The code is wrong.")


def locked_error(until: dt.datetime) -> ApiError:
    """The 423 of an account (or e-mail) locked until ``until``."""
    wait = max(1, int((until - utcnow()).total_seconds()) + 1)
    return ApiError(
        423,
        "account_locked",
        f"Too many failed sign-in attempts: the account is locked until {iso(until)}. "
        "Try again later or reset the password.",
        headers={"Retry-After": str(wait)},
    )


def bad_credentials() -> ApiError:
    return ApiError(401, "invalid_credentials", "The e-mail or the password is wrong.")


def inactive() -> ApiError:
    return ApiError(403, "account_inactive", "This account is deactivated.")


def authenticate(
    catalog: Catalog,
    session: Session,
    email: str,
    password: str,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    code: str | None = None,
    second_factor: bool = True,
) -> SignIn:
    """Check ``email``/``password`` (and the second factor: ``code``), apply the lockout rules
    and log the attempt. ``second_factor=False``: the password alone (a signed-in user
    confirming a change with it).

    Every path does one argon2 verification, before anything is locked or written: an
    unknown e-mail, a locked or deactivated account and a missing password cost what a
    wrong or a right password does. An unknown e-mail is locked like an account (see
    ``_unknown_failure``), so the answers are alike too.

    Everything is written through ``session`` (the caller commits, also on failure: the
    failed-attempt counter and the log must be kept).
    """
    email = normalize_email(email)
    now = utcnow()
    user = find_user(catalog, session, email)
    matches = passwords.verify_password(None if user is None else user.password_hash, password)
    outcome: SignIn
    if user is None:
        reason, outcome = _unknown_failure(catalog, session, email[:EMAIL_LOG_LENGTH], now)
    elif (until := aware(user.locked_until)) is not None and until > now:
        reason, outcome = "locked", SignIn(None, locked_error(until))
    elif not matches:
        reason = "bad_password" if user.password_hash else "no_password"
        outcome = _count_failure(catalog, session, user.id, now)
    elif user.active is not True:
        reason, outcome = "inactive", SignIn(None, inactive())
    else:
        second = twofactor.verdict(catalog, session, user.id, code, now) if second_factor else "ok"
        if second == "wrong":
            reason = "bad_code"
            outcome = _count_failure(catalog, session, user.id, now)
            if outcome.error is not None and outcome.error.status == 401:
                outcome = SignIn(None, bad_code())
        elif second in ("missing", "setup"):
            # the password was right: a token for the second step, nothing counted
            token = twofactor.issue_token(catalog, session, user.id, now)
            reason = "code_required" if second == "missing" else "setup_required"
            outcome = SignIn(None, SecondStep(second == "setup", token))
        else:
            reason, outcome = "ok", SignIn(user.id)
            values: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
            if user.password_hash and passwords.needs_rehash(user.password_hash):
                values["password_hash"] = passwords.hash_password(password)
            session.execute(update_user(catalog, user.id, **values))
    log_attempt(
        catalog, session, now, email, None if user is None else user.id, ip, user_agent, reason
    )
    return outcome


def log_attempt(
    catalog: Catalog,
    session: Session,
    now: dt.datetime,
    email: str,
    user_id: int | None,
    ip: str | None,
    user_agent: str | None,
    reason: str,
) -> None:
    session.execute(
        sa.insert(catalog.table(LoginAttemptTable)),
        {
            "at": now,
            "email": email[:EMAIL_LOG_LENGTH],
            "user_id": user_id,
            "ip": ip,
            "user_agent": None if user_agent is None else user_agent[:USER_AGENT_LENGTH],
            "success": reason == "ok",
            "reason": reason,
        },
    )


def _unknown_failure(
    catalog: Catalog, session: Session, email: str, now: dt.datetime
) -> tuple[str, SignIn]:
    """A failed attempt on an e-mail without an account, locked as an account would be.

    Its failures are its ``unknown_email`` rows of the sign-in log (attempts made while it
    is locked are logged as ``locked`` and do not count); each ``lockout_attempts``-th locks
    the e-mail for ``lockout`` from its own time, as the counter of an account would.
    Attempts on e-mails of one stripe take turns (``throttle.lock``), so parallel attempts
    count exactly as an account's do.
    """
    attempts, lockout = catalog.config.lockout_attempts, catalog.config.lockout
    log_model = catalog.table(LoginAttemptTable)
    throttle.lock(catalog, session, throttle.stripe("login", email), now)
    failures, last = session.execute(
        sa.select(sa.func.count(), sa.func.max(log_model.at)).where(
            log_model.email == email,
            log_model.user_id.is_(None),
            log_model.reason == "unknown_email",
        )
    ).one()
    if failures and failures % attempts == 0:
        until = (aware(last) or now) + lockout
        if until > now:
            return "locked", SignIn(None, locked_error(until))
    if (failures + 1) % attempts == 0:
        return "unknown_email", SignIn(None, locked_error(now + lockout))
    return "unknown_email", SignIn(None, bad_credentials())


def _count_failure(catalog: Catalog, session: Session, user_id: int, now: dt.datetime) -> SignIn:
    """One more failed attempt; the last one allowed locks the account."""
    model = user_model(catalog)
    reached = model.failed_logins + 1 >= catalog.config.lockout_attempts
    until = now + catalog.config.lockout
    session.execute(
        update_user(
            catalog,
            user_id,
            failed_logins=sa.case((reached, 0), else_=model.failed_logins + 1),
            locked_until=sa.case((reached, until), else_=model.locked_until),
        )
    )
    locked = aware(session.scalar(sa.select(model.locked_until).where(model.id == user_id)))
    if locked is not None and locked > now:
        return SignIn(None, locked_error(locked))
    return SignIn(None, bad_credentials())


# --- sessions ---------------------------------------------------------------------------------


def start_session(
    catalog: Catalog,
    session: Session,
    user_id: int,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
) -> str:
    """A new session for ``user_id``: returns its token (stored only as a hash). It never starts
    like an API key (``crm_``), which a bearer token starting so is taken for."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    while token.startswith("crm_"):
        token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    session.execute(
        sa.insert(catalog.table(UserSessionTable)),
        {
            "token_hash": digest(token),
            "user_id": user_id,
            "created_at": now,
            "expires_at": now + SESSION_LIFETIME,
            "ip": ip,
            "user_agent": None if user_agent is None else user_agent[:USER_AGENT_LENGTH],
        },
    )
    return token


def revoke_session(catalog: Catalog, session: Session, token: str) -> bool:
    """Revoke the session of ``token``; False when there was none to revoke."""
    model = catalog.table(UserSessionTable)
    done = session.execute(
        sa.update(model)
        .where(model.token_hash == digest(token), model.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def sign_in(
    catalog: Catalog,
    database: Database,
    email: str,
    password: str,
    ip: str | None,
    agent: str | None,
    code: str | None = None,
) -> str:
    """Check the credentials and start a session: its token, else raises the ``ApiError``
    (401 wrong credentials, 423 locked, 403 deactivated, ``SecondStep`` when a second factor is
    wanted). Blocking: call it off the loop.
    """
    with database.session() as session:
        outcome = authenticate(
            catalog, session, email, password, ip=ip, user_agent=agent, code=code
        )
        token = None
        if outcome.user_id is not None:
            token = start_session(catalog, session, outcome.user_id, ip=ip, user_agent=agent)
    if outcome.error is not None:  # raised after the commit: the attempt stays logged
        raise outcome.error
    assert token is not None
    return token


def finish_sign_in(
    catalog: Catalog,
    database: Database,
    token: str,
    code: str,
    ip: str | None,
    agent: str | None,
) -> str:
    """The second step of a sign-in: the token of ``SecondStep`` and a code; a session token,
    else raises (401 ``invalid_code`` or an unknown or expired token, 423 locked). A wrong code
    counts toward the lockout and is logged, as a wrong password is. Blocking.
    """
    now = utcnow()
    with database.session() as session:
        user_id = twofactor.token_user(catalog, session, token, now)
        if user_id is None:
            raise ApiError(401, "invalid_token", "The sign-in expired: sign in again.")
        user = session.execute(
            sa.select(user_model(catalog)).where(user_model(catalog).id == user_id)
        ).scalar_one()
        outcome: SignIn
        if (until := aware(user.locked_until)) is not None and until > now:
            reason, outcome = "locked", SignIn(None, locked_error(until))
        elif user.active is not True:
            reason, outcome = "inactive", SignIn(None, inactive())
        elif twofactor.verdict(catalog, session, user_id, code or "-", now) == "ok":
            reason, outcome = "ok", SignIn(user_id)
            twofactor.end_token(catalog, session, user_id)
            session.execute(update_user(catalog, user_id, failed_logins=0, locked_until=None))
        else:
            reason = "bad_code"
            outcome = _count_failure(catalog, session, user_id, now)
            if outcome.error is not None and outcome.error.status == 401:
                outcome = SignIn(None, bad_code())
        log_attempt(catalog, session, now, user.email, user_id, ip, agent, reason)
        session_token = None
        if outcome.user_id is not None:
            session_token = start_session(catalog, session, user_id, ip=ip, user_agent=agent)
    if outcome.error is not None:
        raise outcome.error
    assert session_token is not None
    return session_token


def sign_out(catalog: Catalog, database: Database, token: str) -> None:
    """Revoke the session of ``token``. Blocking."""
    with database.session() as session:
        revoke_session(catalog, session, token)


def user_columns(catalog: Catalog) -> tuple[Any, ...]:
    """What a signed-in user is read from: id, e-mail, name, language, the spec's extra
    columns, a role."""
    user, role = user_model(catalog), role_model(catalog)
    extra = (getattr(user, column) for column in extra_columns(catalog).values())
    return (user.id, user.email, user.name, user.locale, *extra, role.role)


@functools.cache
def _lookup(catalog: Catalog) -> sa.Select[Any]:
    """The query of ``load_user``: one row per role of the user of a live session."""
    user, role = user_model(catalog), role_model(catalog)
    sessions = catalog.table(UserSessionTable)
    return (
        sa.select(*user_columns(catalog))
        .select_from(sessions)
        .join(user, user.id == sessions.user_id)
        .outerjoin(role, role.user_id == user.id)
        .where(
            sessions.token_hash == sa.bindparam("token_hash"),
            sessions.revoked_at.is_(None),
            sessions.expires_at > sa.bindparam("now", type_=sa.DateTime(timezone=True)),
            user.active.is_(True),
        )
        .order_by(role.role)
    )


@functools.cache
def _by_id(catalog: Catalog) -> sa.Select[Any]:
    """The query of ``user_by_id``: one row per role of an active user."""
    user, role = user_model(catalog), role_model(catalog)
    return (
        sa.select(*user_columns(catalog))
        .select_from(user)
        .outerjoin(role, role.user_id == user.id)
        .where(user.id == sa.bindparam("user_id"), user.active.is_(True))
        .order_by(role.role)
    )


def user_by_id(catalog: Catalog, database: Database, user_id: int) -> CurrentUser | None:
    """The active user ``user_id`` with their roles as they are now (work done on a user's
    behalf later, such as an import in the worker); None when gone or deactivated."""
    with database.engine.connect() as connection:
        rows = connection.execute(_by_id(catalog), {"user_id": user_id}).all()
    return principal_of(catalog, list(rows))


def user_on_id(connection: Any, catalog: Catalog, user_id: int) -> CurrentUser | None:
    """``user_by_id`` on an open connection or session (a mention's reader, checked in the
    comment's transaction)."""
    rows = connection.execute(_by_id(catalog), {"user_id": user_id}).all()
    return principal_of(catalog, list(rows))


def principal_of(catalog: Catalog, rows: list[Any]) -> CurrentUser | None:
    """The ``CurrentUser`` of the rows of the lookup (one per role), or None."""
    if not rows:
        return None
    first = rows[0]  # id, email, name, locale, *extra columns, role (by position: no clash)
    roles = frozenset(row[-1] for row in rows if row[-1] is not None)
    return CurrentUser(
        id=first[0],
        email=first[1],
        name=first[2],
        roles=roles,
        superuser=bool(roles & catalog.superuser_roles),
        locale=first[3],
        extra=dict(zip(extra_columns(catalog), first[4:-1], strict=True)),
    )


def load_user(catalog: Catalog, database: Database, token: str) -> CurrentUser | None:
    """The user of a live session ``token``: one query over the unique token index."""
    with database.engine.connect() as connection:
        return user_on(connection, catalog, token)


def user_on(connection: sa.Connection, catalog: Catalog, token: str) -> CurrentUser | None:
    """``load_user`` on an open ``connection`` (a sync one, or an async connection's
    ``run_sync``): the session is read as it is now, so a revoked session or a deactivated
    user is refused on the next request."""
    rows = connection.execute(_lookup(catalog), {"token_hash": digest(token), "now": utcnow()})
    return principal_of(catalog, list(rows.all()))


# --- password reset ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ResetLimits:
    """How many reset mails go out within ``window``: per account and per client address."""

    per_account: int
    per_address: int
    window: dt.timedelta


def reset_limits(catalog: Catalog, app: Any = None) -> ResetLimits:
    """The reset-mail limits of ``app``'s settings, else of the environment's."""
    settings = getattr(getattr(app, "state", None), "settings", None)
    if not isinstance(settings, Settings):
        settings = catalog.config.settings.load()
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
    catalog: Catalog,
    database: Database,
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
    limits = limits or reset_limits(catalog)
    now = utcnow()
    with database.session() as session:
        allowed = throttle.admit(
            catalog,
            session,
            throttle.key("reset-address", address_bucket(address)),
            limits.per_address,
            limits.window,
            now,
        ) and throttle.admit(
            catalog,
            session,
            throttle.key("reset-account", email),
            limits.per_account,
            limits.window,
            now,
        )
        user = find_user(catalog, session, email)
        if not allowed:
            log.info("password-reset mail not sent: the limit of the address or e-mail is reached")
        elif user is not None and user.active is True:
            _queue_reset_mail(catalog, session, user, base_url, now)
    throttle.prune(catalog, database, now - limits.window)


def _queue_reset_mail(
    catalog: Catalog, session: Session, user: Any, base_url: str, now: dt.datetime
) -> None:
    """A new reset token of ``user`` and the mail with its link, in the outbox."""
    token = issue_link(catalog, session, user.id, RESET_LIFETIME, now)
    hashed = digest(token)
    link = f"{base_url}/password-reset/{token}"  # the web UI's page
    minutes = int(RESET_LIFETIME.total_seconds() // 60)
    title = catalog.config.plain_title
    account_mail.queue(
        session,
        catalog,
        to=user.email,
        subject=f"Reset your password: {title}",
        text=(
            "Someone asked to reset the password of your account. "
            f"To choose a new password, open {link} within {minutes} "
            "minutes. If it was not you, ignore this message."
        ),
        template="password_reset",
        key=f"password-reset:{hashed}",
        link=link,
        now=now,
    )


def issue_link(
    catalog: Catalog, session: Session, user_id: int, lifetime: dt.timedelta, now: dt.datetime
) -> str:
    """A new one-time link token for ``user_id`` that sets the password (a reset link, or an
    invitation: ``crmgen_runtime.invites``), good for ``lifetime``; only its hash is kept."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.execute(
        sa.insert(catalog.table(PasswordResetTable)),
        {
            "token_hash": digest(token),
            "user_id": user_id,
            "created_at": now,
            "expires_at": now + lifetime,
        },
    )
    return token


def link_usable(catalog: Catalog, database: Database, token: str) -> bool:
    """Whether ``token`` is a known, unused and unexpired password link (``confirm_reset``
    would take it now)."""
    resets = catalog.table(PasswordResetTable)
    now = utcnow()
    with database.engine.connect() as connection:
        row = connection.execute(
            sa.select(resets.expires_at, resets.used_at).where(resets.token_hash == digest(token))
        ).first()
    return row is not None and row.used_at is None and (aware(row.expires_at) or now) > now


def confirm_reset(catalog: Catalog, database: Database, token: str, password: str) -> bool:
    """Set the password of a valid, unused reset token's user; False for a bad token."""
    resets = catalog.table(PasswordResetTable)
    now = utcnow()
    with database.session() as session:
        reset = session.scalars(sa.select(resets).where(resets.token_hash == digest(token))).first()
        if reset is None or reset.used_at is not None:
            return False
        if (aware(reset.expires_at) or now) <= now:
            return False
        claimed = session.execute(
            sa.update(resets)
            .where(resets.id == reset.id, resets.used_at.is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]  # used by a concurrent request
            return False
        session.execute(
            update_user(
                catalog,
                reset.user_id,
                password_hash=passwords.hash_password(password),
                failed_logins=0,
                locked_until=None,
            )
        )
        end_ways_in(catalog, session, reset.user_id, now)
    return True


def end_ways_in(catalog: Catalog, session: Session, user_id: int, now: dt.datetime) -> None:
    """Every way into ``user_id``'s account ends: open sessions, unused reset links, pending
    e-mail changes (after a password reset)."""
    sessions = catalog.table(UserSessionTable)
    session.execute(
        sa.update(sessions)
        .where(sessions.user_id == user_id, sessions.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    for model in (catalog.table(PasswordResetTable), catalog.table(EmailChangeTable)):
        session.execute(
            sa.update(model)
            .where(model.user_id == user_id, model.used_at.is_(None))
            .values(used_at=now)
        )
