"""Likely duplicates and merging in the reference CRM (issue 16, item 4), over real HTTP on both
databases.

Contacts are likely duplicates by e-mail (trimmed, any case), phone (in E.164) and a fuzzy
full name. Creating one answers 409 ``possible_duplicate`` naming only the candidates the user
may read (a seller reads its own contacts: the others are a count), until the client confirms
with ``?confirm_duplicate=true``; ``GET /api/contacts/duplicates`` lists the pairs the user may
read; ``POST /api/contacts/{id}/merge`` folds one contact into another and leaves no column of
any table (references, many-to-many rows, system tables) naming the removed one, while the
merge's audit entry keeps every value it had.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from tests.security.crm import Crm

_n = itertools.count(1)


@pytest.fixture(scope="module")
def tokens(crm: Crm) -> dict[str, str]:
    return {name: crm.token(name) for name in ("admin", "sales", "sales2", "support")}


def api(crm: Crm, tokens: dict[str, str], user: str) -> httpx.Client:
    return crm.client(tokens[user])


def unique() -> str:
    """A word no seeded record holds (the fuzzy rule compares whole names)."""
    return "Qx" + "".join(chr(ord("a") + int(d)) for d in str(next(_n) * 7919))


def create(client: httpx.Client, confirm: bool = False, **values: Any) -> httpx.Response:
    query = "?confirm_duplicate=true" if confirm else ""
    return client.post(f"/api/contacts{query}", json=values)


def made(response: httpx.Response) -> int:
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_a_likely_duplicate_is_refused_naming_what_the_user_may_read(
    crm: Crm, tokens: dict[str, str]
) -> None:
    word = unique()
    with api(crm, tokens, "sales2") as sales2, api(crm, tokens, "sales") as sales:
        theirs = made(create(sales2, full_name=f"{word} Theirs", email=f"{word}@dup.example"))
        # another seller's contact: only counted
        response = create(sales, full_name=f"Other {word}", email=f"{word.upper()}@Dup.Example")
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "possible_duplicate"
        assert error["candidates"] == [] and error["others"] == 1
        assert f"/contacts/{theirs}" not in response.text and "Theirs" not in response.text
        # its own contact: named, with the rule that matched and a link
        mine = made(create(sales, full_name=f"{word} Konstantinova", phone="+7 912 345-01-23"))
        response = create(sales, full_name=f"Else {word}", phone="8 (912) 345 01 23")
        assert response.status_code == 409, response.text
        (candidate,) = response.json()["error"]["candidates"]
        assert candidate == {
            "id": mine,
            "label": f"{word} Konstantinova",
            "link": f"/contacts/{mine}",
            "api": f"/api/contacts/{mine}",
            "rule": "phone:phone",
            "score": 1.0,
        }
        # a similar name (one letter off) is a likely duplicate too
        response = create(sales, full_name=f"{word} Konstantinovo")
        assert response.status_code == 409, response.text
        assert response.json()["error"]["candidates"][0]["rule"] == "fuzzy:full_name"
        # confirmed, it is created
        made(create(sales, confirm=True, full_name=f"Else {word}", phone="8 (912) 345 01 23"))
        # the support role reads every contact: it sees both candidates of the e-mail
    with api(crm, tokens, "admin") as admin:
        response = create(admin, full_name=f"Third {word}", email=f"{word}@dup.example")
        assert [c["id"] for c in response.json()["error"]["candidates"]] == [theirs]


def test_the_pairs_list_what_the_user_may_read(crm: Crm, tokens: dict[str, str]) -> None:
    word = unique()
    with api(crm, tokens, "sales") as sales, api(crm, tokens, "sales2") as sales2:
        one = made(create(sales, full_name=f"{word} Pair", email=f"{word}@pairs.example"))
        two = made(create(sales, True, full_name=f"Pair {word}z", email=f"{word}@PAIRS.example"))
        hidden = made(create(sales2, True, full_name=f"{word} Hid", email=f"{word}@pairs.example"))
        response = sales.get("/api/contacts/duplicates")
        assert response.status_code == 200, response.text
        pairs = {(p["a"]["id"], p["b"]["id"]): p for p in response.json()["pairs"]}
        assert (one, two) in pairs and "email:email" in pairs[(one, two)]["rules"]
        assert pairs[(one, two)]["merge"] == f"/contacts/{one}/merge?other={two}"
        assert not any(hidden in key for key in pairs)
        assert sales.get("/api/contacts/duplicates?limit=0").status_code == 400
    with api(crm, tokens, "admin") as admin:
        pairs = {
            (p["a"]["id"], p["b"]["id"])
            for p in admin.get("/api/contacts/duplicates").json()["pairs"]
        }
        assert (one, hidden) in pairs


def _references(crm: Crm, record_id: int) -> dict[str, int]:
    """Every column of every table that may name a contact and holds ``record_id``: the
    reference columns and join tables (by their foreign keys to contacts) and the system
    tables' (entity, record_id)."""
    engine = crm.engine()
    found: dict[str, int] = {}
    try:
        inspector = sa.inspect(engine)
        with engine.connect() as connection:
            for table in inspector.get_table_names():
                for fk in inspector.get_foreign_keys(table):
                    if fk["referred_table"] != "contacts":
                        continue
                    column = fk["constrained_columns"][0]
                    count = connection.execute(
                        sa.text(f'SELECT count(*) FROM "{table}" WHERE "{column}" = :i'),
                        {"i": record_id},
                    ).scalar_one()
                    if count:
                        found[f"{table}.{column}"] = count
                columns = {c["name"] for c in inspector.get_columns(table)}
                if {"entity", "record_id"} <= columns:
                    count = connection.execute(
                        sa.text(
                            f'SELECT count(*) FROM "{table}" '
                            "WHERE entity = 'Contact' AND record_id = :i"
                        ),
                        {"i": record_id},
                    ).scalar_one()
                    if count:
                        found[table] = count
            count = connection.execute(
                sa.text("SELECT count(*) FROM contacts WHERE id = :i"), {"i": record_id}
            ).scalar_one()
            if count:
                found["contacts"] = count
    finally:
        engine.dispose()
    return found


