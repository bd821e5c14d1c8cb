"""GDPR requests in the reference CRM over HTTP, on SQLite and PostgreSQL (issue 16, item 2).

One person, Zebulon Quackenbush, is spread over the CRM the way a real one is: a contact with an
e-mail, a phone and a photo; a won deal named after him with an amount; a call logged with his
number; a client group he is a member of; comments on him and his deal (mentioning the
administrator, who is notified); e-mails sent from him and from his deal (the outbox and the mail
log). ``GET /api/contacts/{id}/personal-data`` gives all of it to a manager as a zip (never to a
seller or support); ``POST /api/contacts/{id}/erase`` leaves no table and no column (search
tables included) holding his name, address or number, while his deal keeps its amount and his
company its won total; a second erasure has nothing to do. The retention rule anonymises the
lost leads untouched for a year, run by the app's scheduler against the same database.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from tests.security.crm import Crm, email

NAME = "Zebulon Quackenbush"
MAIL = "zebulon.quack@example.org"
PHONE = "+79161234567"
PASSPORT = "QX 7781 0042"
IDENTIFIERS = (NAME, MAIL, PHONE)
REASON = f"Art. 17 request by e-mail from {MAIL}"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


_TOKENS: dict[tuple[str, str], str] = {}


def _token(crm: Crm, user: str) -> str:
    """``user``'s bearer token on this server, signed in once (argon2 is slow on purpose)."""
    key = (crm.base, user)
    if key not in _TOKENS:
        _TOKENS[key] = crm.token(user)
    return _TOKENS[key]


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def person(crm: Crm) -> dict[str, Any]:
    """The person's records, made through the API as the manager; their ids."""
    with crm.client(_token(crm, "manager")) as client:
        company = _created(client.post("/api/companies", json={"name": "Quack Holdings"}))
        photo = _created(
            client.post(
                "/api/files", params={"field": "contacts.photo"}, files={"file": ("z.png", PNG)}
            )
        )
        contact = _created(
            client.post(
                "/api/contacts",
                json={
                    "full_name": NAME,
                    "email": MAIL,
                    "phone": PHONE,
                    "company": company["id"],
                    "notes": f"Prefers calls to {PHONE}",
                    "passport_number": PASSPORT,  # encrypted, found through its blind index
                    "photo": photo["id"],
                },
            )
        )
        deal = _created(
            client.post(
                "/api/deals",
                json={
                    "name": f"Licences for {NAME}",
                    "amount": "1000.00",
                    "company": company["id"],
                    "contact": contact["id"],
                },
            )
        )
        for stage in ("proposal", "won"):  # the pipeline's way, as the manager
            moved = client.patch(f"/api/deals/{deal['id']}", json={"stage": stage})
            assert moved.status_code == 200, moved.text
        call = _created(
            client.post(
                "/api/interactions",
                json={
                    "kind": "call",
                    "gist": f"Call with {NAME}",
                    "phone": PHONE,
                    "contact": contact["id"],
                },
            )
        )
        group = _created(
            client.post(
                "/api/client_groups", json={"name": "Quack list", "members": [contact["id"]]}
            )
        )
        for path in (f"/api/contacts/{contact['id']}", f"/api/deals/{deal['id']}"):
            said = client.post(
                f"{path}/comments",
                json={"body": f"{NAME} ({MAIL}) agreed, @{email('admin')} please call"},
            )
            assert said.status_code == 201, said.text
        mailed = client.post(
            f"/api/contacts/{contact['id']}/emails", json={"template": "contact_follow_up"}
        )
        assert mailed.status_code in (200, 201, 202), mailed.text
        mailed = client.post(f"/api/deals/{deal['id']}/emails", json={"template": "deal_proposal"})
        assert mailed.status_code in (200, 201, 202), mailed.text
    return {
        "company": company["id"],
        "contact": contact["id"],
        "deal": deal["id"],
        "call": call["id"],
        "group": group["id"],
        "photo": photo["id"],
    }


def _export(crm: Crm, user: str, contact_id: int) -> httpx.Response:
    with crm.client(_token(crm, user)) as client:
        return client.get(f"/api/contacts/{contact_id}/personal-data")


def _erase(crm: Crm, user: str, contact_id: int, body: Any) -> httpx.Response:
    with crm.client(_token(crm, user)) as client:
        return client.post(f"/api/contacts/{contact_id}/erase", json=body)


