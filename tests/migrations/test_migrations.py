"""Migrations across spec changes: data survives, the database matches the models, drops need consent."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from crmgen_runtime import ftsindex

from crmgen.generate import generate
from crmgen.render.migrations import DestructiveChange
from tests.migrations.apptools import engine_for, fresh_database, run_app, schema_diff, write_spec

V1 = """
app:
  name: mig_crm
  title: Migration CRM
roles:
  admin: {superuser: true}
  sales: Sales
entities:
  Company:
    fields:
      name: {type: string, required: true, max_length: 100}
      parent: {type: ref, to: Company, back: children}
      website: url
  Lead:
    fields:
      title: {type: string, required: true, max_length: 80}
      amount: {type: money}
      due: date
      status:
        type: enum
        values: {new: New, won: Won, lost: Lost}
        default: new
      company: {type: ref, to: Company, back: leads}
      tags: {type: refs, to: Tag, back: leads}
  Tag:
    fields:
      name: {type: string, required: true, unique: true, max_length: 40}
"""

# v2: Lead -> Deal (renamed_from), title -> name (renamed_from), new fields (one required with a
# default), a new entity pointing at the renamed one, a wider string.
V2 = """
app:
  name: mig_crm
  title: Migration CRM
roles:
  admin: {superuser: true}
  sales: Sales
entities:
  Company:
    fields:
      name: {type: string, required: true, max_length: 200}
      parent: {type: ref, to: Company, back: children}
      website: url
      phone: phone
  Deal:
    renamed_from: Lead
    fields:
      name: {type: string, required: true, max_length: 80, renamed_from: title}
      amount: {type: money}
      due: date
      status:
        type: enum
        values: {new: New, won: Won, lost: Lost, stalled: Stalled}
        default: new
      priority: {type: integer, required: true, default: 3, min: 1, max: 5}
      company: {type: ref, to: Company, back: deals}
      tags: {type: refs, to: Tag, back: deals}
  Tag:
    fields:
      name: {type: string, required: true, unique: true, max_length: 40}
  Note:
    fields:
      body: {type: text, required: true}
      deal: {type: ref, to: Deal, required: true, on_delete: cascade, back: notes}