def test_a_merge_moves_every_link_and_loses_no_value(crm: Crm, tokens: dict[str, str]) -> None:
    word = unique()
    with api(crm, tokens, "admin") as admin:
        kept = made(create(admin, full_name=f"{word} Kept", email=f"{word}@merge.example"))
        gone = made(
            create(
                admin,
                True,
                full_name=f"{word} Gone",
                email=f"{word}@merge.example",
                phone="+7 912 345-99-88",
                notes="from the removed one",
            )
        )
        links: dict[str, int] = {}
        for path, payload in (
            ("deals", {"name": f"{word} deal", "contact": gone, "amount": "5.00"}),
            ("tasks", {"title": f"{word} task", "contact": gone}),
            ("interactions", {"gist": f"{word} call", "contact": gone, "kind": "call"}),
            ("client_groups", {"name": f"{word} group", "members": [gone, kept]}),
        ):
            response = admin.post(f"/api/{path}", json=payload)
            assert response.status_code == 201, response.text
            links[path] = response.json()["id"]
        other_group = admin.post(
            "/api/client_groups", json={"name": f"{word} g2", "members": [gone]}
        )
        assert other_group.status_code == 201, other_group.text
        comment = admin.post(f"/api/contacts/{gone}/comments", json={"body": "about the gone one"})
        assert comment.status_code == 201, comment.text
        # a notification about it, and e-mails logged on it (one on both: kept once)
        crm.sql(
            "INSERT INTO crm_notifications (user_id, kind, message, entity, record_id) "
            "VALUES (:u, 'process', 'about the gone one', 'Contact', :g)",
            u=crm.user_id("admin"),
            g=gone,
        )
        for record, message in ((gone, "<both@x>"), (kept, "<both@x>"), (gone, "<only@x>")):
            crm.sql(
                "INSERT INTO crm_emails (entity, record_id, direction, subject, message_id) "
                "VALUES ('Contact', :r, 'in', :m, :m)",
                r=record,
                m=message,
            )
        view = admin.post(
            "/api/views",
            json={"entity": "deals", "name": f"{word} deals", "filters": {"contact": str(gone)}},
        )
        assert view.status_code == 201, view.text
        before = _references(crm, gone)
        assert {"deals.contact_id", "tasks.contact_id", "interactions.contact_id"} <= set(before)
        assert {"crm_comments", "crm_audit_log", "crm_notifications", "crm_emails"} <= set(before)
        # a seller may not merge another's contact; an unknown field is refused
        with api(crm, tokens, "sales") as sales:
            refused = sales.post(f"/api/contacts/{kept}/merge", json={"other": gone})
            assert refused.status_code in (403, 404), refused.text
        bad = admin.post(f"/api/contacts/{kept}/merge", json={"other": gone, "take": ["nope"]})
        assert bad.status_code == 422 and bad.json()["error"]["fields"] == {
            "nope": "No such field."
        }
        assert admin.post(f"/api/contacts/{kept}/merge", json={"other": "x"}).status_code == 422
        assert admin.post(f"/api/contacts/{kept}/merge", json={"other": kept}).status_code == 422
        response = admin.post(
            f"/api/contacts/{kept}/merge",
            json={"other": gone, "take": ["full_name", "notes", "phone"]},
        )
        assert response.status_code == 200, response.text + crm.log()[-3000:]
        record = response.json()
        assert record["full_name"] == f"{word} Gone" and record["notes"] == "from the removed one"
        assert record["phone"] == "+79123459988"
        assert record["last_contacted_at"] is not None  # the call moved: the rollup follows
        assert admin.get(f"/api/contacts/{gone}").status_code == 404
        assert _references(crm, gone) == {}
        for path in ("deals", "tasks", "interactions"):
            linked = admin.get(f"/api/{path}/{links[path]}").json()
            assert linked["contact"]["id"] == kept
        group = admin.get(f"/api/client_groups/{links['client_groups']}").json()
        assert group["members"] == [kept]  # one row, not two
        members = admin.get(f"/api/client_groups/{other_group.json()['id']}").json()["members"]
        assert members == [kept]
        mails = crm.sql(
            "SELECT message_id FROM crm_emails WHERE entity = 'Contact' AND record_id = :k "
            "ORDER BY message_id",
            k=kept,
        )
        assert [m for (m,) in mails] == ["<both@x>", "<only@x>"]
        saved = admin.get(f"/api/views/{view.json()['id']}").json()  # the saved link follows
        assert str(saved["filters"]) == str({"contact": str(kept)}), saved
        comments = admin.get(f"/api/contacts/{kept}/comments").json()
        assert "about the gone one" in str(comments)
        audit = admin.get(f"/api/audit?entity=Contact&record_id={kept}&action=update")
        assert audit.status_code == 200, audit.text
        (entry,) = [e for e in audit.json()["items"] if "@merged_from" in e["changes"]]
        assert entry["changes"]["@merged_from"] == [gone, kept]
        assert entry["changes"]["email"][0] == f"{word}@merge.example"
        assert entry["changes"]["full_name"] == [f"{word} Gone", f"{word} Gone"]