def _holding(crm: Crm, needles: tuple[str, ...]) -> list[str]:
    """Every table.column of the database whose text holds one of ``needles`` (any case)."""
    found = []
    engine = crm.engine()
    lowered = [n.lower() for n in needles]
    try:
        with engine.connect() as connection:
            for table in sa.inspect(connection).get_table_names():
                quoted = '"' + table.replace('"', '""') + '"'
                result = connection.execute(sa.text(f"SELECT * FROM {quoted}"))
                columns = list(result.keys())
                for row in result:
                    for column, value in zip(columns, row, strict=True):
                        if value is None:
                            continue
                        if isinstance(value, (bytes, bytearray, memoryview)):
                            text = bytes(value).decode("utf-8", "replace")
                        elif isinstance(value, (dict, list)):
                            text = json.dumps(value, ensure_ascii=False)
                        else:
                            text = str(value)
                        text = text.lower()
                        if any(n in text or json.dumps(n)[1:-1] in text for n in lowered):
                            found.append(f"{table}.{column}")
    finally:
        engine.dispose()
    return sorted(set(found))


def test_an_export_holds_the_person_across_entities(crm: Crm, person: dict[str, Any]) -> None:
    response = _export(crm, "manager", person["contact"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())

    def rows(name: str) -> list[dict[str, Any]]:
        return list(json.loads(archive.read(f"{name}.json")))

    assert [(r["full_name"], r["passport_number"]) for r in rows("contacts")] == [(NAME, PASSPORT)]
    assert all(not key.endswith("__bidx") for key in rows("contacts")[0])  # no internal columns
    assert [(r["id"], r["amount"]) for r in rows("deals.contact")] == [(person["deal"], "1000.00")]
    assert [r["id"] for r in rows("interactions.contact")] == [person["call"]]
    assert [r["id"] for r in rows("client_groups.members")] == [person["group"]]
    assert [NAME in r["body"] for r in rows("comments")] == [True]
    assert {r["action"] for r in rows("audit")} >= {"create"}
    assert any(MAIL in r["recipients"] for r in rows("emails"))
    assert [NAME in r["message"] for r in rows("notifications")] == [True]  # admin's mention
    assert [r["id"] for r in rows("files")] == [person["photo"]]
    assert archive.read(f"files/{person['photo']}-z.png") == PNG
    table = list(csv.DictReader(io.StringIO(archive.read("contacts.csv").decode())))
    assert [(r["full_name"], r["email"]) for r in table] == [(NAME, MAIL)]
    assert {"README.txt", "deals.contact.csv", "comments.csv"} <= names


@pytest.mark.parametrize("user", ["sales", "support"])
def test_roles_without_the_right_get_no_export(crm: Crm, person: dict[str, Any], user: str) -> None:
    assert _export(crm, user, person["contact"]).status_code == 403
    assert _erase(crm, user, person["contact"], {"reason": "x"}).status_code == 403


def test_a_missing_record_is_404_and_a_reason_is_required(crm: Crm, person: dict[str, Any]) -> None:
    assert _export(crm, "manager", 999999).status_code == 404
    assert _erase(crm, "manager", 999999, {"reason": "x"}).status_code == 404
    for body in ({}, {"reason": "  "}, {"reason": 5}, {"reason": "x" * 2001}):
        response = _erase(crm, "manager", person["contact"], body)
        assert response.status_code == 400, (body, response.text)
    with crm.client() as anonymous:
        assert anonymous.get(f"/api/contacts/{person['contact']}/personal-data").status_code == 401


def test_erasure_leaves_no_copy_and_keeps_the_totals(crm: Crm, person: dict[str, Any]) -> None:
    assert _holding(crm, IDENTIFIERS)  # before: everywhere (the check finds what it looks for)
    response = _erase(crm, "manager", person["contact"], {"reason": REASON})
    assert response.status_code == 200, response.text
    done = response.json()
    assert set(done["erased"]) >= {
        "full_name",
        "email",
        "phone",
        "photo",
        "notes",
        "passport_number",
    }
    assert done["already"] is False and done["scrubbed"] > 0
    assert _holding(crm, IDENTIFIERS) == []
    with crm.client(_token(crm, "admin")) as client:
        # the encrypted field's blind index no longer finds the erased value
        found = client.get("/api/contacts", params={"passport_number": PASSPORT})
        assert found.status_code == 200 and found.json()["items"] == [], found.text
        contact = client.get(f"/api/contacts/{person['contact']}").json()
        assert contact["full_name"].startswith("erased-") and contact["email"] is None
        deal = client.get(f"/api/deals/{person['deal']}").json()
        assert (deal["amount"], deal["contact"]["id"]) == ("1000.00", person["contact"])
        assert deal["contact"]["display"] == contact["full_name"]  # re-labelled
        company = client.get(f"/api/companies/{person['company']}").json()
        assert Decimal(str(company["won_total"])) == Decimal("1000.00")
        entries = client.get(
            "/api/audit", params={"entity": "Contact", "record_id": person["contact"]}
        )
        assert entries.status_code == 200
    logged = crm.sql(
        "SELECT kind, entity, record_id, user_email, reason FROM crm_gdpr_log WHERE kind = 'erase'"
    )
    assert [tuple(r) for r in logged] == [
        (
            "erase",
            "Contact",
            person["contact"],
            email("manager"),
            "Art. 17 request by e-mail from [erased]",
        )
    ]
    # the outbox gave up the mails that were still to go to the erased address
    rows = crm.sql("SELECT payload, status FROM crm_outbox WHERE kind = 'email'")
    payloads = [(json.loads(p) if isinstance(p, str) else p, status) for p, status in rows]
    given_up = [status for payload, status in payloads if payload.get("to") == "[erased]"]
    assert given_up and set(given_up) == {"dead"}


def test_a_second_erasure_has_nothing_to_do(crm: Crm, person: dict[str, Any]) -> None:
    response = _erase(crm, "manager", person["contact"], {"reason": "again"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": person["contact"],
        "erased": [],
        "scrubbed": 0,
        "already": True,
    }
    rows = crm.sql("SELECT count(*) FROM crm_gdpr_log WHERE kind = 'erase'")
    assert rows[0][0] == 1


@pytest.fixture
def stale_leads(crm: Crm) -> Iterator[dict[str, int]]:
    made: dict[str, int] = {}
    with crm.client(_token(crm, "manager")) as client:
        for key, status in (("old_lost", "lost"), ("new_lost", "lost"), ("old_open", "qualified")):
            lead = _created(
                client.post(
                    "/api/leads",
                    json={
                        "name": f"Lead {key} Xavier",
                        "email": f"{key}@lead.example",
                        "status": status,
                    },
                )
            )
            made[key] = lead["id"]
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    crm.sql(
        "UPDATE leads SET updated_at = :at WHERE id IN (:a, :b)",
        at=long_ago,
        a=made["old_lost"],
        b=made["old_open"],
    )
    yield made


def test_the_scheduler_anonymises_old_lost_leads(
    crm: Crm, stale_leads: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> None:
    from crmgen_runtime import gdpr
    from crmgen_runtime.db import Database
    from crmgen_runtime.scheduler import Scheduler

    from tests.generated_apps import generated_app

    gen = generated_app("crm", tmp_path_factory)
    catalog = gen.resources.CATALOG
    settings = gen.app.startup_settings(dict(crm.env))
    database = Database(crm.database_url)
    try:
        scheduler = Scheduler(catalog, database, settings)
        assert scheduler.schedules[gdpr.RETENTION_PROCESS] == gdpr.RETENTION_CRON
        scheduler.run_process(gdpr.RETENTION_PROCESS, dt.datetime.now(dt.UTC))
    finally:
        database.dispose()
    leads = {
        row[0]: (row[1], row[2])
        for row in crm.sql(
            "SELECT id, name, email FROM leads WHERE id IN (:a, :b, :c)",
            **dict(zip("abc", stale_leads.values(), strict=True)),
        )
    }
    old_name, old_email = leads[stale_leads["old_lost"]]
    assert old_name.startswith("erased-") and old_email is None
    assert leads[stale_leads["new_lost"]][1] == "new_lost@lead.example"
    assert leads[stale_leads["old_open"]][1] == "old_open@lead.example"
    assert _holding(crm, ("old_lost@lead.example", "Lead old_lost Xavier")) == []
    logged = crm.sql(
        "SELECT kind, record_id, user_email FROM crm_gdpr_log WHERE kind = 'retention'"
    )
    assert [tuple(r) for r in logged] == [("retention", stale_leads["old_lost"], None)]


def _browser(crm: Crm, name: str) -> httpx.Client:
    """A client signed in by the session cookie, as the web UI is."""
    response = crm.login(name)
    assert response.status_code == 200, response.text
    return crm.client(cookies={"session": response.cookies["session"]})


def test_the_detail_page_exports_and_erases_for_the_roles_that_may(crm: Crm) -> None:
    with crm.client(_token(crm, "manager")) as api:
        lead = _created(
            api.post(
                "/api/leads", json={"name": "Wilhelmina Brightwater", "email": "wb@lead.example"}
            )
        )
    page = f"/leads/{lead['id']}"
    with _browser(crm, "support") as support:
        shown = support.get(page)
        assert shown.status_code == 200
        assert 'data-action="erase-personal-data"' not in shown.text
        assert support.get(f"{page}/erase").status_code == 403
    with _browser(crm, "manager") as manager:
        shown = manager.get(page)
        assert 'data-action="export-personal-data"' in shown.text
        assert f'href="/api/leads/{lead["id"]}/personal-data"' in shown.text
        exported = manager.get(f"/api/leads/{lead['id']}/personal-data")
        assert exported.status_code == 200
        rows = json.loads(zipfile.ZipFile(io.BytesIO(exported.content)).read("leads.json"))
        assert [r["name"] for r in rows] == ["Wilhelmina Brightwater"]
        form = manager.get(f"{page}/erase")
        assert form.status_code == 200 and "Wilhelmina" in form.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        unconfirmed = manager.post(
            f"{page}/erase", data={"csrf_token": token.group(1), "reason": "asked by phone"}
        )
        assert unconfirmed.status_code == 422
        no_token = manager.post(f"{page}/erase", data={"reason": "x", "confirm": "yes"})
        assert no_token.status_code == 403
        done = manager.post(
            f"{page}/erase",
            data={"csrf_token": token.group(1), "reason": "asked by phone", "confirm": "yes"},
        )
        assert done.status_code == 303, done.text
        assert done.headers["location"].endswith(f"{page}?gdpr=erased")
        after = manager.get(f"{page}?gdpr=erased")
        assert "Wilhelmina" not in after.text and 'class="alert notice"' in after.text
    assert _holding(crm, ("Wilhelmina Brightwater", "wb@lead.example")) == []


def test_consent_keeps_its_time_and_source(crm: Crm) -> None:
    with crm.client(_token(crm, "manager")) as api:
        made = _created(
            api.post(
                "/api/contacts", json={"full_name": "Consenting Carla", "marketing_consent": True}
            )
        )
        assert made["marketing_consent_source"] == "api" and made["marketing_consent_at"]
        first = made["marketing_consent_at"]
        same = api.patch(
            f"/api/contacts/{made['id']}",
            json={"marketing_consent": True, "version": made["version"]},
        ).json()
        assert same["marketing_consent_at"] == first  # unchanged: not stamped again
        refused = api.patch(
            f"/api/contacts/{made['id']}", json={"marketing_consent_source": "form"}
        )
        assert refused.status_code == 422  # the app writes it, nobody else
        withdrawn = api.patch(
            f"/api/contacts/{made['id']}",
            json={"marketing_consent": False, "version": same["version"]},
        ).json()
        assert withdrawn["marketing_consent"] is False
        assert withdrawn["marketing_consent_at"] > first
    with crm.client(headers={"Accept-Language": "en"}) as visitor:
        sent = visitor.post(
            "/f/contact_us",
            json={"name": "Formal Fiona", "consent": True, "marketing_consent": True},
        )
        assert sent.status_code in (200, 201), sent.text
    rows = crm.sql(
        "SELECT marketing_consent, marketing_consent_source FROM leads WHERE name = 'Formal Fiona'"
    )
    assert [(bool(r[0]), r[1]) for r in rows] == [(True, "form")]


def test_consent_given_in_the_web_form_comes_from_the_user(crm: Crm) -> None:
    with _browser(crm, "manager") as web:
        form = web.get("/contacts/new")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert form.status_code == 200 and token is not None
        assert 'name="marketing_consent_source"' not in form.text  # the app's, not the user's
        sent = web.post(
            "/contacts/new",
            data={
                "csrf_token": token.group(1),
                "full_name": "Webby Wanda",
                "marketing_consent": "on",
            },
        )
        assert sent.status_code == 303, sent.text
    rows = crm.sql(
        "SELECT marketing_consent_source, marketing_consent_at FROM contacts "
        "WHERE full_name = 'Webby Wanda'"
    )
    assert [r[0] for r in rows] == ["user"] and rows[0][1] is not None
