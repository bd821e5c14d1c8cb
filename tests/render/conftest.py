"""Fixtures for the render tests: generated apps, their imported models, and databases.

Generating is done once per test process per spec (the shared ``tests/generated_apps.py``),
importing once per session; each database test gets a fresh
SQLite file or a fresh PostgreSQL schema (dropped afterwards). PostgreSQL is found at
``CRMGEN_TEST_POSTGRES`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
without it the PostgreSQL tests skip, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa

from tests.generated_apps import GeneratedApps, import_modules
from tests.postgres import POSTGRES_URL, admin_engine


def write_spec(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "app.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def import_models(out: Path, package: str) -> ModuleType:
    """Import ``package.models`` from ``out``, fresh (any earlier import of it is forgotten)."""
    return import_modules(out, package, "models")["models"]


@pytest.fixture(scope="session")
def minimal_out(generated_apps: GeneratedApps) -> Path:
    """examples/minimal, generated once per test process (shared: never change it)."""
    return generated_apps("minimal").out


@pytest.fixture(scope="session")
def every_spec(generated_apps: GeneratedApps) -> Path:
    """``EVERYTHING`` written to a file (the one ``every_out`` is generated from)."""
    return generated_apps("every").spec


@pytest.fixture(scope="session")
def every_out(generated_apps: GeneratedApps) -> Path:
    """``EVERYTHING``, generated once per test process (shared: never change it)."""
    return generated_apps("every").out


@pytest.fixture(scope="session")
def every_models(every_out: Path) -> ModuleType:
    return import_models(every_out, "every_crm")


@pytest.fixture(scope="session")
def minimal_models(minimal_out: Path) -> ModuleType:
    return import_models(minimal_out, "minimal")


def _sqlite_engine(path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{path}")

    @sa.event.listens_for(engine, "connect")
    def _foreign_keys(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    return engine


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine]:
    engine = admin_engine()
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A fresh, empty database: an SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        db = _sqlite_engine(tmp_path / "test.sqlite3")
        yield db
        db.dispose()
        return
    admin: sa.Engine = request.getfixturevalue("postgres_admin")
    schema = f"crmgen_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    db = sa.create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield db
    finally:
        db.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
