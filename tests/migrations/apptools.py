"""Helpers for tests that generate an app and run its command line in subprocesses.

Each database is fresh: an SQLite file in the test's folder, or a PostgreSQL database of its
own (``CRMGEN_TEST_POSTGRES`` names the server, default ``postgresql+psycopg://postgres@
127.0.0.1:5432/test``), dropped afterwards. Without PostgreSQL those tests skip, except under
``CI=true`` where they fail. The app runs as ``python -m PKG`` with ``PYTHONPATH=OUT`` so no
generated module is ever imported into the test process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from crmgen_runtime import ftsindex

from tests.app_settings import app_settings_env

POSTGRES_URL = os.environ.get(
    "CRMGEN_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ROOT = Path(__file__).resolve().parents[2]


def write_spec(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "app.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def crmgen(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the crmgen command line in a subprocess (with this checkout's runtime, not whichever
    copy happens to be installed)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "runtime")])}
    return subprocess.run(
        [sys.executable, "-m", "crmgen", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def app_path(out: Path) -> str:
    """``PYTHONPATH`` for an app in ``out``: the app, then this checkout's runtime (not whichever
    copy happens to be installed)."""
    return os.pathsep.join([str(out), str(ROOT / "runtime")])


def run_app(
    out: Path, package: str, *args: str, url: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m PACKAGE ARGS`` from ``out`` against the database ``url``."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(PYTHONPATH=app_path(out), **app_settings_env())
    if url:
        env["DATABASE_URL"] = url
    done = subprocess.run(
        [sys.executable, "-m", package, *args],
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{package} {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


def app_python(out: Path, code: str, url: str) -> Any:
    """Run ``code`` (which prints JSON) in a subprocess with the app importable; its result."""
    env = {**os.environ, "PYTHONPATH": app_path(out), "DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(done.stderr)
    return json.loads(done.stdout)


def postgres_admin() -> sa.Engine:
    engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        engine.dispose()
        reason = f"PostgreSQL is not reachable at {POSTGRES_URL}: {type(exc).__name__}: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (CI=true: the PostgreSQL tests must run)")
        pytest.skip(reason)
    return engine


def fresh_database(kind: str, folder: Path, name: str = "db") -> Iterator[str]:
    """Yield the URL of a new empty database of ``kind``; dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / (name + '.sqlite3')}"
        return
    admin = postgres_admin()
    database = f"crmgen_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
    try:
        yield sa.make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def engine_for(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def table_rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (but alembic_version), ordered by all columns, as plain values."""
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            metadata = sa.MetaData()  # SQLite's search tables are the triggers' to fill
            metadata.reflect(connection, only=lambda name, _: not ftsindex.is_search_table(name))
            result = {}
            for table in metadata.sorted_tables:
                if table.name == "alembic_version":
                    continue
                rows = connection.execute(
                    sa.select(table).order_by(*table.primary_key.columns or table.columns)
                )
                result[table.name] = [dict(r._mapping) for r in rows]
            return result
    finally:
        engine.dispose()


def schema_diff(out: Path, url: str) -> list[str]:
    """Alembic's autogenerate comparison of the migrated database with the app's models."""
    code = (
        "import json, sqlalchemy as sa\n"
        "from alembic.migration import MigrationContext\n"
        "from alembic.autogenerate import compare_metadata\n"
        "from {pkg}.models import Base, include_object\n"
        "engine = sa.create_engine(__import__('os').environ['DATABASE_URL'])\n"
        "with engine.connect() as c:\n"
        "    ctx = MigrationContext.configure(c, opts={'compare_type': True, 'include_object': include_object})\n"
        "    print(json.dumps([repr(d) for d in compare_metadata(ctx, Base.metadata)]))\n"
    )
    package = json.loads((out / "migrations" / "spec_snapshot.json").read_text())["app"]
    return app_python(out, code.replace("{pkg}", package), url)


# Every row of every table of an app, read through its own models, in plain JSON: decimals with
# all their digits, date-times in UTC, dates in ISO 8601, and for each JSON column
# ``empty_<column>``: whether it holds no value at all (SQL NULL, unlike JSON's null).
_READ_ROWS = """
import datetime as dt, json
from decimal import Decimal
import sqlalchemy as sa
from crmgen_runtime.db import Database
from {pkg}.models import Base

def plain(value):
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return value

found = []
for url in {urls}:
    database = Database(url)
    tables = {{}}
    with database.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            empty = [c.is_(None).label("empty_" + c.name) for c in table.columns if isinstance(c.type, sa.JSON)]
            rows = connection.execute(sa.select(*table.columns, *empty).order_by(*table.primary_key.columns))
            tables[table.name] = [{{k: plain(v) for k, v in row._mapping.items()}} for row in rows]
    database.dispose()
    found.append(tables)
print(json.dumps(found))
"""


def app_rows(out: Path, *urls: str) -> list[dict[str, list[dict[str, Any]]]]:
    """What the app at ``out`` reads from each database: every row of every table of its models,
    by primary key, as plain JSON (see ``_READ_ROWS``)."""
    package = json.loads((out / "migrations" / "spec_snapshot.json").read_text())["app"]
    code = _READ_ROWS.format(pkg=package, urls=json.dumps(list(urls)))
    return app_python(out, code, urls[0])  # type: ignore[no-any-return]


class Templates:
    """A migrated, empty database per dialect, made once per test process (one ``migrate``
    run); :meth:`fresh` copies it into a new database (SQLite: the file; PostgreSQL:
    ``CREATE DATABASE ... TEMPLATE``), which is dropped after use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.urls: dict[tuple[str, str], str] = {}
        self.admin: sa.Engine | None = None

    def _admin(self) -> sa.Engine:
        if self.admin is None:
            self.admin = postgres_admin()
        return self.admin

    def template(self, out: Path, package: str, dialect: str) -> str:
        if (package, dialect) not in self.urls:
            if dialect == "sqlite":
                url = f"sqlite:///{self.folder / f'template-{package}.sqlite3'}"
            else:
                name = f"crmgen_tpl_{uuid.uuid4().hex[:12]}"
                with self._admin().connect() as connection:
                    connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
                url = (
                    sa.make_url(POSTGRES_URL)
                    .set(database=name)
                    .render_as_string(hide_password=False)
                )
            self.urls[package, dialect] = url
            run_app(out, package, "migrate", url=url)
        return self.urls[package, dialect]

    def fresh(
        self, out: Path, package: str, dialect: str, folder: Path, name: str = "db"
    ) -> Iterator[str]:
        """Yield the URL of a new migrated, empty database; dropped afterwards."""
        template = self.template(out, package, dialect)
        if dialect == "sqlite":
            source = Path(sa.make_url(template).database or "")
            target = folder / f"{name}.sqlite3"
            shutil.copyfile(source, target)
            yield f"sqlite:///{target}"
            return
        database = f"crmgen_test_{uuid.uuid4().hex[:12]}"
        with self._admin().connect() as connection:
            connection.execute(
                sa.text(f'CREATE DATABASE "{database}" TEMPLATE "{sa.make_url(template).database}"')
            )
        try:
            yield (
                sa.make_url(POSTGRES_URL)
                .set(database=database)
                .render_as_string(hide_password=False)
            )
        finally:
            with self._admin().connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))

    def drop(self) -> None:
        if self.admin is None:
            return
        with self.admin.connect() as connection:
            for (_, dialect), url in self.urls.items():
                if dialect != "sqlite":
                    name = sa.make_url(url).database
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()
