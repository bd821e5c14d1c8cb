"""``crmgen_runtime.views``: saved views checked when saved and when applied, shared with roles,
only the owner's to change, on SQLite and PostgreSQL (the whole path over real HTTP, with the
web list page, is tests/security/access_control/test_views.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import rt_crm
from crmgen_runtime import views
from crmgen_runtime.errors import ApiError
from crmgen_runtime.resources import Rule
from crmgen_runtime.web import saved_views

DEALS = rt_crm.Crm.deals
ADMIN, VIC, BOB = rt_crm.Crm.admin, rt_crm.Crm.vic, rt_crm.Crm.bob


@pytest.fixture(autouse=True)
def viewer_lists(crm_web: rt_crm.Crm) -> Iterator[None]:
    """The viewer lists the deals over 100 it reads (``title`` hidden from it), here."""
    before = DEALS.rules["viewer"]
    DEALS.rules["viewer"] = Rule(
        {"read": before.actions["read"], "list": before.actions["read"]}, hidden=before.hidden
    )
    yield
    DEALS.rules["viewer"] = before


def refused(call: Any, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as raised:
        call(*args, **kwargs)
    return raised.value


def save(crm: rt_crm.Crm, user: Any, **body: Any) -> dict[str, Any]:
    return views.create(crm.database, crm.catalog, user, {"entity": "deals", **body})


def test_a_shared_view_drops_what_the_reader_may_not_read(crm_web: rt_crm.Crm) -> None:
    made = save(
        crm_web,
        ADMIN,
        name="Big",
        filters={"title__contains": "a", "amount__gte": 0},
        sort="-amount,title",
        columns=["title", "amount", "stage"],
        roles=["viewer"],
    )
    assert made["filters"] == {"title__contains": "a", "amount__gte": "0"} and made["mine"]
    seen = views.read(crm_web.database, crm_web.catalog, VIC, made["id"])
    assert seen["filters"] == {"amount__gte": "0"} and seen["sort"] == "-amount"
    assert seen["columns"] == ["amount", "stage"] and seen["mine"] is False
    assert "title" not in seen["url"] and "title" not in seen["api_url"]
    assert [v["id"] for v in views.visible(crm_web.database, crm_web.catalog, VIC, "deals")] == [
        made["id"]
    ]
    # bob may not list deals: no view of them, not even by id
    assert views.visible(crm_web.database, crm_web.catalog, BOB) == []
    assert refused(views.read, crm_web.database, crm_web.catalog, BOB, made["id"]).status == 404
    # only the owner changes or deletes it
    change = (crm_web.database, crm_web.catalog, VIC, made["id"], {"name": "Mine now"})
    assert refused(views.update, *change).status == 403
    assert refused(views.delete, crm_web.database, crm_web.catalog, VIC, made["id"]).status == 403
    views.delete(crm_web.database, crm_web.catalog, ADMIN, made["id"])
    assert refused(views.read, crm_web.database, crm_web.catalog, ADMIN, made["id"]).status == 404


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"filters": {"nothing": "1"}}, "nothing"),
        ({"filters": {"limit": "1"}}, "filters"),
        ({"filters": {"amount__gte": {"x": 1}}}, "filters"),
        ({"filters": ["amount"]}, "filters"),
        ({"sort": "nothing"}, "sort"),
        ({"columns": ["nothing"]}, "columns"),
        ({"columns": "title"}, "columns"),
        ({"roles": ["nobody"]}, "roles"),
        ({"q": 5}, "q"),
        ({"name": " "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"extra": True}, "extra"),
    ],
)
def test_a_bad_view_is_refused_naming_it(
    crm_web: rt_crm.Crm, body: dict[str, Any], named: str
) -> None:
    error = refused(save, crm_web, ADMIN, **{"name": "Bad", **body})
    assert error.status == 422 and (named in error.fields or named in error.message), error.fields


def test_the_saver_may_not_use_a_field_hidden_from_them(crm_web: rt_crm.Crm) -> None:
    for body in ({"columns": ["title"]}, {"filters": {"title": "x"}}, {"sort": "title"}):
        assert refused(save, crm_web, VIC, name="Peek", **body).status == 422
    assert refused(views.create, crm_web.database, crm_web.catalog, VIC, []).status == 422
    wrong = {"entity": "companies_nope", "name": "x"}
    assert refused(views.create, crm_web.database, crm_web.catalog, VIC, wrong).status == 422


def test_names_are_unique_per_owner_and_list_and_a_patch_keeps_the_rest(
    crm_web: rt_crm.Crm,
) -> None:
    first = save(crm_web, VIC, name="Mine", sort="-amount", filters={"stage": "won"})
    assert refused(save, crm_web, VIC, name="Mine").status == 409
    other = save(crm_web, ADMIN, name="Mine")  # another owner's name is theirs
    changed = views.update(crm_web.database, crm_web.catalog, VIC, first["id"], {"name": "Won"})
    assert changed["name"] == "Won" and changed["filters"] == {"stage": "won"}
    assert changed["sort"] == "-amount"
    moved = (crm_web.database, crm_web.catalog, VIC, first["id"], {"entity": "companies"})
    assert refused(views.update, *moved).status == 422
    assert views.find(crm_web.database, crm_web.catalog, VIC, other["id"]) is None
    found = views.find(crm_web.database, crm_web.catalog, VIC, first["id"])
    assert found is not None and found[1].filters == (("stage", "won"),)


def test_the_page_query_becomes_a_view_and_back() -> None:
    body = saved_views.body_of("q=a&sort=-amount&stage__in=won&stage__in=lost&columns=a,b&view=3")
    assert body == {
        "q": "a",
        "sort": "-amount",
        "filters": {"stage__in": "won,lost"},
        "columns": ["a", "b"],
    }
    applied = views.Applied("a", "-amount", (("stage__in", "won,lost"),), ("a", "b"))
    assert views.page_pairs(applied) == [
        ("q", "a"),
        ("sort", "-amount"),
        ("stage__in", "won"),
        ("stage__in", "lost"),
        ("columns", "a,b"),
    ]
