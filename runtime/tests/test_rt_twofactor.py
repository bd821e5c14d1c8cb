"""Two-factor sign-in (``twofactor``, ``account_security``) and one's sessions and name, over
HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pyotp
import pytest
import rt_crm
import sqlalchemy as sa
from conftest import WebClient
from crmgen_runtime import account_security, auth, auth_routes, profile, tables, twofactor
from starlette.routing import Mount
from starlette.testclient import TestClient

PASSWORD = "correct horse battery"
ANN = {"email": "ann@example.com", "password": PASSWORD}


@pytest.fixture
def client(crm_web: rt_crm.Crm, web_client: WebClient, cheap_hashes: Any) -> TestClient:
    catalog = crm_web.catalog
    routes = [
        *auth_routes.routes(catalog),
        *profile.routes(catalog),
        *account_security.routes(catalog),
    ]
    with crm_web.database.session() as session:
        auth.create_user(catalog, session, email="ann@example.com", password=PASSWORD)
        auth.create_user(
            catalog, session, email="root@example.com", password=PASSWORD, roles=["admin"]
        )
    return web_client([Mount("/api", routes=[Mount("/auth", routes=routes)])], sessions=True)


def bearer(answer: Any) -> dict[str, str]:
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def error(answer: Any) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]["code"]


def later(secret: str, steps: int = 1) -> str:
    """The code of a time step after now (the current one may be spent already)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def turn_on(client: TestClient, headers: dict[str, str]) -> tuple[str, list[str]]:
    setup = client.post("/api/auth/two-factor/setup", json={}, headers=headers)
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    assert setup.json()["otpauth_uri"].startswith("otpauth://totp/")
    wrong = client.post("/api/auth/two-factor/confirm", json={"code": "000000"}, headers=headers)
    assert error(wrong) == (422, "validation_error")
    right = pyotp.TOTP(secret).now()
    done = client.post("/api/auth/two-factor/confirm", json={"code": right}, headers=headers)
    assert done.status_code == 200, done.text
    return secret, done.json()["recovery_codes"]


def test_a_user_turns_it_on_then_signs_in_with_a_code_once(client: TestClient) -> None:
    mine = bearer(client.post("/api/auth/login", json=ANN))
    assert client.get("/api/auth/two-factor", headers=mine).json() == {
        "available": True,
        "enabled": False,
        "required": False,
        "recovery_codes_left": 0,
    }
    secret, codes = turn_on(client, mine)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/api/auth/two-factor", headers=mine).json()["enabled"] is True

    # the password alone: 401 with a token for the second step, nothing counted
    half = client.post("/api/auth/login", json=ANN)
    assert error(half) == (401, "two_factor_required")
    token = half.json()["error"]["two_factor_token"]
    wrong = client.post("/api/auth/login/code", json={"two_factor_token": token, "code": "123456"})
    assert error(wrong) == (401, "invalid_code")
    code = later(secret)
    body = {"two_factor_token": token, "code": code}
    assert bearer(client.post("/api/auth/login/code", json=body))
    # the token is spent, and so is the code (a replay of either fails)
    assert error(client.post("/api/auth/login/code", json=body)) == (401, "invalid_token")
    again = client.post("/api/auth/login", json={**ANN, "code": code})
    assert error(again) == (401, "invalid_code")
    # (a code beside the password, in one request: test_a_recovery_code_signs_in_once; the
    # next TOTP code comes 30 s later)


def test_a_recovery_code_signs_in_once(client: TestClient) -> None:
    _, codes = turn_on(client, bearer(client.post("/api/auth/login", json=ANN)))
    typed = codes[0].upper().replace("-", " ")  # as people type it
    assert bearer(client.post("/api/auth/login", json={**ANN, "code": typed}))
    assert error(client.post("/api/auth/login", json={**ANN, "code": codes[0]})) == (
        401,
        "invalid_code",
    )
    mine = bearer(client.post("/api/auth/login", json={**ANN, "code": codes[1]}))
    assert client.get("/api/auth/two-factor", headers=mine).json()["recovery_codes_left"] == 8
    fresh = client.post(
        "/api/auth/two-factor/recovery-codes", json={"password": PASSWORD}, headers=mine
    )
    assert fresh.status_code == 200 and len(fresh.json()["recovery_codes"]) == 10
    assert error(client.post("/api/auth/login", json={**ANN, "code": codes[2]})) == (
        401,
        "invalid_code",
    )


def test_wrong_codes_lock_the_account_like_wrong_passwords(
    client: TestClient, crm_web: rt_crm.Crm
) -> None:
    secret, _ = turn_on(client, bearer(client.post("/api/auth/login", json=ANN)))
    answers = [
        client.post("/api/auth/login", json={**ANN, "code": "000000"}).status_code
        for _ in range(crm_web.catalog.config.lockout_attempts)
    ]
    assert answers[-1] == 423 and set(answers[:-1]) == {401}
    # locked: even the right code waits
    assert client.post("/api/auth/login", json={**ANN, "code": later(secret)}).status_code == 423
    attempts = crm_web.catalog.table(tables.LoginAttemptTable)
    with crm_web.database.session() as session:
        reasons = session.scalars(sa.select(attempts.reason).order_by(attempts.id)).all()
    assert "bad_code" in reasons and "code_required" not in reasons


