"""Who may change a user's sign-in identity and power (issue 10 item 1), over real HTTP.

A user's e-mail, ``active`` flag and roles are changed only by a role with ``manage_users`` (the
reference CRM's manager has it) or a superuser; a superuser's record only by a superuser; a
superuser role is granted or removed only by a superuser; nobody changes their own roles,
``active`` flag or (through ``/api/users``) e-mail. The session side (what such a change ends)
is in ``tests/security/sessions/test_revocation.py``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from crmgen.generate import generate
from tests.security.crm import CRM_SPEC, KINDS, Crm, email, start_crm


def _patch(crm: Crm, actor: str, target: str, body: dict[str, object]) -> tuple[int, dict]:
    with crm.client(crm.token(actor)) as client:
        response = client.patch(f"/api/users/{crm.user_id(target)}", json=body)
    return response.status_code, response.json()


def test_a_manager_cannot_take_over_the_superuser(crm: Crm) -> None:
    admin = crm.user_id("admin")
    with crm.client(crm.token("manager")) as manager:
        for body in (
            {"email": "evil@attacker.example"},
            {"active": False},
            {"roles": ["sales"]},
            {"name": "Not the admin"},
        ):
            response = manager.patch(f"/api/users/{admin}", json=body)
            assert response.status_code == 403, (body, response.text)
        assert manager.delete(f"/api/users/{admin}").status_code == 403
        # The reset goes to the real address only.
        for address in ("evil@attacker.example", email("admin")):
            done = manager.post("/api/auth/password-reset", json={"email": address})
            assert done.status_code == 202
    assert crm.mails("evil@attacker.example") == []
    assert crm.mails(email("admin")), "the real superuser gets the reset mail"
    row = crm.sql("SELECT email, active, name FROM users WHERE id = :id", id=admin)[0]
    assert tuple(row) == (email("admin"), True, row[2]) and row[2] != "Not the admin"
    assert crm.login("admin").status_code == 200


def test_roles_are_listed_sorted_and_validated(crm: Crm) -> None:
    with crm.client(crm.token("manager")) as manager:
        listed = manager.get("/api/users", params={"limit": 500}).json()["items"]
        by_email = {item["email"]: item for item in listed}
        assert by_email[email("admin")]["roles"] == ["admin"]
        assert by_email[email("sales")]["roles"] == ["sales"]
        one = manager.get(f"/api/users/{crm.user_id('manager')}").json()
        assert one["roles"] == ["manager"]
        for bad in (["sales", "emperor"], "sales", [1]):
            response = manager.patch(f"/api/users/{crm.user_id('sales')}", json={"roles": bad})
            assert response.status_code == 422, response.text
            assert "roles" in response.json()["error"]["fields"]
        response = manager.patch(
            f"/api/users/{crm.user_id('sales')}", json={"roles": ["sales", "emperor"]}
        )
        assert "'emperor'" in response.json()["error"]["fields"]["roles"]
    with crm.client() as anonymous:
        schemas = anonymous.get("/openapi.json").json()["components"]["schemas"]
    for name in ("User", "UserCreate", "UserUpdate"):
        assert schemas[name]["properties"]["roles"]["type"] == "array", name


def test_nobody_changes_their_own_roles_or_active_flag(crm: Crm) -> None:
    for actor, body in (
        ("manager", {"roles": ["manager", "admin"]}),
        ("manager", {"roles": []}),
        ("manager", {"active": False}),
        ("admin", {"roles": []}),
        ("admin", {"active": False}),
    ):
        status, answer = _patch(crm, actor, actor, body)
        assert status == 403, (actor, body, answer)
    assert crm.sql(
        "SELECT role FROM crm_user_roles WHERE user_id = :id", id=crm.user_id("manager")
    ) == [("manager",)]
    assert crm.login("admin").status_code == 200


def test_own_email_goes_through_the_confirmed_change(crm: Crm) -> None:
    status, answer = _patch(crm, "manager", "manager", {"email": "me@elsewhere.example"})
    assert status == 403
    assert "/api/auth/email" in answer["error"]["message"]
    # The same e-mail again is not a change: a form that sends every field still saves.
    status, answer = _patch(
        crm, "manager", "manager", {"email": email("manager"), "phone": "+1 555 0100"}
    )
    assert status == 200, answer


def test_only_a_superuser_grants_or_removes_a_superuser_role(crm: Crm) -> None:
    target = crm.add_user("promoted", "support")
    with crm.client(crm.token("manager")) as manager:
        refused = manager.patch(f"/api/users/{target}", json={"roles": ["admin", "support"]})
        assert refused.status_code == 403, refused.text
        created = manager.post(
            "/api/users", json={"email": "boss@demo.example", "name": "Boss", "roles": ["admin"]}
        )
        assert created.status_code == 403, created.text
    with crm.client(crm.token("admin")) as admin:
        granted = admin.patch(f"/api/users/{target}", json={"roles": ["support", "admin"]})
        assert granted.status_code == 200, granted.text
        assert granted.json()["roles"] == ["admin", "support"]
    with crm.client(crm.token("manager")) as manager:  # now a superuser's record
        assert (
            manager.patch(f"/api/users/{target}", json={"phone": "+1 555 0101"}).status_code == 403
        )
        assert manager.delete(f"/api/users/{target}").status_code == 403
    with crm.client(crm.token("admin")) as admin:
        removed = admin.patch(f"/api/users/{target}", json={"roles": ["support"]})
        assert removed.status_code == 200 and removed.json()["roles"] == ["support"]


def test_a_user_manager_manages_the_team(crm: Crm) -> None:
    target = crm.add_user("recruit", "sales")
    with crm.client(crm.token("manager")) as manager:
        changed = manager.patch(
            f"/api/users/{target}",
            json={"email": "recruit-new@demo.example", "roles": ["support", "sales"]},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["email"] == "recruit-new@demo.example"
        assert changed.json()["roles"] == ["sales", "support"]
        created = manager.post(
            "/api/users",
            json={"email": "hire@demo.example", "name": "Hire", "roles": ["sales"]},
        )
        assert created.status_code == 201, created.text
        assert created.json()["roles"] == ["sales"]
        for method, url in (("POST", "/api/users"), ("PATCH", f"/api/users/{target}")):
            twin = manager.request(method, url, json={"email": "SALES@Demo.Example"})
            assert twin.status_code == 409, twin.text  # sign-in ignores case: so do duplicates
        unknown = manager.post("/api/users", json={"email": "x@demo.example", "roles": ["wizard"]})
        assert unknown.status_code == 422 and "'wizard'" in unknown.text
        assert manager.delete(f"/api/users/{created.json()['id']}").status_code == 204
        assert manager.delete(f"/api/users/{crm.user_id('manager')}").status_code == 403


def test_the_web_forms_and_bulk_delete_obey_the_same_rules(crm: Crm) -> None:
    admin = crm.user_id("admin")
    with crm.client() as browser:
        login = browser.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        assert csrf is not None
        signed_in = browser.post(
            "/login",
            data={"email": email("manager"), "password": "demo-password", "csrf_token": csrf[1]},
        )
        assert signed_in.status_code == 303
        page = browser.get(f"/users/{admin}/edit")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        version = re.search(r'name="version" value="([^"]*)"', page.text)
        assert token is not None and version is not None, page.text
        saved = browser.post(
            f"/users/{admin}/edit",
            data={
                "csrf_token": token[1],
                "version": version[1],
                "email": "evil@attacker.example",
                "name": "admin",
                "active": "on",
            },
        )
        assert saved.status_code == 403, saved.status_code
        bulk = browser.post(
            "/users/bulk-delete",
            data={"csrf_token": token[1], "id": [str(admin), str(crm.user_id("manager"))]},
        )
        assert bulk.status_code == 200, bulk.status_code  # the page lists both as refused
        detail = browser.get(f"/users/{crm.user_id('sales')}")
        assert detail.status_code == 200
        assert "Менеджер по продажам" in detail.text  # the sales role's label (ru: the default)
    assert crm.sql("SELECT email FROM users WHERE id = :id", id=admin) == [(email("admin"),)]
    assert crm.sql("SELECT count(*) FROM users WHERE id = :id", id=crm.user_id("manager")) == [(1,)]


# --- a role that may update users but not manage them -----------------------------------------


@pytest.fixture(scope="module")
def without_management(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference CRM whose manager has ``all`` on User but not ``manage_users``."""
    spec = tmp_path_factory.mktemp("spec") / "crm"
    shutil.copytree(CRM_SPEC, spec)
    app = spec / "app.yaml"
    text = app.read_text(encoding="utf-8")
    text = re.sub(r"\n    manage_users: [^\n]*", "", text)
    app.write_text(
        text.replace("    audit: true\n", "    audit: true\n    manage_users: false\n", 1),
        encoding="utf-8",
    )
    return spec


@pytest.mark.parametrize("kind", KINDS)
def test_without_manage_users_only_ordinary_fields_change(
    kind: str, without_management: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    out = tmp_path_factory.mktemp("variant") / "crm"
    generate(without_management, out)
    with start_crm(kind, tmp_path_factory, out=out) as crm:
        seller = crm.user_id("sales")
        with crm.client(crm.token("manager")) as manager:
            for body in ({"email": "x@demo.example"}, {"active": False}, {"roles": ["support"]}):
                response = manager.patch(f"/api/users/{seller}", json=body)
                assert response.status_code == 403, (body, response.text)
                assert set(body) <= set(response.json()["error"]["fields"])
            fine = manager.patch(f"/api/users/{seller}", json={"phone": "+1 555 0102"})
            assert fine.status_code == 200, fine.text
            created = manager.post("/api/users", json={"email": "new@demo.example"})
            assert created.status_code == 403, created.text
            assert manager.delete(f"/api/users/{seller}").status_code == 403
