"""What a change of a user's identity or power ends (issue 10 item 1), over real HTTP.

Changing one's own password needs the current one and ends one's other sessions; changing
one's own e-mail needs the password and a link mailed to the new address. Any e-mail or
password change (by the user, a user manager or the reset flow) revokes the user's other
sessions and unused reset and e-mail-change links; deactivating a user or lowering their
roles revokes their sessions at once (the rows, not only the lookup).
"""

from __future__ import annotations

import hashlib

from tests.security.crm import Crm, email

NEW_PASSWORD = "a-new-password-1"


def _me(crm: Crm, token: str) -> int:
    with crm.client(token) as client:
        return client.get("/api/auth/me").status_code


def _live_sessions(crm: Crm, user_id: int) -> int:
    rows = crm.sql(
        "SELECT count(*) FROM crm_sessions WHERE user_id = :id AND revoked_at IS NULL", id=user_id
    )
    return int(rows[0][0])


def _token_of(link: str, marker: str) -> str:
    assert marker in link, link
    return link.rpartition("/")[2]


def _reset_link(crm: Crm, name: str) -> str:
    with crm.client() as client:
        assert (
            client.post("/api/auth/password-reset", json={"email": email(name)}).status_code == 202
        )
    return _token_of(crm.mails(email(name))[-1]["link"], "/password-reset/")


def _confirm_reset(crm: Crm, token: str, password: str = NEW_PASSWORD) -> int:
    with crm.client() as client:
        return client.post(
            "/api/auth/password-reset/confirm", json={"token": token, "password": password}
        ).status_code


def test_own_password_change_needs_the_password_and_ends_the_other_sessions(crm: Crm) -> None:
    crm.add_user("pw", "sales")
    here, there = crm.token("pw"), crm.token("pw")
    reset = _reset_link(crm, "pw")
    with crm.client(here) as client:
        wrong = client.post(
            "/api/auth/password",
            json={"current_password": "not-the-password", "password": NEW_PASSWORD},
        )
        assert wrong.status_code == 403, wrong.text
        short = client.post(
            "/api/auth/password", json={"current_password": "demo-password", "password": "short"}
        )
        assert short.status_code == 422 and "password" in short.json()["error"]["fields"]
        done = client.post(
            "/api/auth/password",
            json={"current_password": "demo-password", "password": NEW_PASSWORD},
        )
        assert done.status_code == 204, done.text
    assert _me(crm, here) == 200, "the session that changed it goes on"
    assert _me(crm, there) == 401
    assert _live_sessions(crm, crm.user_id("pw")) == 1
    assert _confirm_reset(crm, reset) == 400, "an unused reset link dies with the change"
    assert crm.login("pw").status_code == 401
    assert crm.login("pw", NEW_PASSWORD).status_code == 200
    with crm.client() as anonymous:
        assert anonymous.post("/api/auth/password", json={}).status_code == 401


def test_own_email_change_needs_the_password_and_the_mailed_link(crm: Crm) -> None:
    user_id = crm.add_user("mover", "sales")
    new = "mover-new@demo.example"
    here, there = crm.token("mover"), crm.token("mover")
    reset = _reset_link(crm, "mover")
    with crm.client(here) as client:
        wrong = client.post("/api/auth/email", json={"email": new, "password": "nope-nope"})
        assert wrong.status_code == 403, wrong.text
        taken = client.post(
            "/api/auth/email", json={"email": email("sales"), "password": "demo-password"}
        )
        assert taken.status_code == 409, taken.text
        bad = client.post(
            "/api/auth/email", json={"email": "not-an-address", "password": "demo-password"}
        )
        assert bad.status_code == 422, bad.text
        asked = client.post("/api/auth/email", json={"email": new, "password": "demo-password"})
        assert asked.status_code == 202, asked.text
    assert crm.sql("SELECT email FROM users WHERE id = :id", id=user_id) == [(email("mover"),)]
    mailed = crm.mails(new)
    assert len(mailed) == 1
    token = _token_of(mailed[0]["link"], "/email-change/")
    assert mailed[0]["link"].startswith(crm.base + "/email-change/")
    with crm.client() as browser:
        page = browser.get(f"/email-change/{token}")
        assert page.status_code == 200 and "<form" in page.text
    with crm.client(here) as client:
        confirmed = client.post("/api/auth/email/confirm", json={"token": token})
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["email"] == new
        again = client.post("/api/auth/email/confirm", json={"token": token})
        assert again.status_code == 400
    assert crm.sql("SELECT email FROM users WHERE id = :id", id=user_id) == [(new,)]
    notices = crm.mails(email("mover"))
    assert any(new in notice["text"] for notice in notices), "the old address is told"
    assert _me(crm, here) == 200
    assert _me(crm, there) == 401
    assert _confirm_reset(crm, reset) == 400, "an unused reset link dies with the change"
    with crm.client() as client:
        old = client.post(
            "/api/auth/login", json={"email": email("mover"), "password": "demo-password"}
        )
        assert old.status_code == 401
        assert (
            client.post(
                "/api/auth/login", json={"email": new, "password": "demo-password"}
            ).status_code
            == 200
        )


