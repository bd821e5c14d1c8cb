"""Upgrading a deployed app: the previous release's database, today's crmgen, ``migrate``.

``previous_crm/`` is what the previous release generated for ``examples/crm`` and a deployed
app keeps (its migrations and the ``.crmgen`` marker; see README.md). The ``upgraded`` fixture,
once per database kind, copies it to a temporary OUT, generates ``examples/crm`` over it with
today's crmgen (the new revisions appear beside the old ones), brings an empty database to the
previous release's last revision, fills it the way that release's app stored data (``OLD_ROWS``,
written as its columns took them: on SQLite, decimals were floats), then runs the app's
``migrate``. Each test then checks one thing the upgrade must have kept or done.

To extend it when a release changes the app's tables: add rows of the previous release's
tables to ``OLD_ROWS`` with the values today's app must read back, and write a test that takes
``upgraded`` for what the new revisions must have done (a new table, a column's default...).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from crmgen.generate import generate
from tests.migrations.apptools import (
    app_python,
    app_rows,
    engine_for,
    fresh_database,
    run_app,
    schema_diff,
)

ROOT = Path(__file__).resolve().parents[2]
PREVIOUS = Path(__file__).parent / "previous_crm"
PACKAGE = "reference_crm"
PREVIOUS_HEAD = "0001"
KINDS = ("sqlite", "postgresql")
database = contextmanager(fresh_database)

# The previous release's rows, table by table, as its app wrote them; the expected value of
# each column is the row's own value as today's app shows it (decimals with every place of
# their scale, JSON as is). ``JSON_NULL`` is JSON's null, None no value at all.
JSON_NULL = sa.JSON.NULL
OLD_ROWS: dict[str, list[dict[str, Any]]] = {
    "users": [{"id": 1, "email": "old@demo.example", "name": "Old", "active": True}],
    "companies": [
        {"id": 1, "name": "Ромашка", "annual_revenue": Decimal("9999999999.99"), "extra": {"n": [1, None, "ß"]}},
        {"id": 2, "name": "Zero", "annual_revenue": Decimal("0.00"), "extra": JSON_NULL},
        {"id": 3, "name": "Empty", "annual_revenue": None, "extra": None},
    ],
    "contacts": [
        {"id": 1, "full_name": "Top", "discount": Decimal("100.00"), "company_id": 1, "photo": "https://cdn.example/top.jpg"},
        {"id": 2, "full_name": "Cent", "discount": Decimal("0.01"), "is_key": True},
        {"id": 3, "full_name": "Nothing", "discount": None, "birthday": dt.date(1990, 2, 28)},
    ],
    "deals": [
        {"id": 1, "name": "Big", "stage": "won", "amount": Decimal("9999999999.99"), "vat": Decimal("1999999999.99"), "company_id": 1},
        {"id": 2, "name": "Small", "stage": "lead", "amount": Decimal("0.05"), "vat": Decimal("0.01")},
    ],
    "products": [{"id": 1, "name": "Thing", "sku": "T-1", "price": Decimal("1234567890.12")}],
    "orders": [
        {"id": 1, "number": "O-1", "company_id": 1, "total": Decimal("0.30")},
        {"id": 2, "number": "O-2", "company_id": 2, "total": Decimal("2.68")},
    ],
    "order_lines": [
        {"id": 1, "sales_order_id": 1, "product_id": 1, "quantity": 3, "price": Decimal("0.10"), "line_total": Decimal("0.30")},
    ],
    "invoices": [{"id": 1, "number": "INV-2024-1", "total": Decimal("12.34"), "pdf": "https://files.example/inv-1.pdf"}],
}  # fmt: skip
# SQLite only: floats no two-place decimal gives (a sum of floats, a value written by another
# tool). That release read them rounded to two places ('%.2f'), and so must today's app.
SQLITE_FLOATS = {
    ("orders", 1, "total"): (0.1 + 0.2, "0.30"),
    ("orders", 2, "total"): (2.675, "2.67"),  # the float is 2.67499999..., not 2.675
}
# Phones as people typed them before ``app.phone_region`` (issue 15): the upgrade stores them in
# E.164 and keeps, as it was, what is no phone number (by contact id: before, after).
OLD_PHONES = {
    1: ("8 912 345-67-89", "+79123456789"),
    2: ("+44 20 7946 0958", "+442079460958"),
    3: ("ask the office", "ask the office"),
}


@dataclass
class Upgraded:
    """A database of the previous release, upgraded by today's app at ``out``."""

    kind: str
    out: Path
    url: str
    rows: dict[str, list[dict[str, Any]]]  # what today's app reads, table by table