def test_turning_it_off_needs_the_password_and_a_code(client: TestClient) -> None:
    mine = bearer(client.post("/api/auth/login", json=ANN))
    secret, _ = turn_on(client, mine)
    off = "/api/auth/two-factor/disable"
    assert error(
        client.post(off, json={"password": "nope", "code": later(secret)}, headers=mine)
    ) == (
        403,
        "wrong_password",
    )
    assert (
        client.post(off, json={"password": PASSWORD, "code": "1"}, headers=mine).status_code == 422
    )
    done = client.post(off, json={"password": PASSWORD, "code": later(secret)}, headers=mine)
    assert done.status_code == 204
    assert bearer(client.post("/api/auth/login", json=ANN))  # the password alone again


def test_a_role_that_requires_it_enrols_before_its_first_session(
    client: TestClient, crm_web: rt_crm.Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = dataclasses.replace(crm_web.catalog.config, two_factor_required=frozenset({"admin"}))
    monkeypatch.setattr(crm_web.catalog, "config", config)
    root = {"email": "root@example.com", "password": PASSWORD}
    first = client.post("/api/auth/login", json=root)
    assert error(first) == (403, "two_factor_setup_required")
    token = first.json()["error"]["two_factor_token"]
    assert "set-cookie" not in first.headers
    # the token only enrols: it is no session
    assert (
        client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
    setup = client.post("/api/auth/two-factor/setup", json={"two_factor_token": token})
    secret = setup.json()["secret"]
    body = {"two_factor_token": token, "code": pyotp.TOTP(secret).now()}
    done = client.post("/api/auth/two-factor/confirm", json=body)
    assert len(done.json()["recovery_codes"]) == 10
    mine = bearer(done)
    assert client.get("/api/auth/me", headers=mine).json()["email"] == "root@example.com"
    assert client.get("/api/auth/two-factor", headers=mine).json()["required"] is True
    off = {"password": PASSWORD, "code": later(secret)}
    assert error(client.post("/api/auth/two-factor/disable", json=off, headers=mine)) == (
        403,
        "forbidden",
    )
    # from now on, a code
    assert error(client.post("/api/auth/login", json=root)) == (401, "two_factor_required")
    # ann's role does not require it
    assert bearer(client.post("/api/auth/login", json=ANN))


def test_an_app_without_two_factor_has_none(
    client: TestClient, crm_web: rt_crm.Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = bearer(client.post("/api/auth/login", json=ANN))
    turn_on(client, mine)
    monkeypatch.setattr(
        crm_web.catalog, "config", dataclasses.replace(crm_web.catalog.config, two_factor=False)
    )
    assert bearer(client.post("/api/auth/login", json=ANN))  # the password alone
    assert client.post("/api/auth/two-factor/setup", json={}, headers=mine).status_code == 404


def test_a_user_sees_and_ends_their_own_sessions_only(
    client: TestClient, crm_web: rt_crm.Crm
) -> None:
    first = bearer(client.post("/api/auth/login", json=ANN))
    second = bearer(client.post("/api/auth/login", json=ANN))
    root = bearer(
        client.post("/api/auth/login", json={"email": "root@example.com", "password": PASSWORD})
    )
    items = client.get("/api/auth/sessions", headers=second).json()["items"]
    assert len(items) == 2 and [item["current"] for item in items] == [True, False]
    theirs = client.get("/api/auth/sessions", headers=root).json()["items"][0]["id"]
    assert client.delete(f"/api/auth/sessions/{theirs}", headers=second).status_code == 404
    assert client.delete("/api/auth/sessions/x", headers=second).status_code == 404
    assert client.delete(f"/api/auth/sessions/{items[1]['id']}", headers=second).status_code == 204
    assert client.get("/api/auth/me", headers=first).status_code == 401
    assert client.get("/api/auth/me", headers=root).status_code == 200


def test_anyone_changes_their_own_name_audited(client: TestClient, crm_web: rt_crm.Crm) -> None:
    mine = bearer(client.post("/api/auth/login", json=ANN))
    answer = client.post("/api/auth/name", json={"name": "  Ann Lee "}, headers=mine)
    assert answer.json()["name"] == "Ann Lee"
    assert client.get("/api/auth/me", headers=mine).json()["name"] == "Ann Lee"
    assert client.post("/api/auth/name", json={"name": ""}, headers=mine).status_code == 422
    log = crm_web.catalog.table(tables.AuditEntryTable)
    with crm_web.database.session() as session:
        changes = session.scalars(sa.select(log.changes).where(log.entity == "User")).all()
    assert {"name": [None, "Ann Lee"]} in changes or any("name" in c for c in changes)


def test_codes_are_normalised() -> None:
    assert twofactor.normalize(" AB12c-de 34 ") == "ab12cde34"


def test_anyone_chooses_their_own_language(
    client: TestClient, crm_web: rt_crm.Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = dataclasses.replace(crm_web.catalog.config, locales=("en", "ru"))
    monkeypatch.setattr(crm_web.catalog, "config", config)
    mine = bearer(client.post("/api/auth/login", json=ANN))
    assert client.get("/api/auth/me", headers=mine).json()["locale"] is None
    answer = client.post("/api/auth/locale", json={"locale": "ru"}, headers=mine)
    assert answer.json() == {"id": answer.json()["id"], "locale": "ru"}
    assert client.get("/api/auth/me", headers=mine).json()["locale"] == "ru"
    wrong = client.post("/api/auth/locale", json={"locale": "xx"}, headers=mine)
    assert error(wrong) == (422, "validation_error") and "locale" in wrong.json()["error"]["fields"]
    assert client.post("/api/auth/locale", json={"locale": 3}, headers=mine).status_code == 422
    cleared = client.post("/api/auth/locale", json={"locale": None}, headers=mine)
    assert cleared.json()["locale"] is None
