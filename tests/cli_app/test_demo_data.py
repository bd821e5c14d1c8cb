"""``seed --today``: the reference CRM's demo data looks real, on both databases.

Dates lie within the twelve months before "today" and the weeks after it (birthdays aside),
with records this month and tasks due today; orders add up their lines and invoices their
order's; the deal stages form a funnel; every entity has records; the Russian CRM gets
Cyrillic names; texts fit their patterns and lengths; the same "today" gives the same data.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from crmgen_runtime import crypto
from phonenumbers import PhoneNumberFormat

import crmgen
from crmgen.language.model import Spec
from tests.generated_apps import INLINE_SPECS, GeneratedApps
from tests.migrations.apptools import fresh_database, run_app, table_rows
from tests.render.test_seed_plan import QUOTES

INLINE_SPECS.setdefault("quotes", QUOTES)

PACKAGE = "reference_crm"
TODAY = dt.date(2027, 1, 20)  # not the real date: the data follows the option
FUTURE = dt.timedelta(weeks=6, days=1)  # the seeder's FUTURE_WEEKS, and a time zone's day
PAST = dt.timedelta(days=366)
E164 = PhoneNumberFormat.E164
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
Rows = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def app(
    generated_apps: GeneratedApps, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Spec]:
    """A copy of the reference CRM (its commands run in OUT) and its spec."""
    shared = generated_apps("crm")
    return shared.copy_to(tmp_path_factory.mktemp("demo") / "out"), crmgen.load(shared.spec)


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def databases(kind: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    for first in fresh_database(kind, tmp_path, "first"):
        for second in fresh_database(kind, tmp_path, "second"):
            yield first, second


@pytest.fixture
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database(kind, tmp_path)


def seeded(out: Path, url: str, package: str = PACKAGE) -> Rows:
    run_app(out, package, "migrate", url=url)
    done = run_app(out, package, "seed", "--today", TODAY.isoformat(), url=url)
    assert "seeded" in done.stderr
    return table_rows(url)


def day(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def check_bounds(rows: Rows) -> None:
    """Every date within twelve months before today and six weeks after (birthdays aside);
    no record stamped with the time the seed ran."""
    for table, records in rows.items():
        for record in records:
            for column, value in record.items():
                if isinstance(value, dt.date) and "birth" not in column:
                    assert TODAY - PAST <= day(value) <= TODAY + FUTURE, (table, column, value)
            assert record.get("updated_at") == record.get("created_at"), table


def check_dates(rows: Rows) -> None:
    check_bounds(rows)
    this_month = [d for d in rows["deals"] if day(d["created_at"]).month == TODAY.month]
    assert this_month and any(d["stage"] == "won" for d in this_month)
    assert any(t["deadline"] == TODAY for t in rows["tasks"])
    assert any(t["deadline"] < TODAY for t in rows["tasks"])  # overdue
    assert any(t["deadline"] > TODAY for t in rows["tasks"])  # upcoming
    met = [day(i["happened_at"]) for i in rows["interactions"]]
    assert TODAY in met and any(m > TODAY for m in met)  # calls and meetings around today
    born = [c["birthday"] for c in rows["contacts"] if c["birthday"]]
    assert born and all(b.year < TODAY.year - 20 for b in born)


def check_documents(rows: Rows) -> None:
    lines: dict[int, list[dict[str, Any]]] = {}
    for line in rows["order_lines"]:
        assert line["line_total"] == line["quantity"] * line["price"]
        lines.setdefault(line["sales_order_id"], []).append(line)
    prices = {p["id"]: p["price"] for p in rows["products"]}
    assert all(line["price"] == prices[line["product_id"]] for line in rows["order_lines"])
    orders = {o["id"]: o for o in rows["orders"]}
    for order in orders.values():
        assert 1 <= len(lines[order["id"]]) <= 4
        assert order["total"] == sum(line["line_total"] for line in lines[order["id"]])
    invoiced = [i for i in rows["invoices"] if i["sales_order_id"] is not None]
    assert invoiced and all(i["total"] == orders[i["sales_order_id"]]["total"] for i in invoiced)


def check_funnel(rows: Rows, spec: Spec) -> None:
    deal = next(e for e in spec.entities if e.name == "Deal")
    stages = [v.name for v in next(f for f in deal.fields if f.name == "stage").values]
    counts = Counter(d["stage"] for d in rows["deals"])
    open_stages = [counts[s] for s in stages[:-2]]  # lead .. negotiation
    assert open_stages == sorted(open_stages, reverse=True)
    assert counts["lead"] > counts["won"] > 0 and counts["lost"] > 0
    # a field of a state is set in that state only (as the processes set them)
    for d in rows["deals"]:
        assert (d["closed_on"] is not None) == (d["stage"] in ("won", "lost")), d
        assert (d["lost_reason"] is not None) == (d["stage"] == "lost"), d
    for t in rows["tasks"]:
        assert (t["done_at"] is not None) == (t["status"] == "done"), t
    assert all((i["paid_at"] is not None) == (i["status"] == "paid") for i in rows["invoices"])


def decrypted(rows: Rows, spec: Spec) -> Rows:
    """``rows`` with the plaintext of every encrypted field (each stored value a token, each
    token of a new random nonce: two seeds store different tokens of the same values)."""
    keys = crypto.keyring_from(os.environ)
    opened = {table: [dict(r) for r in records] for table, records in rows.items()}
    for entity in spec.entities:
        for f in entity.fields:
            if not f.encrypted:
                continue
            context = crypto.context_of(entity.name, f.name)
            stored = [r[f.name] for r in opened[entity.table] if r.get(f.name) is not None]
            assert stored and all(crypto.is_token(v) for v in stored), (entity.name, f.name)
            for record in opened[entity.table]:
                if record.get(f.name) is not None:
                    record[f.name] = keys.decrypt(record[f.name], context)
    return opened


def check_fields(rows: Rows, spec: Spec) -> None:
    for entity in spec.entities:
        records = rows[entity.table]
        assert records, f"no demo {entity.name}"
        for f in entity.fields:
            values = [r[f.name] for r in records if isinstance(r.get(f.name), str)]
            if f.pattern:
                assert all(re.fullmatch(f.pattern, v) for v in values), (entity.name, f.name)
            if f.max_length:
                assert all(len(v) <= f.max_length for v in values), (entity.name, f.name)
            if f.unique and values:
                assert len(set(values)) == len(values), (entity.name, f.name)
            if f.type == "phone" and spec.app.phone_region:  # real numbers of the region
                region = spec.app.phone_region
                for value in values:
                    number = phonenumbers.parse(value, None)
                    assert value == phonenumbers.format_number(number, E164), value
                    assert phonenumbers.is_valid_number(number), (entity.name, f.name, value)
                    assert phonenumbers.region_code_for_number(number) == region, value
    for table, column in (("contacts", "full_name"), ("companies", "name"), ("users", "name")):
        assert all(CYRILLIC.search(r[column]) for r in rows[table]), table  # ru is the default


def test_demo_data_looks_real(app: tuple[Path, Spec], databases: tuple[str, str]) -> None:
    out, spec = app
    rows = decrypted(seeded(out, databases[0]), spec)
    check_dates(rows)
    check_documents(rows)
    check_funnel(rows, spec)
    check_fields(rows, spec)
    # the same "today": the same data (salted hashes and encryption's nonces aside)
    again = decrypted(seeded(out, databases[1]), spec)
    for users in (rows["users"], again["users"]):
        for user in users:
            user.pop("password_hash")
    assert again == rows


def test_a_spec_of_its_own_gets_funnels_and_sums(
    generated_apps: GeneratedApps, tmp_path: Path, database: str
) -> None:
    """Nothing is the reference CRM's: other names, a process and a document give the sums."""
    out = generated_apps("quotes").copy_to(tmp_path / "quotes")
    rows = seeded(out, database, "quotes")
    assert all(rows[table] for table in ("items", "quotes", "quote_lines", "bills"))
    check_bounds(rows)
    assert any(q["valid_until"] == TODAY for q in rows["quotes"])  # the calendar's date
    lines: dict[int, list[Any]] = {}
    for line in rows["quote_lines"]:
        assert line["subtotal"] == line["qty"] * line["cost"]
        lines.setdefault(line["quote_id"], []).append(line["subtotal"])
    sums = {q["id"]: q["sum"] for q in rows["quotes"]}
    assert all(sums[quote] == sum(subtotals) for quote, subtotals in lines.items())
    billed = [b for b in rows["bills"] if b["quote_id"] is not None]
    assert billed and all(b["amount"] == sums[b["quote_id"]] for b in billed)
    phases = Counter(q["phase"] for q in rows["quotes"])
    assert phases["draft"] > phases["accepted"] > 0 and phases["rejected"] > 0
