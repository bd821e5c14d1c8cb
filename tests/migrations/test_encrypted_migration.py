"""Turning encryption on for fields that hold data, then off again, through the app's own
``migrate``, on SQLite and PostgreSQL (one test: each version is generated once).

V1 stores ``Person.passport`` (a string of 20), ``note`` (text) and ``data`` (json) in the clear,
with rows. V2 marks them ``encrypted`` (the passport with ``search: exact``): its revision widens
the columns to text, adds the blind index, and encrypts every existing value in batches, so the
tables hold tokens while the app reads the values and finds a passport by equality. V3 turns
encryption off again: its revision decrypts the values, then gives the columns their types back.
V2's revision decrypts in its downgrade.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from crmgen_runtime import crypto

from crmgen.generate import generate
from tests.migrations.apptools import (
    app_python,
    engine_for,
    fresh_database,
    run_app,
    schema_diff,
    write_spec,
)

PACKAGE = "vault"
V1 = """\
app: {name: vault}
roles: {admin: {superuser: true}}
entities:
  Person:
    fields:
      name: {type: string, required: true}
      passport: {type: string, max_length: 20}
      note: text
      data: json
"""
V2 = (
    V1.replace("max_length: 20}", "max_length: 20, encrypted: {search: exact}}")
    .replace("note: text", "note: {type: text, encrypted: true}")
    .replace("data: json", "data: {type: json, encrypted: true}")
)
ROWS = [
    (1, "Ann", "AB-123456", "likes Okapis", '{"k": ["Quokka", 1]}'),
    (2, "Bob", None, None, None),
]
SECRETS = ("AB-123456", "Okapis", "Quokka")

# Through the app's models: the values as the app reads them, and who the blind index finds.
READ = """
import json, os
import sqlalchemy as sa
from crmgen_runtime import crypto
from crmgen_runtime.db import Database
from vault.models import Person
from vault.resources import CATALOG
database = Database(os.environ["DATABASE_URL"])
with database.session() as session:
    rows = session.execute(sa.select(Person.id, Person.passport, Person.note, Person.data).order_by(Person.id))
    found = None
    if hasattr(Person, "passport__bidx"):
        found = session.scalars(sa.select(Person.id).where(
            Person.passport__bidx == crypto.blind_value("ab-123456", "Person.passport"))).all()
    print(json.dumps({"rows": [list(r) for r in rows], "found": found}))
database.dispose()
"""


@contextmanager
def databases(folder: Path) -> Iterator[list[str]]:
    """An empty SQLite and an empty PostgreSQL database: each version is generated once, and
    both are migrated."""
    made = contextmanager(fresh_database)
    with made("sqlite", folder) as lite, made("postgresql", folder) as postgres:
        yield [lite, postgres]


def stored(url: str) -> list[tuple[Any, ...]]:
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            text = sa.text(
                "SELECT CAST(passport AS TEXT), note, CAST(data AS TEXT) FROM people ORDER BY id"
            )
            return [tuple(row) for row in connection.execute(text.columns()).all()]
    finally:
        engine.dispose()


def insert_rows(url: str) -> None:
    engine = engine_for(url)
    with engine.begin() as connection:
        for row in ROWS:
            connection.execute(
                sa.text(
                    "INSERT INTO people (id, name, passport, note, data, version) "
                    "VALUES (:i, :n, :p, :note, :d, 1)"
                    if row[4] is not None
                    else "INSERT INTO people (id, name, version) VALUES (:i, :n, 1)"
                ),
                {"i": row[0], "n": row[1], "p": row[2], "note": row[3], "d": row[4]},
            )
    engine.dispose()


def test_encryption_on_then_off_keeps_every_value(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with databases(tmp_path) as urls:
        generate(write_spec(tmp_path / "v1", V1), out)
        for url in urls:
            run_app(out, PACKAGE, "migrate", url=url)
            insert_rows(url)

        generate(write_spec(tmp_path / "v2", V2), out)
        revisions = sorted((out / "migrations" / "versions").glob("0002_*.py"))
        assert len(revisions) == 1
        source = revisions[0].read_text(encoding="utf-8")
        assert "encrypt_column(" in source and "decrypt_column(" in source  # up and down
        for url in urls:
            run_app(out, PACKAGE, "migrate", url=url)
            assert schema_diff(out, url) == []
            tokens = stored(url)
            assert all(crypto.is_token(v) for v in tokens[0]), tokens
            assert tokens[1] == (None, None, None)
            assert not any(s in str(tokens) for s in SECRETS)
            read = app_python(out, READ, url)
            assert read["rows"][0] == [1, "AB-123456", "likes Okapis", {"k": ["Quokka", 1]}]
            assert read["found"] == [1]

        generate(write_spec(tmp_path / "v3", V1), out)
        for url in urls:
            run_app(out, PACKAGE, "migrate", url=url)
            assert schema_diff(out, url) == []
            plain = stored(url)
            assert plain[0][:2] == ("AB-123456", "likes Okapis") and "Quokka" in plain[0][2]
            assert app_python(out, READ, url)["rows"][0][3] == {"k": ["Quokka", 1]}
