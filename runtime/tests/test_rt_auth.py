"""``crmgen_runtime.auth``: accounts, sign-in with its lockout and log, sessions and their
revocation, and password reset, for the small CRM on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from crmgen_runtime import auth, passwords, tables
from crmgen_runtime.errors import ApiError

PASSWORD = "correct horse battery"
WRONG = "not the password"
LIMITS = auth.ResetLimits(per_account=2, per_address=3, window=dt.timedelta(minutes=10))
BASE_URL = "https://crm.example.com"

pytestmark = pytest.mark.usefixtures("cheap_hashes")


def add_user(crm: Any, email: str, *roles: str, password: str = PASSWORD) -> int:
    with crm.database.session() as session:
        user_id: int = auth.create_user(
            crm.catalog, session, email=email, password=password, roles=roles
        ).id
    return user_id


def attempt(crm: Any, email: str, password: str, **client: Any) -> auth.SignIn:
    with crm.database.session() as session:
        return auth.authenticate(crm.catalog, session, email, password, **client)


def user_row(crm: Any, user_id: int) -> Any:
    with crm.database.session() as session:
        return session.get(crm.User, user_id)


def log_of(crm: Any, email: str) -> list[tuple[str, bool]]:
    model = crm.catalog.table(tables.LoginAttemptTable)
    with crm.database.session() as session:
        found = session.execute(
            sa.select(model.reason, model.success).where(model.email == email).order_by(model.id)
        )
        return [(reason, success) for reason, success in found]


def rows(crm: Any, mixin: type) -> list[Any]:
    model = crm.catalog.table(mixin)
    with crm.database.session() as session:
        return list(session.scalars(sa.select(model).order_by(model.id)))


def mails(crm: Any) -> list[dict[str, Any]]:
    return [row.payload for row in rows(crm, tables.OutboxMessageTable)]


# --- accounts -----------------------------------------------------------------------------------


def test_create_user_checks_its_input(crm_web: Any) -> None:
    add_user(crm_web, "taken@example.com", "sales")
    with crm_web.database.session() as session:

        def create(email: str, password: str = PASSWORD, roles: tuple[str, ...] = ()) -> Any:
            return auth.create_user(
                crm_web.catalog, session, email=email, password=password, roles=roles
            )

        with pytest.raises(ValueError, match="exists already"):
            create(" TAKEN@example.com")
        with pytest.raises(ValueError, match=r"unknown role 'boss' \(the roles are: admin, "):
            create("new@example.com", roles=("boss",))
        with pytest.raises(ValueError, match="at least 8"):
            create("new@example.com", password="short")
        with pytest.raises(ValueError, match="not an e-mail address"):
            create("   ")
        user = create(" New@Example.COM ", roles=("sales", "admin", "sales"))
        assert (user.email, user.name, list(user.roles)) == (
            "new@example.com",
            "new",
            ["admin", "sales"],
        )
        assert user.password_hash.startswith("$argon2id$")


def test_the_user_model_roles_and_extra_columns_come_from_the_catalog(crm: Any) -> None:
    assert auth.user_model(crm.catalog) is crm.User
    assert auth.role_model(crm.catalog).__tablename__ == "crm_user_roles"
    assert auth.extra_columns(crm.catalog) == {"hired_on": "hired_on"}


# --- signing in ---------------------------------------------------------------------------------


def test_the_right_password_signs_in_and_is_logged(crm_web: Any) -> None:
    user_id = add_user(crm_web, "ann@example.com", "sales")
    agent = "a" * 600
    outcome = attempt(crm_web, " ANN@example.com", PASSWORD, ip="10.0.0.1", user_agent=agent)
    assert outcome == auth.SignIn(user_id)
    log = rows(crm_web, tables.LoginAttemptTable)[-1]
    assert (log.email, log.user_id, log.ip, log.reason, log.success) == (
        "ann@example.com",
        user_id,
        "10.0.0.1",
        "ok",
        True,
    )
    assert log.user_agent == "a" * 512


def test_failures_in_a_row_lock_the_account(crm_web: Any) -> None:
    user_id = add_user(crm_web, "bo@example.com")
    for _ in range(4):
        error = attempt(crm_web, "bo@example.com", WRONG).error
        assert error is not None and (error.status, error.code) == (401, "invalid_credentials")
        assert error.message == "The e-mail or the password is wrong."
    assert user_row(crm_web, user_id).failed_logins == 4
    locking = attempt(crm_web, "bo@example.com", WRONG).error
    assert locking is not None and (locking.status, locking.code) == (423, "account_locked")
    assert locking.message.startswith(
        "Too many failed sign-in attempts: the account is locked until "
    )
    assert locking.message.endswith("Z. Try again later or reset the password.")
    assert 1700 < int(locking.headers["Retry-After"]) <= 1801  # 30 minutes
    still = attempt(crm_web, "bo@example.com", PASSWORD).error  # even the right password
    assert still is not None and still.code == "account_locked"
    row = user_row(crm_web, user_id)
    assert row.failed_logins == 0 and row.locked_until is not None
    assert log_of(crm_web, "bo@example.com") == [("bad_password", False)] * 5 + [("locked", False)]
    with crm_web.database.session() as session:  # the lockout runs out
        session.execute(sa.update(crm_web.User).values(locked_until=tables.utcnow()))
    assert attempt(crm_web, "bo@example.com", PASSWORD) == auth.SignIn(user_id)
    assert user_row(crm_web, user_id).locked_until is None


def test_an_unknown_email_is_locked_like_an_account(crm_web: Any) -> None:
    answers = [attempt(crm_web, "nobody@example.com", WRONG).error for _ in range(6)]
    assert [a.status for a in answers if a is not None] == [401] * 4 + [423, 423]
    assert answers[5] is not None and "Retry-After" in answers[5].headers
    assert log_of(crm_web, "nobody@example.com") == [("unknown_email", False)] * 5 + [
        ("locked", False)
    ]
    model = crm_web.catalog.table(tables.LoginAttemptTable)
    with crm_web.database.session() as session:  # the lockout runs out
        session.execute(sa.update(model).values(at=tables.utcnow() - dt.timedelta(hours=1)))
    again = attempt(crm_web, "nobody@example.com", WRONG).error
    assert again is not None and again.status == 401


def test_deactivated_and_passwordless_accounts_cannot_sign_in(crm_web: Any) -> None:
    user_id = add_user(crm_web, "gone@example.com")
    with crm_web.database.session() as session:
        session.execute(
            sa.update(crm_web.User).where(crm_web.User.id == user_id).values(active=False)
        )
    error = attempt(crm_web, "gone@example.com", PASSWORD).error
    assert error is not None and (error.status, error.code, error.message) == (
        403,
        "account_inactive",
        "This account is deactivated.",
    )
    nopass = attempt(crm_web, "u1@example.com", PASSWORD).error  # seeded without a password
    assert nopass is not None and nopass.status == 401
    assert log_of(crm_web, "gone@example.com") == [("inactive", False)]
    assert log_of(crm_web, "u1@example.com") == [("no_password", False)]


def test_bookkeeping_leaves_version_and_updated_at_alone(crm_web: Any) -> None:
    user_id = add_user(crm_web, "cy@example.com")
    stamp = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with crm_web.database.session() as session:
        session.execute(sa.update(crm_web.User).values(updated_at=stamp, version=7))
    attempt(crm_web, "cy@example.com", WRONG)
    attempt(crm_web, "cy@example.com", PASSWORD)
    row = user_row(crm_web, user_id)
    assert (row.version, auth.aware(row.updated_at)) == (7, stamp)


def test_a_hash_of_other_parameters_is_renewed_at_sign_in(crm_web: Any) -> None:
    user_id = add_user(crm_web, "di@example.com")
    old = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1).hash(PASSWORD)
    with crm_web.database.session() as session:
        session.execute(sa.update(crm_web.User).values(password_hash=old))
    assert attempt(crm_web, "di@example.com", PASSWORD) == auth.SignIn(user_id)
    renewed = user_row(crm_web, user_id).password_hash
    assert renewed != old and passwords.verify_password(renewed, PASSWORD)


# --- sessions -----------------------------------------------------------------------------------


def test_a_session_gives_its_user_until_revoked(crm_web: Any) -> None:
    user_id = add_user(crm_web, "ed@example.com", "sales", "admin")
    with crm_web.database.session() as session:
        session.execute(
            sa.update(crm_web.User)
            .where(crm_web.User.id == user_id)
            .values(hired_on=dt.date(2024, 2, 29))
        )
    token = auth.sign_in(crm_web.catalog, crm_web.database, "ed@example.com", PASSWORD, "::1", "ua")
    user = auth.load_user(crm_web.catalog, crm_web.database, token)
    assert user is not None
    assert (user.id, user.email, user.name, user.roles, user.superuser) == (
        user_id,
        "ed@example.com",
        "ed",
        frozenset({"admin", "sales"}),
        True,
    )
    assert user.extra == {"hired_on": dt.date(2024, 2, 29)}
    stored = rows(crm_web, tables.UserSessionTable)[-1]
    assert stored.token_hash == auth.digest(token) and token not in stored.token_hash
    assert (stored.ip, stored.user_agent) == ("::1", "ua")
    assert auth.load_user(crm_web.catalog, crm_web.database, token + "x") is None
    auth.sign_out(crm_web.catalog, crm_web.database, token)
    assert auth.load_user(crm_web.catalog, crm_web.database, token) is None
    with crm_web.database.session() as session:
        assert not auth.revoke_session(crm_web.catalog, session, token)  # nothing left to revoke


def test_expired_sessions_and_deactivated_users_are_nobody(crm_web: Any) -> None:
    user_id = add_user(crm_web, "fa@example.com")
    first = auth.sign_in(crm_web.catalog, crm_web.database, "fa@example.com", PASSWORD, None, None)
    second = auth.sign_in(crm_web.catalog, crm_web.database, "fa@example.com", PASSWORD, None, None)
    user = auth.load_user(crm_web.catalog, crm_web.database, first)
    assert user is not None and user.roles == frozenset() and not user.superuser
    model = crm_web.catalog.table(tables.UserSessionTable)
    with crm_web.database.session() as session:
        session.execute(
            sa.update(model)
            .where(model.token_hash == auth.digest(first))
            .values(expires_at=tables.utcnow())
        )
    assert auth.load_user(crm_web.catalog, crm_web.database, first) is None
    assert auth.load_user(crm_web.catalog, crm_web.database, second) is not None
    with crm_web.database.session() as session:
        session.execute(
            sa.update(crm_web.User).where(crm_web.User.id == user_id).values(active=False)
        )
    assert auth.load_user(crm_web.catalog, crm_web.database, second) is None


def test_sign_in_raises_after_keeping_the_attempt(crm_web: Any) -> None:
    add_user(crm_web, "gi@example.com")
    with pytest.raises(ApiError) as raised:
        auth.sign_in(crm_web.catalog, crm_web.database, "gi@example.com", WRONG, None, None)
    assert raised.value.status == 401
    assert log_of(crm_web, "gi@example.com") == [("bad_password", False)]
    assert rows(crm_web, tables.UserSessionTable) == []


# --- password reset -----------------------------------------------------------------------------


def reset(crm: Any, email: str, address: str = "192.0.2.1") -> None:
    auth.request_reset(crm.catalog, crm.database, email, BASE_URL, address=address, limits=LIMITS)


def token_of(mail: dict[str, Any]) -> str:
    link: str = mail["link"]
    return link.rpartition("/")[2]


def test_a_reset_link_is_mailed_to_an_active_account(crm_web: Any) -> None:
    user_id = add_user(crm_web, "ha@example.com")
    reset(crm_web, " HA@example.com ")
    (mail,) = mails(crm_web)
    token = token_of(mail)
    assert mail["to"] == "ha@example.com" and mail["template"] == "password_reset"
    assert mail["subject"] == "Reset your password: Small CRM"
    assert mail["link"] == f"{BASE_URL}/password-reset/{token}"
    assert f"open {mail['link']} within 60 minutes" in mail["text"]
    (stored,) = rows(crm_web, tables.PasswordResetTable)
    assert (stored.user_id, stored.token_hash, stored.used_at) == (
        user_id,
        auth.digest(token),
        None,
    )
    (message,) = rows(crm_web, tables.OutboxMessageTable)
    assert (message.kind, message.status) == ("email", "pending")
    assert message.idempotency_key == f"password-reset:{auth.digest(token)}"


def test_no_mail_for_unknown_or_deactivated_accounts(crm_web: Any) -> None:
    user_id = add_user(crm_web, "ia@example.com")
    with crm_web.database.session() as session:
        session.execute(
            sa.update(crm_web.User).where(crm_web.User.id == user_id).values(active=False)
        )
    reset(crm_web, "ia@example.com")
    reset(crm_web, "nobody@example.com")
    assert mails(crm_web) == []


def test_reset_mail_is_limited_per_account_and_per_address(crm_web: Any) -> None:
    add_user(crm_web, "ja@example.com")
    add_user(crm_web, "ka@example.com")
    for _ in range(3):
        reset(crm_web, "ja@example.com", address="192.0.2.1")
    assert len(mails(crm_web)) == 2  # per account
    reset(crm_web, "ka@example.com", address="192.0.2.1")  # the address's fourth request
    assert [m["to"] for m in mails(crm_web)] == ["ja@example.com"] * 2
    reset(crm_web, "ka@example.com", address="198.51.100.7")
    assert [m["to"] for m in mails(crm_web)].count("ka@example.com") == 1


def test_a_reset_sets_the_password_and_ends_every_other_way_in(crm_web: Any) -> None:
    user_id = add_user(crm_web, "la@example.com")
    for _ in range(3):
        attempt(crm_web, "la@example.com", WRONG)
    live = auth.sign_in(crm_web.catalog, crm_web.database, "la@example.com", PASSWORD, None, None)
    reset(crm_web, "la@example.com")
    reset(crm_web, "la@example.com")
    first, second = (token_of(mail) for mail in mails(crm_web))
    now = tables.utcnow()
    with crm_web.database.session() as session:
        session.execute(
            sa.insert(crm_web.catalog.table(tables.EmailChangeTable)),
            {
                "token_hash": "e" * 64,
                "user_id": user_id,
                "new_email": "new@example.com",
                "created_at": now,
                "expires_at": now + dt.timedelta(hours=1),
            },
        )
        attempt_failures = session.get(crm_web.User, user_id).failed_logins
    assert attempt_failures == 0  # the right password reset the counter
    assert auth.confirm_reset(crm_web.catalog, crm_web.database, first, "a new password")
    assert auth.load_user(crm_web.catalog, crm_web.database, live) is None
    assert not auth.confirm_reset(crm_web.catalog, crm_web.database, first, "again pw!")  # used
    assert not auth.confirm_reset(crm_web.catalog, crm_web.database, second, "other pw!")  # ended
    assert all(r.used_at is not None for r in rows(crm_web, tables.EmailChangeTable))
    assert attempt(crm_web, "la@example.com", "a new password") == auth.SignIn(user_id)


def test_a_reset_clears_the_lockout(crm_web: Any) -> None:
    user_id = add_user(crm_web, "ma@example.com")
    for _ in range(5):
        attempt(crm_web, "ma@example.com", WRONG)
    reset(crm_web, "ma@example.com")
    assert auth.confirm_reset(
        crm_web.catalog, crm_web.database, token_of(mails(crm_web)[0]), "a new password"
    )
    row = user_row(crm_web, user_id)
    assert (row.failed_logins, row.locked_until) == (0, None)


def test_unknown_and_expired_reset_tokens_change_nothing(crm_web: Any) -> None:
    add_user(crm_web, "na@example.com")
    assert not auth.confirm_reset(crm_web.catalog, crm_web.database, "bogus", "a new password")
    reset(crm_web, "na@example.com")
    model = crm_web.catalog.table(tables.PasswordResetTable)
    with crm_web.database.session() as session:
        session.execute(sa.update(model).values(expires_at=tables.utcnow()))
    token = token_of(mails(crm_web)[0])
    assert not auth.confirm_reset(crm_web.catalog, crm_web.database, token, "a new password")
    assert attempt(crm_web, "na@example.com", PASSWORD).user_id is not None


@pytest.mark.parametrize(
    ("ip", "bucket"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.9", "192.0.2.9"),
        ("testclient", "testclient"),
        (None, "unknown"),
    ],
)
def test_the_per_address_limit_counts_an_ipv6_client_by_its_64(ip: str | None, bucket: str) -> None:
    assert auth.address_bucket(ip) == bucket


def test_reset_limits_come_from_the_apps_settings_else_the_environment(
    crm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = crm.catalog.config.settings.load({"RESET_MAIL_PER_ACCOUNT": "4"})
    app = SimpleNamespace(state=SimpleNamespace(settings=settings))
    assert auth.reset_limits(crm.catalog, app) == auth.ResetLimits(4, 10, dt.timedelta(hours=1))
    monkeypatch.setenv("RESET_MAIL_PER_ADDRESS", "7")
    monkeypatch.setenv("RESET_MAIL_WINDOW_MINUTES", "5")
    not_settings = SimpleNamespace(state=SimpleNamespace(settings=SimpleNamespace()))
    expected = auth.ResetLimits(3, 7, dt.timedelta(minutes=5))
    assert auth.reset_limits(crm.catalog, not_settings) == expected
    assert auth.reset_limits(crm.catalog) == expected