def _stored(kind: str, value: Any) -> Any:
    """A value as the previous release's app bound it (SQLite's NUMERIC took a float)."""
    if isinstance(value, Decimal) and kind == "sqlite":
        return float(value)
    return value


def _shown(value: Any) -> Any:
    """A value of ``OLD_ROWS`` as today's app reads it (see ``apptools.app_rows``)."""
    if value is JSON_NULL:
        return None
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def fill_like_the_previous_release(kind: str, url: str) -> None:
    engine = engine_for(url)
    json_type = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
    try:
        with engine.begin() as connection:
            for table, rows in OLD_ROWS.items():
                names = sorted({name for row in rows for name in row})
                columns = [sa.column(n, json_type if n == "extra" else None) for n in names]
                target = sa.table(table, *columns)
                for row in rows:
                    values = {n: _stored(kind, row.get(n)) for n in names}
                    connection.execute(sa.insert(target).values(values))
            for row_id, (phone, _) in OLD_PHONES.items():
                connection.execute(
                    sa.text("UPDATE contacts SET phone = :phone WHERE id = :id"),
                    {"phone": phone, "id": row_id},
                )
            if kind == "sqlite":
                for (table, row_id, column), (value, _) in SQLITE_FLOATS.items():
                    connection.execute(
                        sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),
                        {"value": value, "id": row_id},
                    )
    finally:
        engine.dispose()


