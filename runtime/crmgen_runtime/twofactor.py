"""Two-factor sign-in: a TOTP authenticator app (RFC 6238, through pyotp) and recovery codes.

One row of ``crm_two_factor`` per user who started: the TOTP secret, when it was confirmed, the
last time step used (a code works once) and the SHA-256 of each unused recovery code. The same
row holds the one short-lived token of a sign-in half done (``TOKEN_LIFETIME``): after the right
password, the second step sends that token with the code, so no page carries the password.

- Enrolling: ``setup`` makes a new secret (an unconfirmed one is replaced; a confirmed one must be
  turned off first) and ``confirm`` checks a first code from the app, then answers the recovery
  codes, shown once. ``disable`` needs the password and a code; ``new_recovery_codes`` the password.
- Signing in (``auth.authenticate`` calls ``verdict``): a confirmed user must add a code (a TOTP
  code, or one unused recovery code); a wrong code counts toward the lockout as a wrong password.
- Required: a user holding a role of ``catalog.config.two_factor_required`` (the spec's
  ``auth.two_factor.required_for``) without a confirmed secret gets no session from the password
  alone; they get a token that only enrols (``setup`` and ``confirm`` with it), and confirming
  starts their session. They cannot turn two-factor off.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Literal

import pyotp
import sqlalchemy as sa
from sqlalchemy.orm import Session

from crmgen_runtime.errors import ApiError
from crmgen_runtime.resources import Catalog
from crmgen_runtime.tables import TwoFactorTable, UserRoleTable, utcnow

TOKEN_LIFETIME = dt.timedelta(minutes=10)
RECOVERY_CODES = 10
CODE_DIGITS = 6
WINDOW = 1  # time steps of 30 s accepted on each side of now (clocks drift)

Verdict = Literal["ok", "missing", "wrong", "setup"]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def normalize(code: str) -> str:
    """A typed code without spaces and dashes, lower case (recovery codes are ``xxxx-xxxx``)."""
    return "".join(code.split()).replace("-", "").lower()


@dataclass(frozen=True)
class State:
    """A user's two-factor state, as the profile page shows it."""

    enabled: bool
    required: bool
    recovery_left: int


def _row(catalog: Catalog, session: Session, user_id: int) -> Any:
    model = catalog.table(TwoFactorTable)
    return session.execute(sa.select(model).where(model.user_id == user_id)).scalar_one_or_none()


def required(catalog: Catalog, session: Session, user_id: int) -> bool:
    """True when one of the user's roles must sign in with a second factor."""
    needed = catalog.config.two_factor_required
    if not needed:
        return False
    roles = catalog.table(UserRoleTable)
    found = session.execute(
        sa.select(roles.role).where(roles.user_id == user_id, roles.role.in_(sorted(needed)))
    ).first()
    return found is not None


def state(catalog: Catalog, session: Session, user_id: int) -> State:
    row = _row(catalog, session, user_id)
    enabled = row is not None and row.confirmed_at is not None
    left = len(row.recovery or []) if enabled else 0
    return State(enabled, required(catalog, session, user_id), left)


def _disabled(catalog: Catalog) -> None:
    if not catalog.config.two_factor:
        raise ApiError(404, "not_found", "Two-factor sign-in is not part of this app.")


# --- signing in -------------------------------------------------------------------------------


def _match_totp(row: Any, code: str, now: dt.datetime) -> int | None:
    """The time step ``code`` belongs to (within ``WINDOW``), unused before; else None."""
    if not row.secret or len(code) != CODE_DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(row.secret)
    current = totp.timecode(now)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if row.last_step is not None and step <= row.last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _use_code(catalog: Catalog, session: Session, row: Any, code: str, now: dt.datetime) -> bool:
    """Checks ``code`` (TOTP or recovery) against ``row`` and spends it; True when right."""
    model = catalog.table(TwoFactorTable)
    typed = normalize(code)
    step = _match_totp(row, typed, now)
    if step is not None:
        session.execute(
            sa.update(model)
            .where(model.user_id == row.user_id)
            .values(last_step=step, updated_at=now)
        )
        return True
    left = list(row.recovery or [])
    spent = _digest(typed)
    if typed and any(hmac.compare_digest(spent, kept) for kept in left):
        left.remove(spent)
        session.execute(
            sa.update(model)
            .where(model.user_id == row.user_id)
            .values(recovery=left, updated_at=now)
        )
        return True
    return False


def verdict(
    catalog: Catalog, session: Session, user_id: int, code: str | None, now: dt.datetime
) -> Verdict:
    """The second factor of a sign-in whose password was right: ``ok`` (none needed, or a right
    code, now spent), ``missing``, ``wrong``, or ``setup`` (required and not enrolled)."""
    if not catalog.config.two_factor:
        return "ok"
    row = _row(catalog, session, user_id)
    if row is None or row.confirmed_at is None:
        return "setup" if required(catalog, session, user_id) else "ok"
    if not code:
        return "missing"
    return "ok" if _use_code(catalog, session, row, code, now) else "wrong"


