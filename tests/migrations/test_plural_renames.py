"""An app generated with the old plurals keeps its data when today's plurals rename its tables.

Before 0.5.0 the default plural added ``es`` or ``s`` (``Quizes``, ``Pointses``,
``CustomerDetailses``). V1 pins those old plurals with ``plural:``, as a deployed app's database
has them; generating ``plurals.yaml`` (today's defaults) over it must write a revision that
renames the tables, the many-to-many join table and nothing else, and ``migrate`` must keep
every row, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from crmgen.generate import generate
from tests.migrations.apptools import engine_for, fresh_database, run_app, schema_diff, write_spec

SPEC = (Path(__file__).parents[1] / "backend" / "plurals.yaml").read_text(encoding="utf-8")
OLD = {"Quiz": "Quizes", "Points": "Pointses", "CustomerDetails": "CustomerDetailses"}


def old_spec() -> str:
    text = SPEC
    for entity, plural in OLD.items():
        text = text.replace(f"  {entity}:\n", f"  {entity}:\n    plural: {plural}\n", 1)
    return text


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database(request.param, tmp_path)


def test_new_plurals_rename_tables_and_keep_rows(tmp_path: Path, database: str) -> None:
    out = tmp_path / "out"
    generate(write_spec(tmp_path / "v1", old_spec()), out)
    run_app(out, "plurals_crm", "migrate", url=database)
    engine = engine_for(database)
    with engine.begin() as connection:
        for statement in (
            "INSERT INTO statuses (id, name, version) VALUES (1, 'Open', 1)",
            "INSERT INTO quizes (id, name, status_id, version) VALUES (1, 'Q', 1, 1)",
            "INSERT INTO pointses (id, name, value, version) VALUES (1, 'One', 1, 1), (2, 'Two', 2, 1)",
            "INSERT INTO quizes_points (quiz_id, points_id) VALUES (1, 1), (1, 2)",
            "INSERT INTO customer_detailses (id, name, quiz_id, version) VALUES (1, 'D', 1, 1)",
        ):
            connection.execute(sa.text(statement))
    engine.dispose()

    generate(write_spec(tmp_path / "v2", SPEC), out)
    versions = sorted(p.name for p in (out / "migrations" / "versions").glob("*.py"))
    assert len(versions) == 2, versions
    revision = (out / "migrations" / "versions" / versions[1]).read_text()
    for old, new in (
        ("quizes", "quizzes"),
        ("pointses", "points"),
        ("customer_detailses", "customer_details"),
        ("quizes_points", "quizzes_points"),
    ):
        assert f'op.rename_table("{old}", "{new}")' in revision
    assert "op.drop_table(" not in revision and "op.create_table(" not in revision
    assert "rename Quiz's table quizes to quizzes" in revision  # the revision's summary

    run_app(out, "plurals_crm", "migrate", url=database)
    assert schema_diff(out, database) == []
    engine = engine_for(database)
    with engine.connect() as connection:
        rows = {
            query: connection.execute(sa.text(query)).all()
            for query in (
                "SELECT id, name, status_id FROM quizzes",
                "SELECT id, name, value FROM points ORDER BY id",
                "SELECT quiz_id, points_id FROM quizzes_points ORDER BY 2",
                "SELECT id, name, quiz_id FROM customer_details",
            )
        }
    engine.dispose()
    assert list(rows.values()) == [
        [(1, "Q", 1)],
        [(1, "One", 1), (2, "Two", 2)],
        [(1, 1), (1, 2)],
        [(1, "D", 1)],
    ]