def test_the_reset_flow_ends_pending_email_changes(crm: Crm) -> None:
    crm.add_user("resetter", "sales")
    new = "resetter-new@demo.example"
    with crm.client(crm.token("resetter")) as client:
        asked = client.post("/api/auth/email", json={"email": new, "password": "demo-password"})
        assert asked.status_code == 202, asked.text
    token = _token_of(crm.mails(new)[-1]["link"], "/email-change/")
    assert _confirm_reset(crm, _reset_link(crm, "resetter")) == 204
    with crm.client() as client:
        assert client.post("/api/auth/email/confirm", json={"token": token}).status_code == 400
    assert crm.sql("SELECT count(*) FROM users WHERE email = :e", e=new) == [(0,)]


def test_a_user_managers_changes_end_the_users_sessions(crm: Crm) -> None:
    moved = crm.add_user("moved", "sales")
    off = crm.add_user("off", "sales")
    lowered = crm.add_user("lowered", "sales", "support")
    raised = crm.add_user("raised", "support")
    tokens = {name: crm.token(name) for name in ("moved", "off", "lowered", "raised")}
    reset = _reset_link(crm, "moved")
    with crm.client(crm.token("manager")) as manager:
        for user_id, body in (
            (moved, {"email": "moved-new@demo.example"}),
            (off, {"active": False}),
            (lowered, {"roles": ["sales"]}),
            (raised, {"roles": ["sales", "support"]}),
        ):
            response = manager.patch(f"/api/users/{user_id}", json=body)
            assert response.status_code == 200, (body, response.text)
    for name, user_id in (("moved", moved), ("off", off), ("lowered", lowered)):
        assert _me(crm, tokens[name]) == 401, name
        assert _live_sessions(crm, user_id) == 0, f"{name}: the session rows are revoked"
    assert _me(crm, tokens["raised"]) == 200, "more roles end nothing"
    assert _confirm_reset(crm, reset) == 400
    assert any("moved-new@demo.example" in m["text"] for m in crm.mails(email("moved")))


def test_the_hot_reads_refuse_a_revoked_session_or_a_deactivated_user_at_once(crm: Crm) -> None:
    """A list page and one record look the session up on their own connection (one per
    request): still as it is now, so a session revoked or a user deactivated behind the app's
    back (the rows alone) is refused on the very next request."""
    crm.add_user("hot-revoked", "sales")
    off = crm.add_user("hot-off", "sales")
    tokens = {"hot-revoked": crm.token("hot-revoked"), "hot-off": crm.token("hot-off")}
    paths = {}
    for name, token in tokens.items():
        with crm.client(token) as client:
            made = client.post("/api/contacts", json={"full_name": f"Hot {name}"})
            assert made.status_code == 201, made.text
            paths[name] = ["/api/contacts", f"/api/contacts/{made.json()['id']}"]
            for path in paths[name]:
                assert client.get(path).status_code == 200, path
    digest = hashlib.sha256(tokens["hot-revoked"].encode()).hexdigest()
    crm.sql(
        "UPDATE crm_sessions SET revoked_at = CURRENT_TIMESTAMP WHERE token_hash = :h", h=digest
    )
    crm.sql("UPDATE users SET active = false WHERE id = :id", id=off)
    for name, token in tokens.items():
        with crm.client(token) as client:
            for path in paths[name]:
                refused = client.get(path)
                assert refused.status_code == 401, (name, path, refused.text)
