"""Fixtures for the REST API tests: generated apps (once per session), databases, clients.

Each spec is generated once per test process (the shared ``tests/generated_apps.py``) and its
package imported from the output folder.
Each test module gets its own database per dialect (an SQLite file, or a PostgreSQL schema
dropped afterwards); each test starts from empty tables with a few users. PostgreSQL is
``CRMGEN_TEST_POSTGRES`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``):
without it the PostgreSQL tests skip, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from crmgen_runtime.db import Database
from crmgen_runtime.principal import CurrentUser
from starlette.middleware import Middleware
from starlette.testclient import TestClient

from tests.app_settings import app_settings_env
from tests.generated_apps import GeneratedApp, generated_app

POSTGRES_URL = os.environ.get(
    "CRMGEN_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# the shared generated app (tests/generated_apps.py): ``gen.out``, ``gen.package``, ``gen.models``
Generated = GeneratedApp


def generated(name: str, tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """The spec ``name`` generated once per test process, its package imported on first use."""
    return generated_app(name, tmp_path_factory)


# --- databases -----------------------------------------------------------------------------

_PG_READY: list[bool] = []


def postgres_admin() -> sa.Engine:
    engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
            if not _PG_READY:
                try:  # search uses pg_trgm; make it once, in public, for every test schema
                    connection.execute(
                        sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
                    )
                except sa.exc.DBAPIError:  # another worker made it at the same moment
                    pass
                _PG_READY.append(True)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no PostgreSQL here"
        engine.dispose()
        reason = f"PostgreSQL is not reachable at {POSTGRES_URL}: {type(exc).__name__}: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (CI=true: the PostgreSQL tests must run)")
        pytest.skip(reason)
    return engine


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class TestUsers:
    """A pure ASGI middleware: the ``X-Test-User`` header names the principal of a request."""

    def __init__(self, app: Any, users: dict[str, Any]) -> None:
        self.app = app
        self.users = users

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            name = dict(scope["headers"]).get(b"x-test-user", b"").decode()
            scope.setdefault("state", {})["user"] = self.users.get(name)
        await self.app(scope, receive, send)


@dataclass
class Backend:
    gen: Generated
    database: Any
    dialect: str
    users: dict[str, Any]
    client: TestClient

    def reset(self) -> None:
        """Empty every table, then add the test users."""
        metadata = self.gen.models.Base.metadata
        with self.database.engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                connection.execute(table.delete())
        self.users.clear()
        models = self.gen.models
        roles = {
            "admin": ["admin"],
            "manager": ["manager"],
            "sales": ["sales"],
            "sales2": ["sales"],
            "support": ["support"],
            "staff": ["staff"],
        }
        spec_roles = {r for r in _role_names(self.gen)}
        with self.database.session() as session:
            for name, role_list in roles.items():
                if not set(role_list) <= spec_roles:
                    continue
                user = models.User(email=f"{name}@example.com", name=name.title(), roles=role_list)
                session.add(user)
                session.flush()
                self.users[name] = CurrentUser(
                    id=user.id,
                    email=user.email,
                    name=user.name,
                    roles=frozenset(role_list),
                    superuser="admin" in role_list,
                    extra={},
                )

    def as_user(self, name: str | None) -> dict[str, str]:
        return {"X-Test-User": name or ""}


def _role_names(gen: Generated) -> set[str]:
    names = set(gen.resources.SUPERUSER_ROLES)
    for resource in gen.resources.RESOURCES.values():
        names |= set(resource.rules)
    return names


def make_backend(
    name: str, dialect: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    gen = generated(name, tmp_path_factory)
    admin = None
    schema = f"crmgen_api_{uuid.uuid4().hex[:12]}"
    if dialect == "sqlite":
        path = tmp_path_factory.mktemp(f"db_{name}") / "test.sqlite3"
        database = Database(f"sqlite:///{path}")
    else:
        admin = postgres_admin()
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        database = Database(
            POSTGRES_URL, connect_args={"options": f"-csearch_path={schema},public"}
        )
    gen.models.Base.metadata.create_all(database.engine)
    users: dict[str, Any] = {}
    settings = gen.app.startup_settings(app_settings_env())
    app = gen.app.create_app(
        settings, database=database, middleware=[Middleware(TestUsers, users=users)]
    )
    client = TestClient(app, raise_server_exceptions=False)
    try:
        yield Backend(gen, database, dialect, users, client)
    finally:
        client.close()
        database.dispose()
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


@pytest.fixture(scope="module")
def crm_backend(dialect: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    yield from make_backend("crm", dialect, tmp_path_factory)


@pytest.fixture
def crm(crm_backend: Backend) -> Backend:
    crm_backend.reset()
    return crm_backend


@pytest.fixture(scope="session")
def planner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The big PostgreSQL schema of the plan tests (``plan_data``), once per test process."""
    from tests.backend.plan_data import big_schema  # it imports this module

    yield from big_schema(tmp_path_factory)
