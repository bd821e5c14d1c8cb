"""Changing how a decimal is stored keeps every value: a new scale, a whole number becoming a
decimal, and back (downgrade), on SQLite (where exact decimals are whole units, so the values
themselves are rewritten) and on PostgreSQL (where NUMERIC converts them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crmgen.generate import generate
from tests.migrations.apptools import (
    app_python,
    app_rows,
    fresh_database,
    run_app,
    schema_diff,
    write_spec,
)

V1 = """
app: {name: scale_crm}
roles:
  admin: {superuser: true}
entities:
  Item:
    fields:
      name: {type: string, required: true}
      amount: {type: decimal, precision: 16, scale: 2, min: -1000, max: 99999999999999.9}
      quantity: integer
"""
# amount gets two more places (and digits to keep them), quantity becomes a decimal
V2 = V1.replace("precision: 16, scale: 2", "precision: 18, scale: 4").replace(
    "quantity: integer", "quantity: {type: decimal, precision: 12, scale: 2}"
)
FILL = """
import os
from decimal import Decimal
from crmgen_runtime.db import Database
from scale_crm.models import Item
database = Database(os.environ["DATABASE_URL"])
with database.session() as session:
    session.add_all([
        Item(name="top", amount=Decimal("99999999999999.90"), quantity=2**31 - 1),
        Item(name="low", amount=Decimal("-999.99"), quantity=-7),
        Item(name="cent", amount=Decimal("0.01"), quantity=0),
        Item(name="none"),
    ])
database.dispose()
print("null")
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database(request.param, tmp_path)


def values(out: Path, url: str) -> dict[str, tuple[str | None, object]]:
    (rows,) = app_rows(out, url)
    return {row["name"]: (row["amount"], row["quantity"]) for row in rows["items"]}


def test_a_new_scale_and_a_new_type_keep_every_value(tmp_path: Path, database: str) -> None:
    out = tmp_path / "out"
    generate(write_spec(tmp_path / "v1", V1), out)
    run_app(out, "scale_crm", "migrate", url=database)
    app_python(out, FILL, database)
    before = values(out, database)
    assert before["top"] == ("99999999999999.90", 2**31 - 1)

    generate(write_spec(tmp_path / "v2", V2), out)
    revision = next((out / "migrations" / "versions").glob("0002_*.py")).read_text()
    assert "_sqlite_decimals(" in revision
    run_app(out, "scale_crm", "migrate", url=database)
    assert schema_diff(out, database) == []
    assert values(out, database) == {
        "top": ("99999999999999.9000", f"{2**31 - 1}.00"),
        "low": ("-999.9900", "-7.00"),
        "cent": ("0.0100", "0.00"),
        "none": (None, None),
    }

    code = (
        "import os\nfrom alembic import command\nfrom scale_crm.cli import alembic_config\n"
        "command.downgrade(alembic_config(os.environ['DATABASE_URL']), '0001')\nprint('null')\n"
    )
    app_python(out, code, database)
    generate(write_spec(tmp_path / "v1", V1), tmp_path / "v1_out")  # today's v1 models read it
    assert values(tmp_path / "v1_out", database) == before
