"""``crmgen_runtime.web.lists``: an entity's list page (columns, sorting, filters, search,
paging), its CSV and XLSX exports and its bulk delete, through real requests on the small CRM
(SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from decimal import Decimal

import pytest
from conftest import WebClient, site_routes
from crmgen_runtime.web import lists, totals
from crmgen_runtime.web.site import Site
from starlette.testclient import TestClient

ADMIN = {"X-User": "admin"}


@pytest.fixture
def client(site: Site, web_client: WebClient) -> TestClient:
    return web_client(site_routes(site, lists), site=site)


def titles(html: str) -> list[str]:
    return re.findall(r'href="/deals/(\d+)"', html)


def link(html: str, rel: str) -> str | None:
    """The pager's link ``rel`` (next, prev, first) of a list page, unescaped."""
    found = re.search(rf'<a href="([^"]*)" rel="{rel}">', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_list_pages_next_and_back_by_cursor(client: TestClient) -> None:
    page = client.get("/deals/?stage__in=new&stage__in=won&sort=title", headers=ADMIN)
    assert page.status_code == 200
    assert "Big" in page.text and "Mid" in page.text  # by title: Big, Mid | Small
    assert "Small" not in page.text and "1–2 · Total: 3" in page.text
    assert link(page.text, "prev") is None and link(page.text, "first") is None
    following = link(page.text, "next")
    assert following is not None and "cursor=" in following and "offset" not in following
    assert "sort=title" in following and following.count("stage__in=") == 2  # the query kept
    second = client.get(following, headers=ADMIN).text  # a link anyone may open again
    assert "Small" in second and "Big" not in second and "Total: 3" in second
    assert link(second, "next") is None and link(second, "first") == (
        "/deals/?sort=title&stage__in=new&stage__in=won"
    )
    previous = link(second, "prev")
    assert previous is not None and "cursor=" in previous
    back = client.get(previous, headers=ADMIN).text
    assert titles(back) == titles(page.text) and link(back, "prev") is None
    # an old link's offset still works, up to LIST_MAX_OFFSET; beyond, the page says so
    old = client.get("/deals/?offset=2", headers=ADMIN)
    assert "Small" in old.text and "Big" not in old.text and link(old.text, "prev")
    assert client.get("/deals/?offset=x", headers=ADMIN).status_code == 200
    deep = client.get("/deals/?offset=10001", headers=ADMIN)
    assert deep.status_code == 400 and "cursor" in deep.text
    forged = client.get("/deals/?cursor=nonsense", headers=ADMIN)
    assert forged.status_code == 400 and "Invalid cursor" in forged.text


def test_an_estimated_total_says_so(site: Site, web_client: WebClient) -> None:
    client = web_client(site_routes(site, lists), site=site, LIST_EXACT_COUNT_LIMIT="2")
    postgres = client.app.state.db.dialect == "postgresql"  # type: ignore[attr-defined]
    said = (
        ("en", "Total: about ", "Total: more than 2"),
        ("ru", "Всего: около ", "Всего: более 2"),
    )
    for locale, about, more in said:  # the planner's estimate, or "more than" on SQLite
        html = client.get("/deals/", headers={**ADMIN, "Accept-Language": locale}).text
        assert (about if postgres else more) in html, locale
    exact = client.get("/deals/?stage__in=won", headers=ADMIN).text
    assert "Total: 0" in exact


@pytest.mark.parametrize(
    ("locale", "estimate", "at_least", "exact"),
    [
        ("en", "about 1.2 million", "more than 10,000", "12,345"),
        ("ru", "около 1,2 миллиона", "более 10\xa0000", "12\xa0345"),
        ("id", "sekitar 1,2 juta", "lebih dari 10.000", "12.345"),
        ("bs", "oko 1,2 miliona", "više od 10.000", "12.345"),
        ("zh", "约 123.5万", "超过 10,000", "12,345"),
    ],
)
def test_totals_read_as_people_say_them(
    site: Site, locale: str, estimate: str, at_least: str, exact: str
) -> None:
    t = site.translator(locale)
    assert totals.total_text(t, 1_234_567, "estimate", locale) == estimate
    assert totals.total_text(t, 10_001, "at_least", locale) == at_least
    assert totals.total_text(t, 12_345, "exact", locale) == exact
    assert totals.total_text(t, None, None, locale) == ""


def test_sorting_filters_and_search(client: TestClient) -> None:
    by_amount = client.get("/deals/?sort=-amount", headers=ADMIN).text
    assert by_amount.index("Big") < by_amount.index("Mid")
    assert "Small" not in client.get("/deals/?amount__gte=100", headers=ADMIN).text
    only_small = client.get("/deals/?amount__lte=60&amount__gte=", headers=ADMIN).text
    assert "Small" in only_small and "Big" not in only_small
    assert "Big" in client.get("/deals/?q=Big", headers=ADMIN).text
    assert "Mid" not in client.get("/deals/?q=Big", headers=ADMIN).text
    assert "Big" in client.get("/deals/?company=1", headers=ADMIN).text
    assert "Big" not in client.get("/deals/?stage__in=won", headers=ADMIN).text
    day = "2100-01-01"
    # the seeded deals have no creation time: a whole-day bound is a valid filter all the same
    assert client.get(f"/deals/?created_at__lte={day}", headers=ADMIN).status_code == 200
    assert "Big" not in client.get(f"/deals/?created_at__gt={day}", headers=ADMIN).text
    odd = client.get("/deals/?created_at__gt=2024-13-45", headers=ADMIN)
    assert odd.status_code == 400
    bad = client.get("/deals/?amount__gte=lots", headers=ADMIN)
    assert bad.status_code == 400


def test_the_query_keeps_every_part_in_its_links() -> None:
    query = lists.ListQuery(q="a", sort="-amount", offset=4, filters=(("stage__in", "new"),))
    assert query.url("/deals/", offset=0) == "/deals/?q=a&sort=-amount&stage__in=new"
    assert query.pairs(paged=False) == [("q", "a"), ("sort", "-amount"), ("stage__in", "new")]
    assert query.value("nothing") == ""
    zone = dt.timezone(dt.timedelta(hours=3))
    fields = {"paid": {"type": "datetime"}}
    assert lists._day_bound(fields, "paid__lte", "2024-05-01", zone) == (
        "paid__lt",
        "2024-05-02T00:00:00+03:00",
    )
    assert lists._day_bound(fields, "paid__gte", "2024-05-01", zone)[0] == "paid__gte"
    assert lists._day_bound(fields, "other__gte", "2024-05-01", zone) == (
        "other__gte",
        "2024-05-01",
    )


def test_people_see_what_their_rules_let_them(client: TestClient) -> None:
    assert client.get("/deals/", headers={"X-User": "ann"}).status_code == 403  # no list
    assert client.get("/deals/export.csv", headers={"X-User": "ann"}).status_code == 403
    assert client.get("/deals/").status_code == 303


def test_exports_as_csv_and_xlsx(client: TestClient) -> None:
    csv_answer = client.get("/deals/export.csv?sort=title", headers=ADMIN)
    assert csv_answer.status_code == 200
    assert csv_answer.headers["content-disposition"].startswith('attachment; filename="deals-')
    lines = csv_answer.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("ID,Title,Stage,Amount,Company")
    assert lines[1].startswith("1,Big,New,500.00,Acme,")
    xlsx = client.get("/deals/export.xlsx?amount__gte=100", headers=ADMIN)
    assert xlsx.status_code == 200
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as book:
        assert any(name.startswith("xl/worksheets/") for name in book.namelist())
    bad = client.get("/deals/export.csv?amount__gte=lots", headers=ADMIN)
    assert bad.status_code == 400


def test_export_values_are_safe_in_spreadsheets(site: Site) -> None:
    text = {"type": "string", "choices": []}
    assert lists.safe_text("=1+1") == "'=1+1"
    assert lists.export_value(site, text, None, "en", native=False) == ""
    assert lists.export_value(site, text, None, "en", native=True) is None
    assert lists.export_value(site, text, True, "en", native=True) is True
    assert lists.export_value(site, text, Decimal("1.50"), "en", native=False) == "1.50"
    assert lists.export_value(site, text, 3, "en", native=False) == "3"
    assert lists.export_value(site, text, Decimal("1.5"), "en", native=True) == Decimal("1.5")
    moment = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    assert lists.export_value(site, text, moment, "en", native=False) == "2024-05-01 12:00:00"
    assert lists.export_value(site, text, dt.date(2024, 5, 1), "en", native=False) == "2024-05-01"
    assert lists.export_value(site, {"type": "json"}, {"a": 1}, "en", native=False) == '{"a": 1}'
    assert lists.export_value(site, text, "a\x01b", "en", native=True) == "ab"
    assert lists.record_ids(["3", "x", "3", "0", "1"]) == [3, 1]
    assert lists.back_link("/deals/", "/deals/?q=a") == "/deals/?q=a"
    assert lists.back_link("/deals/", "https://evil.example") == "/deals/"


def test_bulk_delete_asks_then_deletes_what_the_user_may(client: TestClient) -> None:
    ask = client.get("/deals/bulk-delete?id=2&id=3&id=99&back=/deals/?q=x", headers=ADMIN)
    assert ask.status_code == 200
    assert "Small" in ask.text and "Mid" in ask.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', ask.text)
    assert token
    forged = client.post("/deals/bulk-delete", data={"id": "2", "csrf_token": "x"}, headers=ADMIN)
    assert forged.status_code == 403
    done = client.post(
        "/deals/bulk-delete",
        data={"id": ["2", "3", "99"], "csrf_token": token.group(1)},
        headers=ADMIN,
    )
    assert done.status_code == 200
    listed = client.get("/deals/", headers=ADMIN).text
    assert "Small" not in listed and "Mid" not in listed and "Big" in listed
    assert client.get("/deals/bulk-delete?id=1", headers={"X-User": "ann"}).status_code == 403


def test_the_list_and_its_exports_take_back_side_filters(client: TestClient) -> None:
    """``company__...`` filters the deals' list; ``deals__...`` (a back side) the companies'."""
    page = client.get("/companies/?deals__amount__gte=100&sort=name", headers=ADMIN)
    assert page.status_code == 200
    assert "Acme" in page.text and "Alpha" in page.text and "Beta" not in page.text
    partners = client.get("/companies/?partner_deals__isnull=true", headers=ADMIN).text
    assert "Acme" in partners and "Alpha" not in partners
    csv_answer = client.get("/companies/export.csv?deals__title=Small", headers=ADMIN)
    assert csv_answer.status_code == 200
    lines = csv_answer.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 2 and ",Beta," in f",{lines[1]},"
    bad = client.get("/companies/export.csv?deals__nosuch=1", headers=ADMIN)
    assert bad.status_code == 400
    assert client.get("/companies/?deals__nosuch=1", headers=ADMIN).status_code == 400
