"""Names SQL and Python also use, through the app's command line: a migration renames fields to
``class`` (a Python keyword) and ``desc`` (an SQL word) with ``renamed_from``, keeping their rows,
and ``backup`` then ``restore`` into an empty database gives back every row, on SQLite and
PostgreSQL.

The app is tests/backend/reserved_words.yaml (its API, web UI and files are tested in
tests/backend/test_reserved_words.py); V1 names ``Mail.class`` ``kind`` and ``Order.desc``
``description``, as an app generated before such names were allowed had to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from crmgen.generate import generate
from tests.migrations.apptools import (
    app_python,
    app_rows,
    engine_for,
    fresh_database,
    run_app,
    schema_diff,
    write_spec,
)

SPEC = (Path(__file__).parents[1] / "backend" / "reserved_words.yaml").read_text(encoding="utf-8")
PACKAGE = "reserved_words"
CLASS = "      class: {type: enum, values: [inbox, sent, spam], default: inbox}\n"
DESC = "      desc: {type: text, searchable: true}\n"

# Through the app's model: the attribute ``class_`` over the column "class".
READ_CLASSES = """
import json, os
import sqlalchemy as sa
from crmgen_runtime.db import Database
from reserved_words.models import Mail
database = Database(os.environ["DATABASE_URL"])
with database.session() as session:
    rows = session.execute(sa.select(Mail.from_, Mail.class_, Mail.metadata_).order_by(Mail.id))
    print(json.dumps([list(row) for row in rows]))
database.dispose()
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_rename_to_a_keyword_then_backup_and_restore(kind: str, tmp_path: Path) -> None:
    assert CLASS in SPEC and DESC in SPEC
    old = re.sub(r"\bclass(?![a-z])", "kind", SPEC)  # also class__ne
    old = re.sub(r"\bdesc\b(?=[:,])", "description", old)
    new = SPEC.replace(CLASS, CLASS.replace("inbox}", "inbox, renamed_from: kind}")).replace(
        DESC, DESC.replace("true}", "true, renamed_from: description}")
    )
    out = tmp_path / "out"
    with _database(kind, tmp_path, "db") as url, _database(kind, tmp_path, "restored") as other:
        generate(write_spec(tmp_path / "v1", old), out)
        run_app(out, PACKAGE, "migrate", url=url)
        engine = engine_for(url)
        with engine.begin() as connection:
            for statement in (
                "INSERT INTO groups (id, name, version) VALUES (1, 'G1', 1)",
                (
                    'INSERT INTO mails (id, "from", kind, "metadata", "query", global_id, version) '
                    "VALUES (1, 'ann', 'sent', 'm', '2024-05-01', 1, 1), "
                    "(2, 'bob', 'spam', NULL, NULL, NULL, 1)"
                ),
                (
                    'INSERT INTO orders (id, "order", group_id, "select", description, "table", '
                    '"limit", "sort", q, "format", "count", "offset", "cursor", "fields", version) '
                    "VALUES (1, 7, 1, 'distinct', 'd', 't', 2, 's', 'q', 'pdf', 3, TRUE, 'c', 'f', 1)"
                ),
            ):
                connection.execute(sa.text(statement))
        engine.dispose()

        generate(write_spec(tmp_path / "v2", new), out)
        versions = sorted((out / "migrations" / "versions").glob("*.py"))
        assert len(versions) == 2, versions
        revision = versions[1].read_text(encoding="utf-8")
        for renamed in ("class", "desc"):
            assert f'new_column_name="{renamed}"' in revision, revision
        run_app(out, PACKAGE, "migrate", url=url)
        assert schema_diff(out, url) == []
        assert app_python(out, READ_CLASSES, url) == [["ann", "sent", "m"], ["bob", "spam", None]]

        backup = tmp_path / "mails.jsonl"
        run_app(out, PACKAGE, "backup", str(backup), url=url)
        run_app(out, PACKAGE, "restore", str(backup), url=other)
        before, after = app_rows(out, url, other)
        assert before == after and [m["from"] for m in after["mails"]] == ["ann", "bob"]
        assert [(o["order"], o["desc"], o["select"]) for o in after["orders"]] == [
            (7, "d", "distinct")
        ]
        assert app_python(out, READ_CLASSES, other) == [["ann", "sent", "m"], ["bob", "spam", None]]


@contextmanager
def _database(kind: str, folder: Path, name: str) -> Iterator[str]:
    yield from fresh_database(kind, folder, name)