def migrate_to(out: Path, url: str, revision: str, action: str = "upgrade") -> None:
    """Alembic's ``action`` (upgrade or downgrade) of ``url`` to ``revision``."""
    code = (
        "import os\n"
        "from alembic import command\n"
        f"from {PACKAGE}.cli import alembic_config\n"
        f"command.{action}(alembic_config(os.environ['DATABASE_URL']), {revision!r})\n"
        "print('null')\n"
    )
    app_python(out, code, url)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release's OUT, generated over by today's crmgen."""
    target = tmp_path_factory.mktemp("upgrade") / "crm"
    shutil.copytree(PREVIOUS, target)
    generate(ROOT / "examples" / "crm", target)
    return target


@pytest.fixture(scope="module", params=KINDS)
def upgraded(
    request: pytest.FixtureRequest, out: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Upgraded]:
    with database(request.param, tmp_path_factory.mktemp("old_db"), "old") as url:
        migrate_to(out, url, PREVIOUS_HEAD)
        fill_like_the_previous_release(request.param, url)
        run_app(out, PACKAGE, "migrate", url=url)
        (rows,) = app_rows(out, url)
        yield Upgraded(request.param, out, url, rows)


def test_the_new_revisions_follow_the_old_ones(out: Path) -> None:
    revisions = sorted(p.name for p in (out / "migrations" / "versions").glob("*.py"))
    old = sorted(p.name for p in (PREVIOUS / "migrations" / "versions").glob("*.py"))
    assert revisions[: len(old)] == old and len(revisions) > len(old)
    for name in old:  # copied byte for byte
        assert (out / "migrations/versions" / name).read_bytes() == (
            PREVIOUS / "migrations/versions" / name
        ).read_bytes()


def test_every_old_value_reads_as_the_previous_release_read_it(upgraded: Upgraded) -> None:
    for table, rows in OLD_ROWS.items():
        found = {row["id"]: row for row in upgraded.rows[table]}
        for row in rows:
            expected = {name: _shown(value) for name, value in row.items()}
            if upgraded.kind == "sqlite":
                for (t, row_id, column), (_, shown) in SQLITE_FLOATS.items():
                    if (t, row_id) == (table, row["id"]):
                        expected[column] = shown
            assert {n: found[row["id"]][n] for n in expected} == expected, table
    companies = {row["id"]: row for row in upgraded.rows["companies"]}
    assert companies[2]["empty_extra"] is False and companies[3]["empty_extra"] is True


def test_decimals_are_stored_exactly_after_the_upgrade(upgraded: Upgraded) -> None:
    engine = engine_for(upgraded.url)
    try:
        with engine.connect() as connection:
            if upgraded.kind == "sqlite":  # whole hundredths, no float left
                kinds = connection.execute(
                    sa.text("SELECT DISTINCT typeof(amount) FROM deals WHERE amount IS NOT NULL")
                ).scalars()
                assert set(kinds) == {"integer"}
            big = connection.execute(sa.text("SELECT amount FROM deals WHERE id = 1")).scalar()
            assert Decimal(big) in (Decimal("9999999999.99"), Decimal(999999999999))
    finally:
        engine.dispose()


def test_a_fresh_database_at_head_matches_the_models(out: Path, tmp_path: Path) -> None:
    for kind in KINDS:
        with database(kind, tmp_path, f"fresh_{kind}") as url:
            run_app(out, PACKAGE, "migrate", url=url)
            assert schema_diff(out, url) == [], kind


def test_the_upgraded_database_matches_the_models(upgraded: Upgraded) -> None:
    assert schema_diff(upgraded.out, upgraded.url) == []


def test_a_backup_of_the_previous_release_restores(upgraded: Upgraded, tmp_path: Path) -> None:
    """A backup in the previous release's format (1): decimals as text, JSON's null and no
    value both written as null (restored as no value)."""
    header = {
        "format": "crmgen-backup",
        "format_version": 1,
        "app": PACKAGE,
        "revision": PREVIOUS_HEAD,
        "dialect": "sqlite",
        "tables": {
            table: sorted({n for row in rows for n in row}) for table, rows in OLD_ROWS.items()
        },
    }
    lines = [header] + [
        {"table": table, "row": {n: _shown(row.get(n)) for n in header["tables"][table]}}
        for table, rows in OLD_ROWS.items()
        for row in rows
    ]
    backup = tmp_path / "old.jsonl.gz"
    with gzip.open(backup, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    with database(upgraded.kind, tmp_path, "restored") as url:
        run_app(upgraded.out, PACKAGE, "restore", str(backup), url=url)
        (rows,) = app_rows(upgraded.out, url)
        for table, old in OLD_ROWS.items():
            found = {row["id"]: row for row in rows[table]}
            for row in old:
                expected = {n: _shown(v) for n, v in row.items()}
                assert {n: found[row["id"]][n] for n in expected} == expected, table
        companies = {row["id"]: row for row in rows["companies"]}
        assert companies[2]["empty_extra"] is True  # format 1 could not say; no value
        assert schema_diff(upgraded.out, url) == []


def test_downgrade_and_upgrade_again_keep_every_value(upgraded: Upgraded) -> None:
    migrate_to(upgraded.out, upgraded.url, PREVIOUS_HEAD, "downgrade")
    run_app(upgraded.out, PACKAGE, "migrate", url=upgraded.url)
    assert app_rows(upgraded.out, upgraded.url) == [upgraded.rows]


def test_the_system_tables_of_this_release_are_added(upgraded: Upgraded) -> None:
    """Issue 10 added ``rate_limits`` (reset-mail limits) and ``email_changes`` (confirmed
    e-mail changes): the upgrade creates them empty beside the old tables."""
    for table in ("crm_rate_limits", "crm_email_changes"):
        assert upgraded.rows[table] == [], table
    assert [row["email"] for row in upgraded.rows["users"]] == ["old@demo.example"]


def test_file_fields_keep_their_web_addresses_as_external_links(upgraded: Upgraded) -> None:
    """Issue 14 stores uploads (``crm_files``, added empty); a file field's old value, a web
    address, is kept as it was and the app shows it as an external link."""
    assert upgraded.rows["crm_files"] == []
    contacts = {row["id"]: row for row in upgraded.rows["contacts"]}
    assert contacts[1]["photo"] == "https://cdn.example/top.jpg"
    assert upgraded.rows["invoices"][0]["pdf"] == "https://files.example/inv-1.pdf"


def test_migrate_adds_the_full_text_indexes(upgraded: Upgraded) -> None:
    """The previous release had trigram indexes only: ``migrate`` adds each searchable table's
    full-text index on PostgreSQL, and its FTS5 search table on SQLite."""
    engine = sa.create_engine(upgraded.url)
    try:
        with engine.connect() as connection:
            names = set(sa.inspect(connection).get_table_names())
            indexes = {
                index["name"]
                for table in ("companies", "contacts", "deals")
                for index in sa.inspect(connection).get_indexes(table)
            }
    finally:
        engine.dispose()
    assert {"companies", "contacts", "deals"} <= names
    full_text = {name for name in indexes if "_fts_" in (name or "")}
    expected = 3 if upgraded.kind == "postgresql" else 0
    assert len(full_text) == expected, sorted(i or "" for i in indexes)
    if upgraded.kind == "sqlite":
        tables = {n.split("_fts_")[0] for n in names if "_fts_" in n}
        assert {"companies", "contacts", "deals"} <= tables, sorted(names)


def test_phones_are_normalised_and_what_is_no_number_is_kept(upgraded: Upgraded) -> None:
    """Issue 15 stores phones in E.164 (``app.phone_region: RU``): the upgrade rewrites the old
    values, a number without its country code read as Russian; a value that is no phone number
    stays as it was (the revision logs it)."""
    contacts = {row["id"]: row for row in upgraded.rows["contacts"]}
    assert {i: contacts[i]["phone"] for i in OLD_PHONES} == {
        i: after for i, (_, after) in OLD_PHONES.items()
    }
    revisions = (upgraded.out / "migrations" / "versions").glob("*.py")
    assert any("normalise_column(" in p.read_text(encoding="utf-8") for p in revisions)


def test_migrate_fills_the_new_rollup_fields(upgraded: Upgraded) -> None:
    """``Company.won_total`` and ``Contact.last_contacted_at`` are new: ``migrate`` computes
    them from the records the previous release kept (acme's won deal; no interactions)."""
    won = {row["id"]: row["won_total"] for row in upgraded.rows["companies"]}
    assert won == {1: "9999999999.99", 2: "0.00", 3: "0.00"}
    assert {row["last_contacted_at"] for row in upgraded.rows["contacts"]} == {None}


def test_personal_data_gets_its_log_table(upgraded: Upgraded) -> None:
    """Issue 16 (GDPR) logs exports and erasures in ``crm_gdpr_log``: the upgrade adds it empty,
    and the contacts the previous release kept are untouched (erasure is a request, not a
    migration)."""
    assert upgraded.rows["crm_gdpr_log"] == []
    assert {row["full_name"] for row in upgraded.rows["contacts"]} == {"Top", "Cent", "Nothing"}


# Through today's models, in a transaction rolled back: a contact given the new encrypted
# fields, what its row stores, and who the blind index finds.
WRITE_ENCRYPTED = """
import json, os
import sqlalchemy as sa
from crmgen_runtime import crypto
from crmgen_runtime.db import Database
from reference_crm.models import Contact
from reference_crm.resources import CATALOG
database = Database(os.environ["DATABASE_URL"])
with database.session() as session:
    contact = session.get(Contact, 1)
    contact.passport_number = "UP-1234"
    contact.private_note = "after the upgrade"
    session.flush()
    stored = session.execute(sa.text(
        "SELECT passport_number, private_note, passport_number__bidx FROM contacts WHERE id = 1"
    )).one()
    found = session.scalars(sa.select(Contact.id).where(
        Contact.passport_number__bidx == crypto.blind_value("up-1234", "Contact.passport_number")
    )).all()
    read = [contact.passport_number, contact.private_note]
    session.rollback()
print(json.dumps({"stored": list(stored), "found": found, "read": read}))
database.dispose()
"""


def test_the_new_encrypted_fields_are_added_and_store_tokens(upgraded: Upgraded) -> None:
    """Issue 16 adds ``Contact.passport_number`` (encrypted, with its blind index) and
    ``Contact.private_note`` (encrypted): the old contacts have none, and a value written
    through today's app is stored as a token and found by its blind index."""
    assert {(r["passport_number"], r["private_note"]) for r in upgraded.rows["contacts"]} == {
        (None, None)
    }
    result = app_python(upgraded.out, WRITE_ENCRYPTED, upgraded.url)
    passport, note, blind = result["stored"]
    assert passport.startswith("enc1:") and note.startswith("enc1:") and len(blind) == 64
    assert "UP-1234" not in passport and result["found"] == [1]
    assert result["read"] == ["UP-1234", "after the upgrade"]
