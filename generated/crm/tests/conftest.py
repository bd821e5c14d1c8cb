"""Fixtures of the app's tests: a fresh database, the app, users of every role, a client.

The database is a fresh SQLite file (on a RAM disk when there is one), or, when
``DATABASE_URL`` names a PostgreSQL server, a fresh database on it made for this test session
and dropped afterwards. Its tables come from the app's migrations (``alembic upgrade head``),
or from the models when there are none.
Every test starts with empty data tables and the same users: two of each role
(``<role>`` and ``<role>2``) and one kept for the lockout test.

Speed without blind spots: the test users' passwords are hashed with a cheap argon2id
(``crmgen_runtime.passwords.hasher``, the hook for it; the apps' default stays the secure one), the
migrations run once (``test_migrations`` checks what they built), the tests make no
network calls (an HTTP step of a process fails at once, as it would with the network down),
and the API tests reach the app through ``httpx.ASGITransport`` in one hop per request.
"""

from __future__ import annotations

import functools
import os
import secrets
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx2 as httpx
import pytest
import sqlalchemy as sa
from crmgen_runtime import auth, crypto, testing
from starlette.testclient import TestClient

import reference_crm
from reference_crm import models
from reference_crm.app import create_app
from reference_crm.resources import CATALOG
from reference_crm.settings import load_settings
from tests.spec_data import (
    CLEAN_ORDER,
    ENTITIES,
    ROLES,
    SUPERUSER_ROLES,
    USER_TABLE,
)

PASSWORD = "correct horse battery staple"
LOCKOUT_USER = "lockout"
PACKAGE = Path(reference_crm.__file__).resolve().parent
# The keys of the encrypted fields: fresh ones for this test session unless the environment
# names them (no key is ever written in the code).
for _name, _value in crypto.new_environ().items():
    os.environ.setdefault(_name, _value)


# --- the database --------------------------------------------------------------------------


def migrations_exist() -> bool:
    """True when the app ships Alembic migrations (beside the package or inside it)."""
    return any(
        (folder / "env.py").is_file()
        for folder in (PACKAGE / "migrations", PACKAGE.parent / "migrations")
    )


def create_schema(url: str) -> None:
    """The app's tables on ``url``: its migrations when there are any, else the models."""
    if migrations_exist():
        from reference_crm.cli import run_migrations

        run_migrations(url)
        return
    engine = sa.create_engine(url)
    try:
        models.Base.metadata.create_all(engine)
    finally:
        engine.dispose()


def postgres_url() -> str | None:
    """``DATABASE_URL`` when it names a PostgreSQL server (psycopg 3), else None."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql")):
        return None
    return load_settings({"DATABASE_URL": url}).database_url


def fresh_database(tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database, removed afterwards."""
    server = postgres_url()
    if server is None:
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield (
                sa.make_url(server)
                .set(database=name)
                .render_as_string(hide_password=False)
            )
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def tables(url: str) -> set[str]:
    """The names of the tables in the database at ``url``."""
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Schema:
    """The session's database: its URL and its tables before and after ``create_schema``."""

    url: str
    before: set[str]
    after: set[str]


def scratch_folder() -> str | None:
    """Where the SQLite file goes: a RAM disk when there is one (nothing there is kept, and
    commits need not wait for the disk), else the system's temporary folder."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


@pytest.fixture(scope="session")
def schema() -> Iterator[Schema]:
    """A fresh database given the app's tables, for the whole test session."""
    with tempfile.TemporaryDirectory(prefix="tests-", dir=scratch_folder()) as folder:
        for url in fresh_database(Path(folder)):
            before = tables(url)
            create_schema(url)
            yield Schema(url, before, tables(url))


@pytest.fixture(scope="session")
def database_url(schema: Schema) -> str:
    """The URL of the session's database."""
    return schema.url


