"""Generated code keeps decimals exact by construction: every decimal or money column is an
``ExactDecimal`` (whole units on SQLite), the migrations say so, and no SQL sum or average is
taken any other way than through the app's ``decimals`` module (whose sums never round)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.generated_apps import GeneratedApps

# SQL aggregates that would round (SQLite's float sums) or overflow (its 64-bit SUM).
ROUNDING = re.compile(r"sa\.func\.(sum|avg|total)\(|type_coerce\([^)]*Numeric")


@pytest.fixture(scope="module", params=["crm", "exact"])
def out(request: pytest.FixtureRequest, generated_apps: GeneratedApps) -> Path:
    return generated_apps(request.param).out


def test_no_sql_sum_or_average_rounds(out: Path) -> None:
    for path in sorted(out.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert not ROUNDING.search(text), f"{path.relative_to(out)}: {ROUNDING.search(text)}"


def test_decimal_columns_store_whole_units_on_sqlite(out: Path) -> None:
    package = next(p.parent for p in out.glob("*/models.py"))
    models = (package / "models.py").read_text(encoding="utf-8")
    assert "sa.Numeric(" not in models and "ExactDecimal(" in models
    snapshot = json.loads((out / "migrations" / "spec_snapshot.json").read_text())
    numeric = [c for t in snapshot["tables"] for c in t["columns"] if "Numeric" in c["type"]]
    assert numeric
    for column in numeric:
        assert column["type"].endswith(".with_variant(sa.BigInteger(), 'sqlite')"), column
    initial = (out / "migrations" / "versions" / "0001_initial.py").read_text(encoding="utf-8")
    assert 'sqlite = op.get_context().dialect.name == "sqlite"' in initial
