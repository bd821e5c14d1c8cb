"""Fixtures for the auth and audit tests: a generated app per test module, on SQLite and PostgreSQL.

Each module imports an example app (generated once per test process: ``tests/generated_apps.py``)
afresh, so the module objects of different modules never meet, and for each backend creates a
fresh database (an SQLite file, or a PostgreSQL database of its own, dropped afterwards)
with ``metadata.create_all``. The HTTP side is a Starlette app assembled from the runtime's
``auth_routes.routes(catalog)``, ``AuthMiddleware`` and ``audit.routes(catalog)``, and the error
handlers, driven by ``TestClient``.

PostgreSQL is found at ``CRMGEN_TEST_POSTGRES`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); without it the PostgreSQL tests skip,
except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from crmgen_runtime import audit, auth, auth_routes, errors, passwords
from crmgen_runtime.credentials import AuthMiddleware
from crmgen_runtime.db import Database
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.testclient import TestClient

from tests.app_settings import PUBLIC_URL, SECRET_KEY
from tests.generated_apps import generated_app
from tests.postgres import POSTGRES_URL, admin_engine

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


@dataclass
class App:
    """One generated app under test: its modules, database and HTTP client."""

    package: str
    models: ModuleType
    auth: ModuleType  # the runtime's crmgen_runtime.auth
    audit: ModuleType  # the runtime's crmgen_runtime.audit
    catalog: Any  # the app's Catalog
    db: object  # the runtime's db.Database
    client: TestClient
    backend: str

    def session(self):  # type: ignore[no-untyped-def]
        return self.db.session()  # type: ignore[attr-defined]

    def user(self, email: str, *roles: str, password: str = PASSWORD, **values: object) -> int:
        """A committed user (e-mail made unique per call); returns its id."""
        with self.session() as session:
            user = self.auth.create_user(
                self.catalog, session, email=email, password=password, roles=roles
            )
            for name, value in values.items():
                setattr(user, name, value)
            return user.id

    def login(self, email: str, password: str = PASSWORD, **headers: str):  # type: ignore[no-untyped-def]
        return self.client.post(
            "/api/auth/login", json={"email": email, "password": password}, headers=headers
        )

    def token(self, email: str, password: str = PASSWORD) -> str:
        response = self.login(email, password)
        assert response.status_code == 200, response.text
        self.client.cookies.clear()
        return response.json()["access_token"]


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


@pytest.fixture(scope="module")
def generated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ModuleType]]:
    """The module's example (its ``EXAMPLE`` global): the shared generated app, imported afresh
    for the module (its own module objects), with cheap password hashes while it runs."""
    modules = generated_app(request.module.EXAMPLE, tmp_path_factory).import_modules(
        "models", "resources"
    )
    modules["errors"] = errors
    # Cheap hashes keep the tests fast; the format (argon2id) is the production one.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            passwords, "hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
        )
        yield modules


@pytest.fixture(scope="module")
def postgres_admin() -> Iterator[sa.Engine]:
    engine = admin_engine()
    yield engine
    engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh empty database for the module: an SQLite file or a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'app.sqlite3'}"
        return
    admin: sa.Engine = request.getfixturevalue("postgres_admin")
    name = f"crmgen_auth_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def build_app(modules: dict[str, ModuleType], db: object) -> Starlette:
    """The parts under test, wired as the generated app.py does."""
    errors, catalog = modules["errors"], modules["resources"].CATALOG
    sign_in = Mount("/auth", routes=auth_routes.routes(catalog))
    app = Starlette(
        routes=[Mount("/api", routes=[sign_in, *audit.routes(catalog)])],
        middleware=[Middleware(AuthMiddleware, catalog=catalog)],
        exception_handlers=errors.EXCEPTION_HANDLERS,
    )
    app.state.db = db
    app.state.settings = SimpleNamespace(secret_key=SECRET_KEY, public_url=PUBLIC_URL)
    return app


@pytest.fixture(scope="module")
def app(generated: dict[str, ModuleType], database_url: str) -> Iterator[App]:
    db = Database(database_url)
    generated["models"].Base.metadata.create_all(db.engine)
    web = build_app(generated, db)
    with TestClient(web, raise_server_exceptions=False) as client:
        yield App(
            package=generated["models"].__name__.rpartition(".")[0],
            models=generated["models"],
            auth=auth,
            audit=audit,
            catalog=generated["resources"].CATALOG,
            db=db,
            client=client,
            backend=sa.make_url(database_url).get_backend_name(),
        )
    db.dispose()


@pytest.fixture(autouse=True)
def _fresh_cookies(request: pytest.FixtureRequest) -> None:
    if "app" in request.fixturenames:
        request.getfixturevalue("app").client.cookies.clear()