# --- no network, cheap password hashes -------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def offline_and_cheap_hashes() -> Iterator[None]:
    """No outgoing HTTP, and cheap hashes for the test users (``crmgen_runtime.testing``)."""
    with testing.offline_and_cheap_hashes():
        yield


# --- the app and its users -----------------------------------------------------------------


@pytest.fixture(scope="session")
def client(database_url: str) -> Iterator[TestClient]:
    """The app on the test database, driven in-process, as in production: a strong key, and
    ``PUBLIC_URL`` naming the test client's host."""
    environ = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "PUBLIC_URL": "http://testserver",
        "APP_ENV": "production",
    }
    with TestClient(create_app(load_settings(environ))) as test_client:
        yield test_client


def user_names() -> list[str]:
    """Two users of each role, then the lockout user."""
    return [name for role in ROLES for name in (role, f"{role}2")] + [LOCKOUT_USER]


def role_of(user: str) -> str:
    return ROLES[0] if user == LOCKOUT_USER else user.removesuffix("2")


def email_of(user: str) -> str:
    return f"{user}@tests.example"


@pytest.fixture(scope="session")
def user_ids(client: TestClient) -> dict[str, int]:
    """The test users (created once, through ``auth.create_user``): name -> id."""
    ids = {}
    with client.app.state.db.session() as session:
        for name in user_names():
            user = auth.create_user(
                CATALOG,
                session,
                email=email_of(name),
                password=PASSWORD,
                roles=[role_of(name)],
                name=name.title(),
            )
            ids[name] = user.id
    return ids


