"""The generated CRM (examples/crm) over real HTTP: uvicorn, the app's CLI, SQLite and PostgreSQL.

One server per database kind (``server`` fixture): migrated and given its users through
``python -m reference_crm migrate|createuser``, then driven with httpx like a client would.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import httpx2 as httpx

from tests.e2e.conftest import PASSWORD, Server


def test_health_and_openapi(server: Server) -> None:
    with server.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert "/api/contacts" in document["paths"] and "/api/contacts/{id}" in document["paths"]


def test_login(server: Server) -> None:
    ok = server.login("admin")
    assert ok.status_code == 200 and ok.json()["token_type"] == "bearer"
    assert server.login("admin", "wrong password").status_code == 401
    with server.client(ok.json()["access_token"]) as client:
        assert client.get("/api/auth/me").json()["email"] == server.users["admin"]
    with server.client() as anonymous:
        assert anonymous.get("/api/contacts").status_code == 401


def test_create_list_filter_sort_search_page(server: Server) -> None:
    with server.client(server.token("admin")) as admin:
        company = admin.post("/api/companies", json={"name": "E2E Search Works"})
        assert company.status_code == 201, company.text
        company_id = company.json()["id"]
        assert company.headers["Location"].endswith(f"/api/companies/{company_id}")
        names = ["E2E Alpha", "E2E Bravo", "E2E Charlie", "E2E Delta"]
        made = []
        for name in names:
            created = admin.post("/api/contacts", json={"full_name": name, "company": company_id})
            assert created.status_code == 201, created.text
            made.append(created.json()["id"])

        page = admin.get("/api/contacts", params={"company": company_id, "sort": "-full_name"})
        assert page.status_code == 200, page.text
        body = page.json()
        assert [item["full_name"] for item in body["items"]] == names[::-1]
        assert body["total"] == len(names)
        assert body["items"][0]["company"] == {"id": company_id, "display": "E2E Search Works"}

        found = admin.get("/api/contacts", params={"q": "charlie"}).json()
        assert [item["id"] for item in found["items"]] == [made[2]]

        seen: list[int] = []
        params: dict[str, str | int] = {"company": company_id, "sort": "full_name", "limit": 3}
        while True:
            chunk = admin.get("/api/contacts", params=params).json()
            seen += [item["id"] for item in chunk["items"]]
            if not chunk["next_cursor"]:
                break
            params["cursor"] = chunk["next_cursor"]
        assert seen == made

        bad = admin.get("/api/contacts", params={"sort": "no_such_field"})
        assert bad.status_code in (400, 422), bad.text


def test_stale_version_is_a_conflict(server: Server) -> None:
    with server.client(server.token("admin")) as admin:
        record = admin.post("/api/leads", json={"name": "E2E Lead"}).json()
        url = f"/api/leads/{record['id']}"
        fresh = admin.patch(url, json={"status": "contacted", "version": record["version"]})
        assert fresh.status_code == 200, fresh.text
        assert fresh.json()["version"] == record["version"] + 1
        stale = admin.patch(url, json={"status": "qualified", "version": record["version"]})
        assert stale.status_code == 409, stale.text
        assert stale.json()["error"]["code"]


def test_another_sellers_record_is_not_found(server: Server) -> None:
    with server.client(server.token("seller1")) as seller1:
        record = seller1.post("/api/contacts", json={"full_name": "E2E Private"}).json()
        assert seller1.get(f"/api/contacts/{record['id']}").status_code == 200
    with server.client(server.token("seller2")) as seller2:
        url = f"/api/contacts/{record['id']}"
        assert seller2.get(url).status_code == 404
        assert seller2.patch(url, json={"notes": "mine now"}).status_code == 404
        assert seller2.delete(url).status_code == 404
        listed = seller2.get("/api/contacts", params={"q": "E2E Private"}).json()
        assert listed["items"] == []


def test_lockout_after_five_bad_passwords(server: Server) -> None:
    answers = [server.login("locked", "wrong password").status_code for _ in range(5)]
    assert answers[:4] == [401] * 4 and answers[4] in (401, 423, 429)
    locked = server.login("locked")  # the right password, too late
    assert locked.status_code in (423, 429), locked.text
    assert "lock" in locked.json()["error"]["message"].lower()


def test_audit_rows_are_written(server: Server) -> None:
    with server.client(server.token("admin")) as admin:
        record = admin.post("/api/positions", json={"name": "E2E Auditor"}).json()
        admin.patch(
            f"/api/positions/{record['id']}",
            json={"description": "audited", "version": record["version"]},
        )
        admin.delete(f"/api/positions/{record['id']}")
        query = {"entity": "Position", "record_id": record["id"]}
        log = admin.get("/api/audit", params=query)
        assert log.status_code == 200, log.text
        entries = log.json()["items"]
    assert sorted(e["action"] for e in entries) == ["create", "delete", "update"]
    update = next(e for e in entries if e["action"] == "update")
    assert update["changes"]["description"] == [None, "audited"]
    assert {e["user_email"] for e in entries} == {server.users["admin"]}
    with server.client(server.token("seller1")) as seller:
        assert seller.get("/api/audit").status_code == 403


@contextlib.contextmanager
def _web_session(server: Server, name: str) -> Iterator[httpx.Client]:
    """A browser-like client signed in through the login form (a session cookie, CSRF tokens)."""
    with server.client() as client:
        page = client.get("/login")
        signed = client.post(
            "/login",
            data={
                "csrf_token": _form_token(page.text),
                "email": server.users[name],
                "password": PASSWORD,
            },
        )
        assert signed.status_code == 303, signed.text
        yield client


def _form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def test_the_deal_pipeline_refuses_a_disallowed_stage_everywhere(server: Server) -> None:
    """The reference CRM's deal workflow over real HTTP: the API (409 for a move the pipeline
    does not allow, 403 for a move the role may not make), the kanban's move form and an
    import all refuse, and the deal keeps its stage."""
    with server.client(server.token("seller1")) as seller:
        made = seller.post("/api/deals", json={"name": "E2E pipeline", "amount": "500.00"})
        assert made.status_code == 201, made.text
        deal = made.json()
        assert deal["stage"] == "lead"
        jump = seller.patch(f"/api/deals/{deal['id']}", json={"stage": "negotiation"})
        assert jump.status_code == 409, jump.text
        assert "negotiation" in jump.text.lower()
        on = seller.patch(f"/api/deals/{deal['id']}", json={"stage": "proposal"})
        assert on.status_code == 200, on.text
        win = seller.patch(f"/api/deals/{deal['id']}", json={"stage": "won"})
        assert win.status_code == 403, win.text  # a sales manager's move
        assert seller.get(f"/api/deals/{deal['id']}").json()["stage"] == "proposal"
        version = seller.get(f"/api/deals/{deal['id']}").json()["version"]

    with _web_session(server, "seller1") as web:
        board = web.get("/deals/kanban")
        assert board.status_code == 200, board.text
        card = re.search(
            rf'<li class="kanban-card" data-id="{deal["id"]}".*?</li>', board.text, re.DOTALL
        )
        assert card, "the deal is not on the board"
        offered = re.findall(r'name="value" value="(\w+)" role="menuitem"', card.group(0))
        assert offered == ["qualification", "negotiation", "lost"]  # never a win for a seller
        form = {
            "csrf_token": _form_token(board.text),
            "id": str(deal["id"]),
            "version": str(version),
            "value": "won",
            "next": "/deals/kanban",
        }
        refused = web.post("/deals/kanban/move", data=form)
        assert refused.status_code == 403, refused.text  # the role, as through the API

    with _web_session(server, "admin") as web:
        page = web.get("/deals/import")
        assert page.status_code == 200, page.text
        sent = web.post(
            "/deals/import",
            data={"csrf_token": _form_token(page.text)},
            files={"file": ("deals.csv", f"id,Stage\n{deal['id']},lead\n".encode(), "text/csv")},
        )
        assert sent.status_code == 303, sent.text
        location = sent.headers["location"]
        mapping = {"c0": "id", "c1": "stage", "match": "id"}
        preview = web.get(f"{location}/preview", params=mapping)
        assert preview.status_code == 200, preview.text
        done = web.post(
            f"{location}/run", data={"csrf_token": _form_token(preview.text), **mapping}
        )
        assert done.status_code == 303, done.text
        failed = web.get(f"{location}/failed.csv").content.decode("utf-8-sig")
        assert "lead" in failed and str(deal["id"]) in failed, failed

    with server.client(server.token("admin")) as admin:
        assert admin.get(f"/api/deals/{deal['id']}").json()["stage"] == "proposal"
