"""The totals of lists (``crmgen_runtime.counts``): ``count=exact|estimate|none``, the
planner's estimate of the reader's own query above ``LIST_EXACT_COUNT_LIMIT`` on PostgreSQL
("at least" on SQLite), and the ``LIST_MAX_OFFSET`` cap; through real HTTP requests on SQLite
and PostgreSQL, with a threshold of 3 set in the test."""

from __future__ import annotations

from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from conftest import WebClient
from crmgen_runtime import crud
from starlette.routing import Mount
from starlette.testclient import TestClient

MANY = 5_000  # bob's deals, beside ann's one


@pytest.fixture
def api(crm_web: rt_crm.Crm, web_client: WebClient, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """The CRM's API counting exactly up to 3 records and skipping at most 4; sellers list
    their own deals."""
    monkeypatch.setitem(crm_web.deals.rules["sales"].actions, "list", rt_crm.Access("own"))
    routes = [
        route for resource in crm_web.catalog.resources.values() for route in crud.routes(resource)
    ]
    return web_client(
        [Mount("/api", routes=routes)], LIST_EXACT_COUNT_LIMIT="3", LIST_MAX_OFFSET="4"
    )


@pytest.fixture
def many(crm_web: rt_crm.Crm) -> int:
    """``MANY`` more deals, all bob's, the statistics brought up to date; the deals in all."""
    assert crm_web.engine is not None
    rows = [{"title": f"Deal {n}", "stage": "new", "owner_id": 2} for n in range(MANY)]
    with crm_web.engine.begin() as connection:
        connection.execute(sa.insert(rt_crm.Deal), rows)
        connection.execute(sa.text("ANALYZE"))
    return MANY + 3


def page(api: TestClient, user: str = "admin", path: str = "/api/deals", **query: Any) -> Any:
    response = api.get(path, params=query, headers={"X-User": user})
    assert response.status_code == 200, response.text
    return response.json()


def kind_of(answer: dict[str, Any]) -> tuple[int | None, str | None]:
    return answer["total"], answer["total_kind"]


def test_a_small_list_is_counted_exactly(api: TestClient) -> None:
    assert kind_of(page(api)) == (3, "exact")  # 3 is the threshold: still exact
    assert kind_of(page(api, stage="new", q="i")) == (2, "exact")  # Big, Mid
    assert kind_of(page(api, "ann")) == (1, "exact")
    assert kind_of(page(api, count="exact")) == (3, "exact")
    assert kind_of(page(api, path="/api/companies/4/deals")) == (1, "exact")


def test_count_none_counts_nothing(api: TestClient) -> None:
    answer = page(api, count="none", limit=1)
    assert kind_of(answer) == (None, None)
    assert len(answer["items"]) == 1 and answer["next_cursor"]
    related = page(api, path="/api/companies/4/deals", count="none")
    assert kind_of(related) == (None, None)


def test_above_the_threshold_the_total_is_an_estimate(
    api: TestClient, crm_web: rt_crm.Crm, many: int
) -> None:
    postgres = crm_web.engine is not None and crm_web.engine.dialect.name == "postgresql"
    total, kind = kind_of(page(api))
    if postgres:  # the planner's estimate, near the real count
        assert kind == "estimate" and many / 2 < total < many * 2  # type: ignore[operator]
    else:  # SQLite keeps no estimate of a query: more than the threshold
        assert (total, kind) == (4, "at_least")
    assert kind_of(page(api, count="exact")) == (many, "exact")
    assert kind_of(page(api, count="estimate")) == (total, kind)  # the default


def test_a_sellers_estimate_is_of_their_own_records(
    api: TestClient, crm_web: rt_crm.Crm, many: int
) -> None:
    """ann owns 1 deal, then 5 of 5,003: her estimate is computed from her own query (the record
    rule included), never from the table's size."""
    assert crm_web.engine is not None
    rows = [{"title": f"Ann's {n}", "stage": "new", "owner_id": 1} for n in range(4)]
    with crm_web.engine.begin() as connection:
        connection.execute(sa.insert(rt_crm.Deal), rows)
        connection.execute(sa.text("ANALYZE"))
    total, kind = kind_of(page(api, "ann", limit=2))  # a first page of all 5 would be exact
    if crm_web.engine.dialect.name == "postgresql":
        assert kind == "estimate" and 4 <= total < 100, total  # type: ignore[operator]
    else:
        assert (total, kind) == (4, "at_least")
    assert kind_of(page(api, "ann", count="exact")) == (5, "exact")
    # a filter narrows the estimate too: bob's deals called "Deal 1..."
    narrowed, _ = kind_of(page(api, "bob", title__contains="Deal 1", limit=2))
    assert narrowed is not None and narrowed < many


def test_an_offset_over_the_cap_is_a_400_pointing_to_the_cursor(api: TestClient) -> None:
    assert [item["title"] for item in page(api, sort="title", offset=2)["items"]] == ["Small"]
    assert page(api, offset=4)["items"] == []  # the cap itself is allowed
    for offset in ("5", "99999999999999999999999"):
        response = api.get("/api/deals", params={"offset": offset}, headers={"X-User": "admin"})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "offset_too_large"
        assert "At most 4" in error["fields"]["offset"] and "cursor" in error["message"]
    related = api.get("/api/companies/1/deals?offset=5", headers={"X-User": "admin"})
    assert related.status_code == 400 and related.json()["error"]["code"] == "offset_too_large"


def test_a_first_page_holding_every_record_is_its_own_total(
    api: TestClient, crm_web: rt_crm.Crm, many: int
) -> None:
    """No count is needed when the first page has them all: its length is exact (on PostgreSQL
    the planner's guess would say otherwise for a filter it cannot see through)."""
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    assert crm_web.engine is not None
    sa.event.listen(crm_web.engine, "before_cursor_execute", seen)
    try:
        answer = page(api, "bob", title__contains="Deal 4999")
    finally:
        sa.event.remove(crm_web.engine, "before_cursor_execute", seen)
    assert kind_of(answer) == (1, "exact")
    assert not any("count(" in s.lower() or "EXPLAIN" in s for s in statements), statements
    # a later page, or one that is not the last, is counted as the threshold says
    assert kind_of(page(api, "bob", title__contains="Deal 4999", count="exact")) == (1, "exact")
    assert page(api, "bob", limit=2)["total_kind"] in ("estimate", "at_least")