def login(client: TestClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """``POST /api/auth/login``; the session cookie is dropped (tests use bearer tokens)."""
    response = client.post(
        "/api/auth/login", json={"email": email, "password": password}
    )
    client.cookies.clear()
    return response


@pytest.fixture(scope="session")
def tokens(client: TestClient, user_ids: dict[str, int]) -> dict[str, str]:
    """A bearer token per test user (signed in once per session)."""
    found = {}
    for name in user_ids:
        if name == LOCKOUT_USER:
            continue
        response = login(client, email_of(name))
        assert response.status_code == 200, response.text
        found[name] = response.json()["access_token"]
    return found


# --- the API helper ------------------------------------------------------------------------


class Direct:
    """Requests straight to the app's ASGI callable (``httpx.ASGITransport``) on an event loop
    of their own: the same app, middleware and database as ``client``, in one hop per request
    where ``TestClient`` makes several. The API tests (bearer tokens, JSON) use it."""

    def __init__(self, portal: Any, http: httpx.AsyncClient) -> None:
        self.portal = portal
        self.http = http

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        self.http.cookies.clear()
        return self.portal.call(
            functools.partial(self.http.request, method, url, **options)
        )


@pytest.fixture(scope="session")
def direct(client: TestClient) -> Iterator[Direct]:
    """The app of ``client``, reached directly (see ``Direct``)."""
    transport = httpx.ASGITransport(app=client.app)
    with anyio.from_thread.start_blocking_portal() as portal:
        http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        try:
            yield Direct(portal, http)
        finally:
            portal.call(http.aclose)


class Api:
    """Requests as a test user, and records made from the spec's samples.

    ``payload(path, i)`` is sample record ``i`` of an entity with its links filled: each link
    points at a record made for this test (through the API, as a superuser) or at a test user.
    """

    def __init__(
        self,
        client: TestClient,
        user_ids: dict[str, int],
        tokens: dict[str, str],
        direct: Direct | None = None,
    ) -> None:
        self.client = client
        self.direct = direct
        self.user_ids = user_ids
        self.tokens = tokens
        self.links: dict[tuple[str, int], int] = {}

    @property
    def admin(self) -> str:
        """A superuser (may do everything)."""
        if not SUPERUSER_ROLES:
            pytest.skip("the spec has no superuser role to prepare records with")
        return SUPERUSER_ROLES[0]

    def headers(self, user: str | None) -> dict[str, str]:
        if user is None:
            return {}
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def request(
        self, method: str, user: str | None, url: str, **options: Any
    ) -> httpx.Response:
        if self.direct is not None:
            return self.direct.request(
                method, url, headers=self.headers(user), **options
            )
        self.client.cookies.clear()
        return self.client.request(method, url, headers=self.headers(user), **options)

    def get(self, user: str | None, url: str, **options: Any) -> httpx.Response:
        return self.request("GET", user, url, **options)

    def post(self, user: str | None, url: str, **options: Any) -> httpx.Response:
        return self.request("POST", user, url, **options)

    def post_new(self, user: str | None, path: str, **options: Any) -> httpx.Response:
        """``POST /api/<path>``, confirming a likely duplicate (sample records look alike)."""
        return self.post(user, f"/api/{path}?confirm_duplicate=true", **options)

    def patch(self, user: str | None, url: str, **options: Any) -> httpx.Response:
        return self.request("PATCH", user, url, **options)

    def delete(self, user: str | None, url: str, **options: Any) -> httpx.Response:
        return self.request("DELETE", user, url, **options)

    def payload(self, path: str, i: int = 0, depth: int = 0) -> dict[str, Any]:
        """Sample record ``i`` of ``path``, its links filled."""
        entity = ENTITIES[path]
        if entity.unsampleable:
            pytest.skip(
                f"no valid {entity.name} could be sampled: {entity.unsampleable}"
            )
        if depth > 8:
            pytest.skip(f"the links of {entity.name} form a cycle of required fields")
        data = dict(entity.records[i])
        for ref in entity.refs:
            if ref.user:
                users = sorted(self.user_ids.values())
                target = users[i % len(users)]
            else:
                target = self.link(ref.target, i if ref.per_record else 0, depth)
            data[ref.field] = [target] if ref.many else target
        return data

    def link(self, path: str, i: int, depth: int) -> int:
        """The id of sample record ``i`` of ``path`` made for this test (made once)."""
        if (path, i) not in self.links:
            if "create" not in ENTITIES[path].actions:
                pytest.skip(f"records of /api/{path} cannot be created through the API")
            record = self.create(path, i, depth=depth + 1)
            self.links[(path, i)] = record["id"]
        return self.links[(path, i)]

    def create(
        self, path: str, i: int = 0, user: str | None = None, depth: int = 0
    ) -> dict[str, Any]:
        """Sample record ``i`` of ``path``, created through the API (201)."""
        payload = self.payload(path, i, depth)
        response = self.post_new(user or self.admin, path, json=payload)
        assert response.status_code == 201, response.text
        return response.json()

    def reset(self) -> None:
        """Empty the data tables again, as at the start of a test (links made anew)."""
        clean(self.client, self.user_ids)
        self.links.clear()

    def set_owner(self, path: str, record_id: int, user: str) -> None:
        """Make ``user`` the owner of a record (straight in the database)."""
        entity = ENTITIES[path]
        assert entity.owner_column is not None
        table = sa.table(entity.table, sa.column("id"), sa.column(entity.owner_column))
        statement = (
            sa.update(table)
            .where(table.c.id == record_id)
            .values({entity.owner_column: self.user_ids[user]})
        )
        with self.client.app.state.db.session() as session:
            session.execute(statement)


def clean(client: TestClient, user_ids: dict[str, int]) -> None:
    """Empty the data tables; of the users, keep the test users."""
    keep = list(user_ids.values())
    with client.app.state.db.session() as session:
        for name in CLEAN_ORDER:
            table = sa.table(name, sa.column("id"))
            statement = sa.delete(table)
            if name == USER_TABLE:
                statement = statement.where(table.c.id.not_in(keep))
            session.execute(statement)


@pytest.fixture
def api(
    client: TestClient, user_ids: dict[str, int], tokens: dict[str, str], direct: Direct
) -> Api:
    """The API helper, on data tables emptied for this test."""
    clean(client, user_ids)
    return Api(client, user_ids, tokens, direct)
