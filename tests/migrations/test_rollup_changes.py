"""A rollup whose definition changes between two generations: the generator writes a revision
(no table changes) and the app's ``migrate`` recomputes the stored values, on SQLite and
PostgreSQL; a generation that changes nothing writes no revision."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from crmgen.generate import generate
from tests.migrations.apptools import engine_for, fresh_database, run_app, schema_diff, write_spec

V1 = """
app: {name: rollup_mig}
roles:
  admin: {superuser: true}
entities:
  Company:
    fields:
      name: {type: string, required: true}
      won_total: {type: money, rollup: {from: deals, op: sum, field: amount, where: {stage: won}}}
  Deal:
    fields:
      name: {type: string, required: true}
      amount: money
      stage: {type: enum, values: [open, won, lost], default: open}
      company: {type: ref, to: Company, back: deals}
"""
# v2: the total counts open deals too
V2 = V1.replace("where: {stage: won}", "where: {stage__in: [open, won]}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database(str(request.param), tmp_path)


def totals(url: str) -> list[Decimal]:
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT won_total FROM companies ORDER BY id"))
            return [Decimal(str(value)) for (value,) in rows]
    finally:
        engine.dispose()


def test_a_changed_rollup_is_recomputed_by_migrate(tmp_path: Path, database: str) -> None:
    out = tmp_path / "out"
    generate(write_spec(tmp_path / "v1", V1), out)
    run_app(out, "rollup_mig", "migrate", url=database)
    engine = engine_for(database)
    try:
        with engine.begin() as connection:  # as the v1 app left them: won deals only
            connection.execute(
                sa.text(
                    "INSERT INTO companies (id, version, name, won_total) "
                    "VALUES (1, 1, 'acme', 10), (2, 1, 'beta', 0)"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO deals (id, version, name, amount, stage, company_id) VALUES "
                    "(1, 1, 'a', 10, 'won', 1), (2, 1, 'b', 5, 'open', 1), "
                    "(3, 1, 'c', 7, 'lost', 1), (4, 1, 'd', 2, 'open', 2)"
                )
            )
    finally:
        engine.dispose()
    versions = out / "migrations" / "versions"
    generate(write_spec(tmp_path / "v1", V1), out)  # nothing changed: no revision
    assert len(list(versions.glob("*.py"))) == 1
    generate(write_spec(tmp_path / "v2", V2), out)
    newest = max(versions.glob("*.py"))
    assert newest.name == "0002_recompute_company_won_total.py", newest.name
    text = newest.read_text(encoding="utf-8")
    assert "Recompute Company.won_total (its rollup changed)." in text
    assert "def upgrade() -> None:\n    pass" in text  # no table changes
    done = run_app(out, "rollup_mig", "migrate", url=database)
    assert "recomputed the rollups of 2 records" in done.stderr, done.stderr
    assert totals(database) == [Decimal(15), Decimal(2)]
    assert schema_diff(out, database) == []
    again = run_app(out, "rollup_mig", "migrate", url=database)  # up to date: nothing to do
    assert "recomputed" not in again.stderr
