"""Decimals and money stay exact for their whole declared precision, on SQLite and PostgreSQL.

``exact.yaml`` declares precision 18 at scales 0, 2 and 12, money (12, 2) and a small range
with limits. The app runs in process (Starlette's TestClient, the real auth middleware; one app
and database per database kind for the module). A property test sends hypothesis decimals at
each field's declared precision through the API and reads them back, filters and compares them;
the other tests take values that a float cannot tell apart (``9999999999999999.99`` and
``...98``) through sorting, filters, cursor pages, record rules, dashboards, a report, a
process's aggregate steps, a computed field, a document and a CSV/XLSX export and import.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from crmgen_runtime import auth
from crmgen_runtime.db import Database
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.app_settings import app_settings_env
from tests.backend.conftest import POSTGRES_URL, Generated, generated, postgres_admin
from tests.ui.test_imports import run, selected, uploaded

PASSWORD = "decimals-password-1"
# field: (precision, scale, lowest, highest)
FIELDS = {
    "wide": (18, 2, None, None),
    "whole": (18, 0, None, None),
    "fine": (18, 12, None, None),
    "price": (12, 2, None, None),
    "small": (5, 2, Decimal("-99.5"), Decimal("99.5")),
}
WIDE = Context(prec=80, rounding=ROUND_HALF_UP)
# Values a float cannot tell apart, and their neighbours.
TOP = Decimal("9999999999999999.99")
WEIGHTS = {"open": Decimal("0.333333"), "won": Decimal(1), "lost": Decimal(0), None: Decimal(0)}


@dataclass
class App:
    """The decimals app in process: an admin and a manager signed in, its database."""

    gen: Generated
    database: Any
    client: TestClient
    kind: str
    tokens: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def post(self, path: str, who: str = "admin", **values: Any) -> dict[str, Any]:
        response = self.client.post(f"/api/{path}", json=values, headers=self.headers(who))
        assert response.status_code == 201, response.text
        return dict(response.json())

    def get(self, path: str, who: str = "admin", **params: Any) -> Any:
        response = self.client.get(f"/api/{path}", params=params, headers=self.headers(who))
        assert response.status_code == 200, response.text
        return response.json()

    def clear(self) -> None:
        models = self.gen.models
        with self.database.engine.begin() as connection:
            for model in (models.Entry, models.Batch, models.Tally):
                connection.execute(sa.delete(model.__table__))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    gen = generated("exact", tmp_path_factory)
    admin_engine, schema = None, f"crmgen_decimals_{uuid.uuid4().hex[:12]}"
    options: dict[str, Any] = {}
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('decimals_db') / 'decimals.sqlite3'}"
    else:
        admin_engine, url = postgres_admin(), POSTGRES_URL
        with admin_engine.connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        options = {"connect_args": {"options": f"-csearch_path={schema},public"}}
    database = Database(url, **options)
    gen.models.Base.metadata.create_all(database.engine)
    settings_ = gen.app.startup_settings(app_settings_env(DATABASE_URL=url))
    try:
        with TestClient(gen.app.create_app(settings_, database=database)) as client:
            tokens = {}
            for who, roles in (("admin", ("admin",)), ("manager", ("manager",))):
                with database.session() as session:
                    auth.create_user(
                        gen.resources.CATALOG,
                        session,
                        email=f"{who}@example.com",
                        password=PASSWORD,
                        roles=roles,
                    )
                login = client.post(
                    "/api/auth/login", json={"email": f"{who}@example.com", "password": PASSWORD}
                )
                assert login.status_code == 200, login.text
                tokens[who] = login.json()["access_token"]
            client.cookies.clear()
            yield App(gen, database, client, request.param, tokens)
    finally:
        database.dispose()
        if admin_engine is not None:
            with admin_engine.connect() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin_engine.dispose()


@pytest.fixture
def clean(app: App) -> App:
    app.clear()
    return app


def decimals(field: str) -> st.SearchStrategy[Decimal]:
    """Any value ``field`` holds: every digit of its precision, at its scale."""
    precision, scale, low, high = FIELDS[field]
    unit = Decimal(1).scaleb(-scale)
    limit = Decimal(10) ** (precision - scale) - unit
    return st.decimals(
        min_value=low if low is not None else -limit,
        max_value=high if high is not None else limit,
        places=scale,
        allow_nan=False,
        allow_infinity=False,
    )


def exact(value: Decimal, field: str) -> str:
    """How the API shows ``value`` of ``field``: every place of its scale."""
    return format(value.quantize(Decimal(1).scaleb(-FIELDS[field][1]), context=WIDE), "f")


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in items]


@settings(max_examples=25, deadline=None)
@given(
    first=st.fixed_dictionaries({field: decimals(field) for field in FIELDS}),
    second=st.fixed_dictionaries({field: decimals(field) for field in FIELDS}),
)
def test_every_value_round_trips_orders_and_compares_exactly(
    app: App, first: dict[str, Decimal], second: dict[str, Decimal]
) -> None:
    app.clear()
    sent = {"a": first, "b": second}
    for name, values in sent.items():
        made = app.post("entries", name=name, **{f: str(v) for f, v in values.items()})
        expected = {field: exact(value, field) for field, value in values.items()}
        assert {f: made[f] for f in FIELDS} == expected
        assert made["tripled"] == exact(values["price"] * 3, "price")  # computed, exactly
        read = app.get(f"entries/{made['id']}")
        assert {f: read[f] for f in FIELDS} == expected
    for field in FIELDS:
        ordered = sorted(sent, key=lambda name: (sent[name][field], name))
        assert names(app.get("entries", sort=f"{field},name")["items"]) == ordered, field
        a = exact(first[field], field)
        for op, test in (("", "__eq__"), ("__gt", "__gt__"), ("__lte", "__le__")):
            expected = [n for n in sent if getattr(sent[n][field], test)(first[field])]
            found = names(app.get("entries", sort="name", **{f"{field}{op}": a})["items"])
            assert found == expected, (field, op)


def test_sorting_filters_and_cursor_pages_tell_close_values_apart(clean: App) -> None:
    values = {
        "top": TOP,
        "below": TOP - Decimal("0.01"),
        "further": TOP - Decimal("0.02"),
        "bottom": -TOP,
        "cent": Decimal("0.01"),
        "zero": Decimal("0.00"),
        "minus": Decimal("-0.01"),
        "mid": Decimal("1234567890123456.78"),
        "mid2": Decimal("1234567890123456.79"),
    }
    for name, value in values.items():
        clean.post("entries", name=name, wide=str(value))
    clean.post("entries", name="empty")
    ascending = sorted(values, key=lambda n: values[n])
    assert names(clean.get("entries", sort="wide", limit=20)["items"]) == [*ascending, "empty"]
    descending = ["empty", *ascending[::-1]]  # an empty value is the greatest
    assert names(clean.get("entries", sort="-wide", limit=20)["items"]) == descending
    paged: list[str] = []
    params: dict[str, Any] = {"sort": "-wide", "limit": 2}
    while True:
        page = clean.get("entries", **params)
        paged += names(page["items"])
        if not page["next_cursor"]:
            break
        params = {"sort": "-wide", "limit": 2, "cursor": page["next_cursor"]}
    assert paged == descending

    def matching(**params: str) -> set[str]:
        return set(names(clean.get("entries", limit=50, **params)["items"]))

    assert matching(wide__gt=str(TOP - Decimal("0.01"))) == {"top"}
    assert matching(wide__gte=str(TOP - Decimal("0.01"))) == {"top", "below"}
    assert matching(wide=str(TOP - Decimal("0.01"))) == {"below"}
    assert matching(wide__lt=str(-TOP + Decimal("0.01"))) == {"bottom"}
    assert matching(wide__in=f"{TOP},0.005,1234567890123456.79") == {"top", "mid2"}
    # values off the field's grid compare as numbers do
    assert matching(wide__gt="0.005") == {"top", "below", "further", "cent", "mid", "mid2"}
    assert matching(wide__lte="0.005") == {"zero", "minus", "bottom"}
    assert matching(wide="0.005") == set()
    assert matching(wide__ne="0.005") == set(values) | {"empty"}
    # and values beyond the field's range too; far beyond what a filter takes, a 400
    far = "99999999999999999.5"
    assert matching(wide__lt=far) == set(values)
    assert matching(wide__gt=far) == set()
    assert matching(wide__gt="-" + far) == set(values)
    assert matching(wide__in=far) == set()
    refused = clean.client.get(
        "/api/entries", params={"wide__lt": "9" * 30}, headers=clean.headers("admin")
    )
    assert refused.status_code == 400 and "wide__lt" in refused.json()["error"]["fields"]


TERMS = ("small", "whole", "price", "count", "wide")


def test_record_rules_compare_columns_in_one_unit(clean: App) -> None:
    rows = {
        # small < whole, price >= count, wide > 0.005
        "all": ("0.99", "1", "5.00", 5, "0.01"),
        "equal_small": ("1.00", "1", "5.00", 5, "0.01"),
        "cheap": ("0.99", "1", "4.99", 5, "0.01"),
        "zero_wide": ("0.99", "1", "5.00", 5, "0.00"),
        "big": ("99.50", "100", "9999999999.99", 999999999, TOP),
    }
    for name, (small, whole, price, count, wide) in rows.items():
        clean.post(
            "entries", name=name, small=small, whole=whole, price=price, count=count, wide=str(wide)
        )
    for name, opens in (("early", "09:29:59"), ("on_time", "09:30"), ("noon", "12:00")):
        clean.post("entries", name=name, opens=opens, **dict(zip(TERMS, rows["all"], strict=True)))
    listed = set(names(clean.get("entries", who="manager", limit=50)["items"]))
    assert listed == {"all", "big", "on_time"}
    # the database itself holds the limits of ``small`` (-99.5 .. 99.5) in its own unit
    table = clean.gen.models.Entry.__table__
    with clean.database.engine.begin() as connection:
        connection.execute(sa.insert(table).values(name="edge", small=Decimal("99.50")))
    with pytest.raises(sa.exc.IntegrityError), clean.database.engine.begin() as connection:
        connection.execute(sa.insert(table).values(name="over", small=Decimal("99.51")))


def _entries(app: App) -> list[dict[str, Any]]:
    """Ten entries whose sums overflow 64 bits in units, over two batches and four stages."""
    batches = {name: app.post("batches", name=name)["id"] for name in ("A", "B")}
    stages = ["open", "won", "lost", None]
    made = []
    for i in range(10):
        values = {
            "name": f"e{i}",
            "batch": batches["AB"[i % 2]],
            "stage": stages[i % 4],
            "wide": str(TOP - i),
            "whole": str(10**18 - 1 - i),
            "fine": str(Decimal("999999.999999999999") - Decimal(i).scaleb(-12)),
            "price": "9999999999.99",
        }
        app.post("entries", **{k: v for k, v in values.items() if v is not None})
        made.append({**values, "batch_name": "AB"[i % 2]})
    return made


def _sum(values: list[Decimal]) -> Decimal:
    return sum(values, Decimal(0)) if not values else WIDE.add(sum(values[1:], values[0]), 0)


def _weighted(rows: list[dict[str, Any]], field: str) -> Decimal:
    return _sum([WIDE.multiply(Decimal(r[field]), WEIGHTS[r["stage"]]) for r in rows])


def _places(value: Decimal, scale: int) -> str:
    return format(value.quantize(Decimal(1).scaleb(-scale), context=WIDE), "f")


def test_sums_averages_and_weights_are_exact_and_never_overflow(clean: App) -> None:
    rows = _entries(clean)
    wide = [Decimal(r["wide"]) for r in rows]
    fine = [Decimal(r["fine"]) for r in rows]
    total = _places(_sum(wide), 2)
    assert total == "99999999999999954.90"  # beyond 2^63 hundredths
    board = clean.client.get("/api/dashboards/money", headers=clean.headers("admin"))
    assert board.status_code == 200, board.text
    kpis = {name: kpi["value"] for name, kpi in board.json()["kpis"].items()}
    assert kpis["total"] == total
    assert kpis["average"] == _places(WIDE.divide(_sum(wide), 10), 2)
    assert kpis["smallest"] == str(min(fine)) and kpis["largest"] == str(max(fine))
    assert kpis["forecast"] == _places(_weighted(rows, "wide"), 2)
    weighted_fine = WIDE.divide(_weighted(rows, "fine"), 10)
    assert kpis["weighted_average"] == _places(weighted_fine, 12)
    assert kpis["whole_total"] == str(_sum([Decimal(r["whole"]) for r in rows]))
    charts = board.json()["charts"]
    by_stage = {p["key"]: p["value"] for p in charts["by_stage"]["points"]}
    for stage in ("open", "won", "lost", None):
        mine = [Decimal(r["wide"]) for r in rows if r["stage"] == stage]
        assert by_stage[stage] == _places(_sum(mine), 2), stage
    forecast = {p["key"]["display"]: p["value"] for p in charts["forecast_by_batch"]["points"]}
    for batch in ("A", "B"):
        mine = [r for r in rows if r["batch_name"] == batch]
        assert forecast[batch] == _places(_weighted(mine, "wide"), 2), batch

    report = clean.client.get("/api/reports/by_batch", headers=clean.headers("admin")).json()
    assert report["totals"]["total"] == total
    assert report["totals"]["forecast"] == _places(_weighted(rows, "wide"), 2)
    assert report["totals"]["average"] == _places(WIDE.divide(_sum(fine), 10), 12)
    assert report["totals"]["smallest"] == str(min(wide))
    assert report["totals"]["largest"] == str(max(Decimal(r["whole"]) for r in rows))
    for row in report["rows"]:
        mine = [r for r in rows if r["batch"] == row["keys"][0]["id"]]
        assert row["values"]["total"] == _places(_sum([Decimal(r["wide"]) for r in mine]), 2)

    tally = clean.post("tallies", name="now")
    done = clean.client.post(
        f"/api/tallies/{tally['id']}/actions/tally", headers=clean.headers("admin")
    )
    assert done.status_code == 200, done.text
    record = done.json()["record"]
    assert record["sum_wide"] == total
    assert record["avg_wide"] == _places(WIDE.divide(_sum(wide), 10), 2)
    assert record["min_fine"] == str(min(fine)) and record["max_fine"] == str(max(fine))
    assert record["sum_whole"] == str(_sum([Decimal(r["whole"]) for r in rows]))


def test_a_document_sums_its_lines_exactly(clean: App) -> None:
    rows = _entries(clean)
    batch = rows[0]["batch"]
    mine = [Decimal(r["wide"]) for r in rows if r["batch"] == batch]
    response = clean.client.get(
        f"/api/batches/{batch}/documents/statement.xlsx", headers=clean.headers("admin")
    )
    assert response.status_code == 200, response.text
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert _places(_sum(mine), 2) in cells, "|".join(cells)
    assert all(str(value) in cells for value in mine), cells
    pdf = clean.client.get(
        f"/api/batches/{batch}/documents/statement.pdf", headers=clean.headers("admin")
    )
    assert pdf.status_code == 200


def _signed_in(app: App) -> str:
    """The admin's browser session on the client; its CSRF token."""
    app.client.cookies.clear()
    login = app.client.post(
        "/api/auth/login", json={"email": "admin@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    return str(login.json()["csrf_token"])


def _import(app: App, name: str, data: bytes) -> str:
    """Import ``data`` into entries as the mapping page proposes (ids left out); the result page."""
    location = uploaded(app, "entries", name, data)
    mapping = {
        c: "" if f == "id" else f for c, f in selected(app.client.get(location).text).items()
    }
    return str(run(app, location, mapping).text)


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_export_then_import_keeps_every_digit(clean: App, kind: str) -> None:
    values = {
        "wide": str(TOP),
        "whole": str(10**18 - 1),
        "fine": "999999.999999999999",
        "price": "9999999999.99",
        "small": "-99.50",
    }
    wide = {"big": -(2**62) - 1, "ratio": 0.1, "opens": "23:59:59"}  # beyond a double's 2**53
    clean.post("entries", name="exported", **values, **wide)
    clean.post("entries", name="plain", wide="12.50", fine="0.000000000001")
    _signed_in(clean)
    try:
        exported = clean.client.get(f"/entries/export.{kind}", params={"sort": "name"})
        assert exported.status_code == 200, exported.text
        if kind == "csv":
            rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        else:
            book = openpyxl.load_workbook(io.BytesIO(exported.content))
            rows = [
                ["" if c is None else c for c in r] for r in book.active.iter_rows(values_only=True)
            ]
        cells = dict(zip([str(h) for h in rows[0]], rows[1]))
        for field, value in values.items():  # text, or a number that is exactly the value
            assert Decimal(str(cells[field.title()])) == Decimal(value), (field, cells)
        clean.clear()
        result = _import(clean, f"entries.{kind}", exported.content)
        assert 'id="import-created">2<' in result, result
    finally:
        clean.client.cookies.clear()
    back = {item["name"]: item for item in clean.get("entries", sort="name")["items"]}
    assert {f: back["exported"][f] for f in values} == values
    assert {f: back["exported"][f] for f in wide} == wide
    assert back["plain"]["wide"] == "12.50" and back["plain"]["fine"] == "0.000000000001"


# --- 64-bit integers, floats and times of day ------------------------------------------------


def test_bigints_floats_and_times_round_trip(clean: App) -> None:
    cases = {
        "billions": {"big": 3_000_000_000, "ratio": 1e308, "opens": "09:30"},
        "negative": {"big": -(2**62), "ratio": 0.1, "opens": "23:59:59"},
        "widest": {"big": 2**63 - 1, "ratio": -5e-324, "opens": "00:00"},
        "lowest": {"big": -(2**63), "ratio": 2.5},
        "as_text": {"big": "9007199254740993", "ratio": "1e-7"},  # what JavaScript sends
    }
    for name, values in cases.items():
        clean.post("entries", name=name, **values)
    back = {item["name"]: item for item in clean.get("entries", limit=50)["items"]}
    assert back["billions"]["big"] == 3_000_000_000 and back["billions"]["ratio"] == 1e308
    assert back["billions"]["opens"] == "09:30:00"
    assert back["negative"]["big"] == -(2**62) and back["negative"]["ratio"] == 0.1
    assert back["negative"]["opens"] == "23:59:59"
    assert back["widest"]["big"] == 2**63 - 1 and back["widest"]["ratio"] == -5e-324
    assert back["lowest"]["big"] == -(2**63) and back["lowest"]["opens"] == "09:30:00"  # default
    assert back["as_text"]["big"] == 2**53 + 1 and back["as_text"]["ratio"] == 1e-7
    raw = clean.client.get(f"/api/entries/{back['negative']['id']}", headers=clean.headers("admin"))
    assert b'"big":-4611686018427387904' in raw.content and b'"ratio":0.1' in raw.content

    def matching(**params: Any) -> list[str]:
        return names(clean.get("entries", limit=50, sort="big", **params)["items"])

    assert matching(big__gt=2**53) == ["as_text", "widest"]
    assert matching(big=2**53 + 1) == ["as_text"]
    assert matching(big__gte=3_000_000_000) == ["billions", "as_text", "widest"]
    assert matching(big__lt=0) == ["lowest", "negative"]
    assert matching(ratio__gt=1e300) == ["billions"]
    assert matching(ratio__lt=0) == ["widest"]
    assert matching(opens__gte="09:30", opens__lt="23:00") == ["lowest", "billions", "as_text"]
    paged: list[str] = []
    params: dict[str, Any] = {"sort": "-big", "limit": 2}
    while True:  # the cursor carries 64-bit values and floats
        page = clean.get("entries", **params)
        paged += names(page["items"])
        if not page["next_cursor"]:
            break
        params = {"sort": "-big", "limit": 2, "cursor": page["next_cursor"]}
    assert paged == ["widest", "as_text", "billions", "negative", "lowest"]
    by_ratio = names(clean.get("entries", sort="ratio,opens", limit=50)["items"])
    assert by_ratio == ["widest", "as_text", "negative", "lowest", "billions"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("big", 2**63),
        ("big", -(2**63) - 1),  # JSON's reader makes a float of it: refused, not rounded
        ("big", 1e19),
        ("big", 1.5),
        ("big", "12a"),
        ("ratio", "NaN"),
        ("ratio", "Infinity"),
        ("ratio", "-inf"),
        ("ratio", "1e400"),
        ("ratio", "many"),
        ("opens", "24:00"),
        ("opens", "9.30"),
        ("opens", 930),
    ],
)
def test_values_out_of_range_or_not_finite_are_refused(app: App, field: str, value: Any) -> None:
    body = json.dumps({"name": "refused", field: value}).encode()
    response = app.client.post(
        "/api/entries",
        content=body,
        headers={**app.headers("admin"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["fields"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_json_that_is_not_a_finite_number_is_refused(app: App, literal: str) -> None:
    response = app.client.post(
        "/api/entries",
        content=f'{{"name": "refused", "ratio": {literal}}}'.encode(),
        headers={**app.headers("admin"), "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text


def test_forms_and_pages_take_and_show_wide_numbers_and_times(clean: App) -> None:
    token = _signed_in(clean)
    try:
        form = clean.client.get("/entries/new").text
        assert 'name="opens" type="time" value="09:30"' in form  # the spec's default
        assert 'name="ratio" type="number" value="" step="any">' in form
        assert 'name="big" type="number" value="" step="1" min="-9223372036854775808"' in form
        sent = clean.client.post(
            "/entries/new",
            data={
                "csrf_token": token,
                "name": "typed",
                "big": str(2**62 + 1),
                "ratio": "1e-7",
                "opens": "18:45",
            },
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        listed = clean.client.get("/entries", params={"opens__gte": "18:00"}).text
        assert "Total: 1<" in listed and 'type="time" name="opens__gte" value="18:00"' in listed
        item = clean.get("entries")["items"][0]
        page = clean.client.get(f"/entries/{item['id']}").text
        assert "4,611,686,018,427,387,905" in page and "1E-7" in page and "18:45<" in page
    finally:
        clean.client.cookies.clear()
    assert (item["big"], item["ratio"], item["opens"]) == (2**62 + 1, 1e-7, "18:45:00")


def test_dashboards_sum_64_bit_integers_and_floats(clean: App) -> None:
    for i, (big, ratio) in enumerate([(2**62, 0.5), (2**62, 0.25), (2**62, 1e300)]):
        clean.post("entries", name=f"n{i}", big=big, ratio=ratio)
    board = clean.client.get("/api/dashboards/money", headers=clean.headers("admin"))
    assert board.status_code == 200, board.text
    kpis = {name: kpi["value"] for name, kpi in board.json()["kpis"].items()}
    assert Decimal(str(kpis["big_total"])) == 3 * 2**62  # beyond 64 bits
    assert float(kpis["ratio_total"]) == 1e300 and float(kpis["ratio_average"]) == 1e300 / 3