def issue_token(catalog: Catalog, session: Session, user_id: int, now: dt.datetime) -> str:
    """A new half-done sign-in token for ``user_id`` (the previous one ends)."""
    token = secrets.token_urlsafe(32)
    values = {"token_hash": _digest(token), "token_expires_at": now + TOKEN_LIFETIME}
    model = catalog.table(TwoFactorTable)
    if _row(catalog, session, user_id) is None:
        session.execute(sa.insert(model), {"user_id": user_id, "updated_at": now, **values})
    else:
        session.execute(
            sa.update(model).where(model.user_id == user_id).values(updated_at=now, **values)
        )
    return token


def token_user(catalog: Catalog, session: Session, token: str, now: dt.datetime) -> int | None:
    """The user of a live half-done sign-in ``token``; None when unknown or expired."""
    if not token:
        return None
    model = catalog.table(TwoFactorTable)
    row = session.execute(
        sa.select(model.user_id, model.token_expires_at).where(model.token_hash == _digest(token))
    ).first()
    if row is None or (_aware(row.token_expires_at) or now) <= now:
        return None
    return int(row.user_id)


def end_token(catalog: Catalog, session: Session, user_id: int) -> None:
    model = catalog.table(TwoFactorTable)
    session.execute(
        sa.update(model)
        .where(model.user_id == user_id)
        .values(token_hash=None, token_expires_at=None)
    )


# --- enrolling --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """A new secret to type or scan into an authenticator app."""

    secret: str
    uri: str  # otpauth://totp/...


def setup(
    catalog: Catalog, session: Session, user_id: int, email: str, *, again: bool = False
) -> Setup:
    """A new, unconfirmed secret for ``user_id``; 409 when two-factor is on already.
    ``again``: the unconfirmed one started before, when there is one (a code was mistyped)."""
    _disabled(catalog)
    now = utcnow()
    row = _row(catalog, session, user_id)
    if row is not None and row.confirmed_at is not None:
        raise ApiError(409, "conflict", "Two-factor sign-in is on already: turn it off first.")
    issuer = catalog.config.plain_title or catalog.config.name
    if again and row is not None and row.secret:
        uri = pyotp.TOTP(row.secret).provisioning_uri(name=email, issuer_name=issuer)
        return Setup(row.secret, uri)
    secret = pyotp.random_base32(32)
    model = catalog.table(TwoFactorTable)
    values: dict[str, Any] = {
        "secret": secret,
        "last_step": None,
        "recovery": [],
        "updated_at": now,
    }
    if row is None:
        session.execute(sa.insert(model), {"user_id": user_id, **values})
    else:
        session.execute(sa.update(model).where(model.user_id == user_id).values(**values))
    uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)
    return Setup(secret, uri)


def _new_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(5)  # 10 hex digits: 40 bits each
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def confirm(catalog: Catalog, session: Session, user_id: int, code: str) -> list[str]:
    """Turns two-factor on with a first right code; answers the recovery codes (shown once).

    400 when no setup was started, 422 when the code is wrong.
    """
    _disabled(catalog)
    now = utcnow()
    row = _row(catalog, session, user_id)
    if row is None or not row.secret:
        raise ApiError(400, "bad_request", "Start the setup first: it gives the secret.")
    if row.confirmed_at is not None:
        raise ApiError(409, "conflict", "Two-factor sign-in is on already.")
    step = _match_totp(row, normalize(code), now)
    if step is None:
        raise ApiError(
            422, "validation_error", "The code is wrong.", {"code": "The code is wrong."}
        )
    codes = _new_codes()
    model = catalog.table(TwoFactorTable)
    session.execute(
        sa.update(model)
        .where(model.user_id == user_id)
        .values(
            confirmed_at=now,
            last_step=step,
            recovery=[_digest(normalize(c)) for c in codes],
            token_hash=None,
            token_expires_at=None,
            updated_at=now,
        )
    )
    return codes


def check_code(catalog: Catalog, session: Session, user_id: int, code: str) -> None:
    """422 unless ``code`` is a right code of the user's (spent when right)."""
    row = _row(catalog, session, user_id)
    if row is None or row.confirmed_at is None:
        raise ApiError(409, "conflict", "Two-factor sign-in is off.")
    if not _use_code(catalog, session, row, code or "", utcnow()):
        raise ApiError(
            422, "validation_error", "The code is wrong.", {"code": "The code is wrong."}
        )


def disable(catalog: Catalog, session: Session, user_id: int, code: str) -> None:
    """Turns two-factor off (the caller checked the password); 403 when a role requires it."""
    _disabled(catalog)
    if required(catalog, session, user_id):
        raise ApiError(403, "forbidden", "Your role requires two-factor sign-in.")
    check_code(catalog, session, user_id, code)
    model = catalog.table(TwoFactorTable)
    session.execute(sa.delete(model).where(model.user_id == user_id))


def new_recovery_codes(catalog: Catalog, session: Session, user_id: int) -> list[str]:
    """A fresh set of recovery codes (the old ones end; the caller checked the password)."""
    _disabled(catalog)
    row = _row(catalog, session, user_id)
    if row is None or row.confirmed_at is None:
        raise ApiError(409, "conflict", "Two-factor sign-in is off.")
    codes = _new_codes()
    model = catalog.table(TwoFactorTable)
    session.execute(
        sa.update(model)
        .where(model.user_id == user_id)
        .values(recovery=[_digest(normalize(c)) for c in codes], updated_at=utcnow())
    )
    return codes