"""

# v3: drops Company.website (destructive).
V3 = V2.replace("      website: url\n", "")


def tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database(request.param, tmp_path)


def test_first_generate_writes_an_initial_revision(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(write_spec(tmp_path / "v1", V1), out)
    versions = sorted(p.name for p in (out / "migrations" / "versions").iterdir())
    assert versions == ["0001_initial.py"]
    text = (out / "migrations" / "versions" / "0001_initial.py").read_text()
    assert 'op.create_table(\n        "companies",' in text
    assert "op.create_index(" in text
    for name in (
        "alembic.ini",
        "migrations/env.py",
        "migrations/script.py.mako",
        "migrations/spec_snapshot.json",
    ):
        assert (out / name).is_file(), name
    before = tree(out)
    generate(write_spec(tmp_path / "v1", V1), out)
    assert tree(out) == before, "same spec twice: byte-identical output and no new revision"


def test_spec_changes_keep_every_row(tmp_path: Path, database: str) -> None:
    out = tmp_path / "out"
    generate(write_spec(tmp_path / "v1", V1), out)
    run_app(out, "mig_crm", "migrate", url=database)
    assert schema_diff(out, database) == []

    engine = engine_for(database)
    meta = sa.MetaData()
    meta.reflect(engine)
    companies, leads, tags, join = (
        meta.tables[n] for n in ("companies", "leads", "tags", "leads_tags")
    )
    # the stored amount: SQLite keeps an exact decimal as whole units (here hundredths)
    amount = 123450 if database.startswith("sqlite") else Decimal("1234.50")
    with engine.begin() as connection:
        connection.execute(
            companies.insert(),
            [
                {"id": 1, "name": "Acme", "parent_id": None, "website": "https://acme.example"},
                {"id": 2, "name": "Acme Child", "parent_id": 1, "website": None},
            ],
        )
        connection.execute(tags.insert(), [{"id": 1, "name": "hot"}, {"id": 2, "name": "cold"}])
        connection.execute(
            leads.insert(),
            [
                {
                    "id": 1,
                    "title": "Big one",
                    "amount": amount,
                    "due": dt.date(2025, 3, 1),
                    "status": "won",
                    "company_id": 2,
                },
                {
                    "id": 2,
                    "title": "Small one",
                    "amount": None,
                    "due": None,
                    "status": "new",
                    "company_id": None,
                },
            ],
        )
        connection.execute(
            join.insert(), [{"lead_id": 1, "tag_id": 1}, {"lead_id": 1, "tag_id": 2}]
        )
    engine.dispose()

    initial = (out / "migrations" / "versions" / "0001_initial.py").read_bytes()
    generate(write_spec(tmp_path / "v2", V2), out)
    versions = sorted(p.name for p in (out / "migrations" / "versions").iterdir())
    assert len(versions) == 2 and versions[1].startswith("0002_"), versions
    assert (out / "migrations" / "versions" / "0001_initial.py").read_bytes() == initial
    second = (out / "migrations" / "versions" / versions[1]).read_text()
    assert 'op.rename_table("leads", "deals")' in second
    assert 'new_column_name="name"' in second

    run_app(out, "mig_crm", "migrate", url=database)
    assert schema_diff(out, database) == []
    if database.startswith("sqlite"):  # the FTS5 tables follow the search fields
        assert _fts_found(database, "deals", ["name"], "big") == [1]
        assert _fts_found(database, "companies", ["name", "phone"], "acme") == [1, 2]
        assert sorted(t.split("_fts_")[0] for t in _search_tables(database)) == [
            "companies",
            "deals",
            "tags",
            "users",
        ]

    engine = engine_for(database)
    with engine.connect() as connection:
        meta = sa.MetaData()
        meta.reflect(connection)
        deals = meta.tables["deals"]
        columns = [
            deals.c[n] for n in ("id", "name", "amount", "due", "status", "priority", "company_id")
        ]
        rows = connection.execute(sa.select(*columns).order_by(deals.c.id)).all()
        assert [tuple(r) for r in rows] == [
            (1, "Big one", amount, dt.date(2025, 3, 1), "won", 3, 2),
            (2, "Small one", None, None, "new", 3, None),
        ]
        assert connection.execute(
            sa.text("SELECT id, name, parent_id, website, phone FROM companies ORDER BY id")
        ).all() == [
            (1, "Acme", None, "https://acme.example", None),
            (2, "Acme Child", 1, None, None),
        ]
        assert connection.execute(
            sa.text("SELECT deal_id, tag_id FROM deals_tags ORDER BY 1, 2")
        ).all() == [(1, 1), (1, 2)]
        assert connection.execute(sa.text("SELECT count(*) FROM notes")).scalar() == 0
        connection.execute(sa.text("INSERT INTO notes (body, deal_id) VALUES ('hello', 1)"))
        connection.commit()
    engine.dispose()

    before = tree(out)
    generate(write_spec(tmp_path / "v2", V2), out)
    assert tree(out) == before, "no change: no new revision"


def _search_tables(url: str) -> list[str]:
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            names = sa.inspect(connection).get_table_names()
    finally:
        engine.dispose()
    return [n for n in names if ftsindex.is_search_table(n) and "_fts_" in n[-13:]]


def _fts_found(url: str, table: str, columns: list[str], word: str) -> list[int]:
    """The ids FTS5 finds ``word`` in (SQLite), its index checked against the table first."""
    fts = ftsindex.table_name(table, columns)
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(
                f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)"
            )
            query = f"SELECT rowid FROM {fts} WHERE {fts} MATCH ? ORDER BY rowid"
            return list(connection.exec_driver_sql(query, (ftsindex.phrase(word),)).scalars())
    finally:
        engine.dispose()


def test_a_drop_needs_consent_and_leaves_out_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(write_spec(tmp_path / "v2", V2), out)
    before = tree(out)
    spec = write_spec(tmp_path / "v3", V3)
    with pytest.raises(DestructiveChange) as caught:
        generate(spec, out)
    assert caught.value.names == ["Company.website"]
    assert "--allow-destructive Company.website" in str(caught.value)
    assert tree(out) == before

    from tests.migrations.apptools import crmgen

    done = crmgen("generate", str(spec), "-o", str(out))
    assert done.returncode == 1, done.stderr
    assert "Company.website" in done.stderr and "Traceback" not in done.stderr
    assert tree(out) == before

    done = crmgen("generate", str(spec), "-o", str(out), "--allow-destructive", "Company.website")
    assert done.returncode == 0, done.stderr
    assert "warning:" in done.stderr and "Company.website" in done.stderr
    newest = max((out / "migrations" / "versions").iterdir())
    assert 'batch_op.drop_column("website")' in newest.read_text()


def test_dropping_an_entity_names_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(write_spec(tmp_path / "v2", V2), out)
    without_notes = V2[: V2.index("  Note:")]
    with pytest.raises(DestructiveChange) as caught:
        generate(write_spec(tmp_path / "v4", without_notes), out)
    assert caught.value.names == ["Note"]
    generate(write_spec(tmp_path / "v4", without_notes), out, allow_destructive=["Note"])
    newest = max((out / "migrations" / "versions").iterdir())
    assert 'op.drop_table("notes")' in newest.read_text()


def test_type_changes_narrowing_warns_and_a_new_kind_needs_consent(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(write_spec(tmp_path / "v2", V2), out)
    warnings: list[str] = []
    narrower = V2.replace("max_length: 200}", "max_length: 150}")
    generate(write_spec(tmp_path / "n", narrower), out, warn=warnings.append)
    assert any("Company.name narrows" in w for w in warnings), warnings
    other_kind = narrower.replace("      phone: phone\n", "      phone: integer\n")
    with pytest.raises(DestructiveChange) as caught:
        generate(write_spec(tmp_path / "k", other_kind), out)
    assert caught.value.names[0].startswith(
        "Company.phone (type sa.String(length=32) -> sa.Integer()"
    )
    generate(write_spec(tmp_path / "k", other_kind), out, allow_destructive=["Company.phone"])
    assert len(list((out / "migrations" / "versions").iterdir())) == 3


def test_a_drop_can_be_allowed_in_the_spec_and_a_stale_consent_is_reported(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(write_spec(tmp_path / "v2", V2), out)
    allowing = V3.replace(
        "  title: Migration CRM\n", "  title: Migration CRM\n  allow_drop: [Company.website]\n"
    )
    warnings: list[str] = []
    generate(write_spec(tmp_path / "v3", allowing), out, warn=warnings.append)
    newest = max((out / "migrations" / "versions").iterdir())
    assert 'batch_op.drop_column("website")' in newest.read_text()
    assert any("drops Company.website" in w for w in warnings), warnings
    assert not any("allow_drop names" in w for w in warnings), warnings
    warnings.clear()
    generate(
        write_spec(tmp_path / "v3", allowing), out, warn=warnings.append
    )  # nothing changes now
    assert max((out / "migrations" / "versions").iterdir()) == newest
    assert any("app.allow_drop names Company.website" in w for w in warnings), warnings


def test_migrate_creates_the_search_indexes_on_postgresql(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(write_spec(tmp_path / "v1", V1), out)
    for url in fresh_database("postgresql", tmp_path):
        run_app(out, "mig_crm", "migrate", url=url)
        engine = engine_for(url)
        try:
            with engine.connect() as connection:
                names = set(
                    connection.execute(sa.text("SELECT indexname FROM pg_indexes")).scalars()
                )
        finally:
            engine.dispose()
        assert "ix_companies_name_trgm" in names, sorted(names)
        assert any(n.startswith("ix_companies_fts_") for n in names), sorted(names)


def test_a_new_dashboard_is_a_revision_creating_the_index_of_its_aggregate(
    tmp_path: Path, database: str
) -> None:
    out = tmp_path / "out"
    generate(write_spec(tmp_path / "v1", V1), out)
    run_app(out, "mig_crm", "migrate", url=database)
    dashboard = (
        "ui:\n"
        "  dashboards:\n"
        "    sales:\n"
        "      label: Sales\n"
        "      kpis:\n"
        "        won:\n"
        "          label: Won this month\n"
        "          entity: Lead\n"
        "          measure: {sum: amount}\n"
        "          where: {status: won, due__gte: '= today() - months(1)'}\n"
    )
    generate(write_spec(tmp_path / "v2", V1 + dashboard), out)
    newest = max((out / "migrations" / "versions").iterdir())
    upgrade = newest.read_text().split("def downgrade")[0]
    # equality first, then the range, then what the KPI sums: read from the index alone
    assert 'op.f("ix_leads_stats_status_due_amount")' in upgrade, upgrade
    assert '["status", "due", "amount"]' in upgrade, upgrade
    run_app(out, "mig_crm", "migrate", url=database)
    assert schema_diff(out, database) == []


def test_a_new_list_sort_or_filter_is_a_revision_creating_its_index(
    tmp_path: Path, database: str
) -> None:
    out = tmp_path / "out"
    generate(write_spec(tmp_path / "v1", V1), out)
    run_app(out, "mig_crm", "migrate", url=database)
    offered = V1.replace(
        "      tags: {type: refs, to: Tag, back: leads}\n",
        "      tags: {type: refs, to: Tag, back: leads}\n"
        "    ui:\n"
        "      list: {columns: [title, due], sort: [-due], filters: [status]}\n",
    )
    generate(write_spec(tmp_path / "v2", offered), out)
    newest = max((out / "migrations" / "versions").iterdir())
    text = newest.read_text()
    upgrade = text.split("def downgrade")[0]
    # the filter reads its first page in the new default order; columns no longer offered
    # (the default list showed amount, status and company) lose their index
    created = 'op.f("ix_leads_list_status_due_id"), ["status", "due", "id"]'
    assert created in upgrade, text
    for dropped in ("amount_id", "company_id_id", "status_id"):
        assert f'drop_index(op.f("ix_leads_list_{dropped}"))' in upgrade, text
    run_app(out, "mig_crm", "migrate", url=database)
    assert schema_diff(out, database) == []
