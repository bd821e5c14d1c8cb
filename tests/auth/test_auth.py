"""Signing in to the generated app (examples/minimal): login, sessions by bearer token and by
cookie, logout, /me, lockout, the sign-in log and password reset, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from crmgen_runtime import credentials
from starlette.testclient import TestClient

from tests.auth.conftest import PASSWORD, App, build_app, unique_email

EXAMPLE = "minimal"


def error(response) -> dict:  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "fields"} <= set(body["error"])
    return body["error"]


def test_login_returns_a_bearer_token_and_a_session_cookie(app: App) -> None:
    email = unique_email()
    app.user(email, "staff")
    response = app.login(email.upper())  # e-mails match whatever their case
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and len(body["access_token"]) >= 40
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http


def test_the_cookie_is_secure_over_https(app: App, generated) -> None:  # type: ignore[no-untyped-def]
    email = unique_email()
    app.user(email, "staff")
    with TestClient(build_app(generated, app.db), base_url="https://testserver") as client:
        response = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200
    assert "Secure" in response.headers["set-cookie"]


@pytest.mark.parametrize(
    ("email", "password"),
    [("known", "wrong password"), ("nobody@example.com", PASSWORD)],
)
def test_wrong_credentials_are_401(app: App, email: str, password: str) -> None:
    known = unique_email()
    app.user(known, "staff")
    response = app.login(known if email == "known" else email, password)
    assert response.status_code == 401
    assert error(response)["code"] == "invalid_credentials"
    assert "access_token" not in response.text and "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "body", [{}, {"email": "a@example.com"}, {"email": 3, "password": "x"}, [1, 2]]
)
def test_malformed_login_bodies_are_client_errors(app: App, body: object) -> None:
    response = app.client.post("/api/auth/login", json=body)
    assert response.status_code in (400, 422)
    error(response)
    response = app.client.post(
        "/api/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and error(response)["code"] == "invalid_json"


def test_inactive_users_cannot_sign_in_and_lose_their_sessions(app: App) -> None:
    email = unique_email()
    user_id = app.user(email, "staff")
    token = app.token(email)
    with app.session() as session:
        session.get(app.models.User, user_id).active = False
    response = app.login(email)
    assert response.status_code == 403 and error(response)["code"] == "account_inactive"
    me = app.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401


def test_bearer_and_cookie_both_authenticate(app: App) -> None:
    email = unique_email()
    user_id = app.user(email, "staff")
    token = app.token(email)
    assert app.client.get("/api/auth/me").status_code == 401  # no cookie now
    by_bearer = app.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert by_bearer.status_code == 200 and by_bearer.json()["id"] == user_id

    assert app.login(email).status_code == 200  # the client keeps the cookie
    by_cookie = app.client.get("/api/auth/me")
    assert by_cookie.status_code == 200 and by_cookie.json()["id"] == user_id


def test_forged_and_unknown_tokens_are_anonymous(app: App) -> None:
    email = unique_email()
    app.user(email, "staff")
    token = app.token(email)
    forged = app.client.get("/api/auth/me", headers={"Cookie": f"session={token}.bad-signature"})
    assert forged.status_code == 401 and error(forged)["code"] == "not_authenticated"
    unsigned = app.client.get("/api/auth/me", headers={"Cookie": f"session={token}"})
    assert unsigned.status_code == 401
    unknown = app.client.get("/api/auth/me", headers={"Authorization": "Bearer nope"})
    assert unknown.status_code == 401


def test_logout_revokes_the_session(app: App) -> None:
    email = unique_email()
    app.user(email, "staff")
    token, other = app.token(email), app.token(email)
    headers = {"Authorization": f"Bearer {token}"}
    response = app.client.post("/api/auth/logout", headers=headers)
    assert response.status_code == 204
    assert 'session=""' in response.headers["set-cookie"]  # the cookie is cleared
    assert app.client.get("/api/auth/me", headers=headers).status_code == 401
    still = app.client.get("/api/auth/me", headers={"Authorization": f"Bearer {other}"})
    assert still.status_code == 200  # only that session ends
    with app.session() as session:
        revoked = session.scalars(sa.select(app.models.CrmSession.revoked_at)).all()
    assert any(r is not None for r in revoked)

    login = app.login(email)
    assert login.status_code == 200
    refused = app.client.post("/api/auth/logout")  # by cookie, without the CSRF header
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf"
    assert app.client.get("/api/auth/me").status_code == 200  # still signed in
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    assert app.client.post("/api/auth/logout", headers=csrf).status_code == 204
    assert app.client.get("/api/auth/me").status_code == 401


def test_expired_sessions_are_anonymous(app: App) -> None:
    email = unique_email()
    user_id = app.user(email, "staff")
    token = app.token(email)
    with app.session() as session:
        session.execute(
            sa.update(app.models.CrmSession)
            .where(app.models.CrmSession.user_id == user_id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert (
        app.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )


def test_me_describes_the_user_and_superusers_come_from_the_spec(app: App) -> None:
    email = unique_email()
    user_id = app.user(email, "staff", "admin", name="Ann")
    token = app.token(email)
    me = app.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {
        "id": user_id,
        "email": email,
        "name": "Ann",
        "roles": ["admin", "staff"],
        "superuser": True,
        "locale": None,
    }

    plain = unique_email()
    app.user(plain, "staff")
    token = app.token(plain)
    me = app.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["roles"] == ["staff"] and me["superuser"] is False
    assert me["name"] == plain.partition("@")[0]  # no name given: the e-mail's local part


def test_lockout_after_five_bad_passwords_and_its_expiry(app: App) -> None:
    email = unique_email()
    user_id = app.user(email, "staff")
    for _ in range(4):
        assert app.login(email, "wrong password").status_code == 401
    locked = app.login(email, "wrong password")
    assert locked.status_code == 423
    body = error(locked)
    assert body["code"] == "account_locked"
    assert "locked until" in body["message"] and "Z" in body["message"]
    assert int(locked.headers["Retry-After"]) > 29 * 60  # minimal: 30 minutes
    # The right password does not help while locked.
    again = app.login(email)
    assert again.status_code == 423 and error(again)["message"] == body["message"]

    with app.session() as session:
        user = session.get(app.models.User, user_id)
        until = (
            user.locked_until.replace(tzinfo=dt.UTC)
            if user.locked_until.tzinfo is None
            else user.locked_until
        )
        assert (
            dt.timedelta(minutes=29) < until - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=30)
        )
        assert (
            body["message"].count(until.replace(microsecond=0).isoformat().replace("+00:00", "Z"))
            == 1
        )
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        session.execute(
            sa.update(app.models.User)
            .where(app.models.User.id == user_id)
            .values(locked_until=past)
        )
    assert app.login(email).status_code == 200
    with app.session() as session:
        user = session.get(app.models.User, user_id)
        # Sign-in bookkeeping does not bump the optimistic-concurrency version.
        assert (user.failed_logins, user.locked_until, user.version) == (0, None, 1)


def test_a_success_resets_the_failure_count(app: App) -> None:
    email = unique_email()
    app.user(email, "staff")
    for _ in range(4):
        assert app.login(email, "wrong password").status_code == 401
    assert app.login(email).status_code == 200
    for _ in range(4):
        assert app.login(email, "wrong password").status_code == 401


def test_every_attempt_is_logged_with_ip_and_user_agent(app: App) -> None:
    email = unique_email()
    user_id = app.user(email, "staff")
    app.login(email, "wrong password", **{"User-Agent": "probe/1.0"})
    app.login(email, **{"User-Agent": "browser/2.0"})
    app.login("ghost-" + email, **{"User-Agent": "probe/1.0"})
    LoginAttempt = app.models.CrmLoginAttempt
    with app.session() as session:
        rows = session.scalars(
            sa.select(LoginAttempt)
            .where(LoginAttempt.email.in_([email, "ghost-" + email]))
            .order_by(LoginAttempt.id)
        ).all()
        seen = [(r.email, r.user_id, r.ip, r.user_agent, r.success, r.reason) for r in rows]
    assert seen == [
        (email, user_id, "testclient", "probe/1.0", False, "bad_password"),
        (email, user_id, "testclient", "browser/2.0", True, "ok"),
        ("ghost-" + email, None, "testclient", "probe/1.0", False, "unknown_email"),
    ]


def _outbox(app: App, to: str) -> list:  # type: ignore[type-arg]
    OutboxMessage = app.models.CrmOutboxMessage
    with app.session() as session:
        rows = session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
        return [r for r in rows if r.payload.get("to") == to]


def test_password_reset_writes_one_email_and_the_token_works_once(app: App) -> None:
    email = unique_email()
    user_id = app.user(email, "staff")
    old_session = app.token(email)

    unknown = app.client.post("/api/auth/password-reset", json={"email": "ghost-" + email})
    known = app.client.post("/api/auth/password-reset", json={"email": email})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()  # nothing tells whether the account exists
    assert _outbox(app, "ghost-" + email) == []

    [message] = _outbox(app, email)
    assert (message.kind, message.status, message.attempts) == ("email", "pending", 0)
    assert message.idempotency_key.startswith("password-reset:")
    link = message.payload["link"]
    assert link.startswith("http://testserver/password-reset/") and link in message.payload["text"]
    token = link.rpartition("/")[2]
    with app.session() as session:
        stored = session.scalars(
            sa.select(app.models.CrmPasswordReset).where(
                app.models.CrmPasswordReset.user_id == user_id
            )
        ).one()
        assert token not in stored.token_hash  # only the hash is kept

    short = app.client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "short"}
    )
    assert short.status_code == 422 and "password" in error(short)["fields"]

    new = "a brand new password"
    done = app.client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": new}
    )
    assert done.status_code == 204
    again = app.client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": new + "!"}
    )
    assert again.status_code == 400 and error(again)["code"] == "invalid_token"

    assert app.login(email).status_code == 401  # the old password is gone
    assert app.login(email, new).status_code == 200
    gone = app.client.get("/api/auth/me", headers={"Authorization": f"Bearer {old_session}"})
    assert gone.status_code == 401  # a reset ends the open sessions


def test_expired_reset_tokens_are_refused(app: App) -> None:
    email = unique_email()
    user_id = app.user(email, "staff")
    assert app.client.post("/api/auth/password-reset", json={"email": email}).status_code == 202
    token = _outbox(app, email)[0].payload["link"].rpartition("/")[2]
    with app.session() as session:
        session.execute(
            sa.update(app.models.CrmPasswordReset)
            .where(app.models.CrmPasswordReset.user_id == user_id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    response = app.client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "long enough pw"}
    )
    assert response.status_code == 400
    bogus = app.client.post(
        "/api/auth/password-reset/confirm", json={"token": "bogus", "password": "long enough pw"}
    )
    assert bogus.status_code == 400


def test_create_user_checks_its_input(app: App) -> None:
    email = unique_email()
    app.user(email, "staff")
    with app.session() as session:
        with pytest.raises(ValueError, match="exists already"):
            app.auth.create_user(
                app.catalog, session, email=email.upper(), password=PASSWORD, roles=["staff"]
            )
        with pytest.raises(ValueError, match="unknown role 'boss'"):
            app.auth.create_user(
                app.catalog, session, email=unique_email(), password=PASSWORD, roles=["boss"]
            )
        with pytest.raises(ValueError, match="at least 8"):
            app.auth.create_user(
                app.catalog, session, email=unique_email(), password="short", roles=[]
            )
        user = app.auth.create_user(
            app.catalog,
            session,
            email=" New@Example.COM ",
            password=PASSWORD,
            roles=["admin"],
            name="N",
        )
        assert (user.email, user.name, user.roles) == ("new@example.com", "N", ["admin"])
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        session.rollback()


def holding(**settings: object) -> SimpleNamespace:
    """An app-like object whose ``state.settings`` has ``settings``."""
    return SimpleNamespace(state=SimpleNamespace(settings=SimpleNamespace(**settings)))


def test_in_local_development_without_secret_key_a_key_file_is_made(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    development = holding(secret_key=None, development=True)
    with caplog.at_level(logging.WARNING):
        key = credentials.secret_key(development)
    path = tmp_path / ".secret_key"
    assert path.read_text().strip().encode() == key and len(key) == 64
    assert path.stat().st_mode & 0o777 == 0o600
    assert "SECRET_KEY is not set" in caplog.text
    assert credentials.secret_key(development) == key  # kept
    configured = holding(secret_key="from-the-settings", development=True)
    assert credentials.secret_key(configured) == b"from-the-settings"
    with pytest.raises(RuntimeError, match="SECRET_KEY"):  # production never gets here
        credentials.secret_key(holding(secret_key=None, development=False))
    signed = credentials.sign_token(key, "token")
    assert credentials.unsign_token(key, signed) == "token"
    assert credentials.unsign_token(b"another key", signed) is None
