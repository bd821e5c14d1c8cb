"""What the runtime's unit tests share: a database of each kind, an app signing people in,
and small XLSX files.

These tests import ``crmgen_runtime`` directly, with small in-test data and no generated app.
The folder has no ``__init__.py`` (a package named ``tests`` would clash with the repository's
own): its modules are named ``test_rt_*.py``, and shared helpers are the fixtures below.

PostgreSQL is ``RUNTIME_TEST_PG`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
each test gets a schema of its own, dropped after it. When the server is down the PostgreSQL
cases are skipped, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import io
import json
import os
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from argon2 import PasswordHasher
from crmgen_runtime import auth_routes, passwords
from crmgen_runtime.credentials import AuthMiddleware
from crmgen_runtime.db import Database
from crmgen_runtime.decimals import SqliteExactSum
from crmgen_runtime.errors import EXCEPTION_HANDLERS
from crmgen_runtime.principal import USER_LOOKUP, current_user
from crmgen_runtime.spreadsheets import column_name
from crmgen_runtime.web import error_pages
from crmgen_runtime.web.site import Site
from rt_web import ui_data
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

PG_URL = os.environ.get("RUNTIME_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"

XlsxMaker = Callable[..., bytes]


def sqlite_engine() -> sa.Engine:
    """An in-memory SQLite database with the ``app_exact_sum`` aggregate, as apps set it up."""
    engine = sa.create_engine("sqlite://")

    @sa.event.listens_for(engine, "connect")
    def _register(connection: Any, _record: Any) -> None:
        connection.create_aggregate("app_exact_sum", 1, SqliteExactSum)

    return engine


@pytest.fixture
def postgres_schema() -> Iterator[dict[str, Any]]:
    """The connection arguments of a new PostgreSQL schema on ``PG_URL`` (dropped afterwards)."""
    schema = f"rt_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL is not reachable at {PG_URL}: {type(exc).__name__}")
    try:
        yield {"options": f"-c search_path={schema}"}
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres(postgres_schema: dict[str, Any]) -> Iterator[sa.Engine]:
    """A PostgreSQL engine whose connections work in a new schema (dropped afterwards)."""
    engine = sa.create_engine(PG_URL, connect_args=postgres_schema)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    """Each test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        created = sqlite_engine()
        yield created
        created.dispose()
    else:
        yield request.getfixturevalue("postgres")


@pytest.fixture
def crm() -> rt_crm.Crm:
    """A small CRM's catalog, resources, models and users (``rt_crm``), without a database."""
    return rt_crm.Crm()


@pytest.fixture
def crm_db(engine: sa.Engine) -> Iterator[rt_crm.Crm]:
    """The small CRM with its tables and records on ``engine`` (SQLite, then PostgreSQL)."""
    rt_crm.seed(engine)
    try:
        yield rt_crm.Crm(engine=engine)
    finally:
        rt_crm.drop(engine)


@pytest.fixture(params=["sqlite", "postgresql"])
def crm_web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[rt_crm.Crm]:
    """The small CRM seeded in a ``Database`` (``crm.database``) that the threads serving
    requests share: an SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    else:
        database = Database(PG_URL, connect_args=request.getfixturevalue("postgres_schema"))
    rt_crm.seed(database.engine)
    try:
        yield rt_crm.Crm(engine=database.engine, database=database)
    finally:
        rt_crm.drop(database.engine)
        database.dispose()


class AsUser:
    """Middleware putting the user named by the ``X-User`` header (``ann``, ``admin``, ...: the
    people of ``rt_crm.Crm``) on the request, as an app's authentication middleware does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            name = Headers(scope=scope).get("x-user")
            state = scope.setdefault("state", {})
            state["user"] = None
            if name:
                state[USER_LOOKUP] = lambda: getattr(rt_crm.Crm, name)
        await self.app(scope, receive, send)


# argon2id at its lowest cost: the production code paths, a fraction of a millisecond each.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
SECRET_KEY = "a-test-key-that-is-long-enough-0123456789"
PUBLIC_URL = "https://crm.example.com"
WebClient = Callable[..., TestClient]
Serve = Callable[[list[BaseRoute]], TestClient]
AuthClient = Callable[..., TestClient]


@pytest.fixture
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> PasswordHasher:
    """Cheap password hashes for the test (``passwords.hasher``, the runtime's hook)."""
    monkeypatch.setattr(passwords, "hasher", CHEAP_HASHER)
    return CHEAP_HASHER


def site_routes(site: Site, *modules: Any) -> list[BaseRoute]:
    """The routes of web UI ``modules`` as an app mounts them: each module's site-wide pages,
    then its pages of each of ``site``'s entities."""
    routes: list[BaseRoute] = []
    for module in modules:
        routes.extend(module.routes())
    for path, resource in site.pages.items():
        for module in modules:
            routes.extend(module.entity_routes(path, resource))
    return routes


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """The small CRM's web UI (``rt_web.ui_data``) over a folder of the test's own."""
    (tmp_path / "ui.json").write_text(json.dumps(ui_data()), encoding="utf-8")
    return Site(rt_crm.catalog, tmp_path)


@pytest.fixture
def web_client(crm_web: rt_crm.Crm) -> Iterator[WebClient]:
    """``web_client(routes, site=None, sessions=False, html_errors=False, base_url=..., **environ)``:
    a TestClient of an app made of ``routes`` on ``crm_web``'s database, as a generated app sets
    one up (its catalog, settings and ``site`` on ``app.state``). Requests are made by the user
    their ``X-User`` header names, or, with ``sessions``, by whom their token or cookie signs in
    (``AuthMiddleware``). Errors are JSON, or pages with ``html_errors``. The settings read
    ``environ`` over a strong ``SECRET_KEY``. Redirects are not followed."""
    clients: list[TestClient] = []

    def make(
        routes: list[BaseRoute],
        site: Site | None = None,
        sessions: bool = False,
        html_errors: bool = False,
        base_url: str = "http://testserver",
        **environ: str,
    ) -> TestClient:
        catalog = crm_web.catalog
        user = Middleware(AuthMiddleware, catalog=catalog) if sessions else Middleware(AsUser)
        handlers = (
            error_pages.html_errors(EXCEPTION_HANDLERS) if html_errors else EXCEPTION_HANDLERS
        )
        app = Starlette(routes=routes, middleware=[user], exception_handlers=handlers)
        app.state.db = crm_web.database
        app.state.catalog = catalog
        app.state.settings = catalog.config.settings.load({"SECRET_KEY": SECRET_KEY, **environ})
        if site is not None:
            app.state.site = site
        client = TestClient(
            app, base_url=base_url, raise_server_exceptions=False, follow_redirects=False
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def serve(web_client: WebClient) -> Serve:
    """``serve(routes)``: a TestClient of an app made of ``routes`` below ``/api``, on
    ``crm_web``'s database, whose requests are made by the user their ``X-User`` names."""
    return lambda routes: web_client([Mount("/api", routes=routes)])


async def whoami(request: Request) -> Response:
    """The signed-in user's id (null when anonymous), for GET and POST alike."""
    user = await current_user(request)
    return JSONResponse({"user": None if user is None else user.id})


@pytest.fixture
def auth_client(
    crm_web: rt_crm.Crm, web_client: WebClient, cheap_hashes: PasswordHasher
) -> AuthClient:
    """``auth_client(**environ)``: a TestClient of the small CRM signing people in as an app
    does (``/api/auth`` routes, ``AuthMiddleware``) on ``crm_web``'s database, with
    ``/api/whoami`` beside them; its settings read from ``environ`` (by default a strong
    ``SECRET_KEY`` and ``PUBLIC_URL``)."""

    def make(base_url: str = "http://testserver", **environ: str) -> TestClient:
        routes = [
            Mount("/auth", routes=auth_routes.routes(crm_web.catalog)),
            Route("/whoami", whoami, methods=["GET", "POST"]),
        ]
        environ = {"PUBLIC_URL": PUBLIC_URL, **environ}
        return web_client(
            [Mount("/api", routes=routes)], sessions=True, base_url=base_url, **environ
        )

    return make


def _workbook_parts(
    sheet: str, strings: str | None, styles: str | None, date1904: bool
) -> dict[str, str]:
    overrides = '<Override PartName="/xl/workbook.xml" ContentType="application/xml"/>'
    types = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f"{overrides}</Types>"
    )
    root = (
        f'<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1" '
        f'Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    pr = '<workbookPr date1904="1"/>' if date1904 else ""
    book = (
        f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}">{pr}<sheets>'
        '<sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    links = f'<Relationship Id="rId1" Type="{RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
    parts = {
        "[Content_Types].xml": types,
        "_rels/.rels": root,
        "xl/workbook.xml": book,
        "xl/worksheets/sheet1.xml": sheet,
    }
    if strings is not None:
        links += f'<Relationship Id="rId2" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>'
        parts["xl/sharedStrings.xml"] = strings
    if styles is not None:
        links += f'<Relationship Id="rId3" Type="{RELS}/styles" Target="styles.xml"/>'
        parts["xl/styles.xml"] = styles
    parts["xl/_rels/workbook.xml.rels"] = (
        f'<Relationships xmlns="{PACKAGE_RELS}">{links}</Relationships>'
    )
    return parts


def make_xlsx(
    sheet: str,
    *,
    strings: str | None = None,
    styles: str | None = None,
    date1904: bool = False,
    extra: dict[str, bytes] | None = None,
) -> bytes:
    """A minimal XLSX file whose first worksheet is the XML ``sheet`` (shared strings, styles
    and ``extra`` entries when given)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in _workbook_parts(sheet, strings, styles, date1904).items():
            archive.writestr(name, text.encode("utf-8"))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def rows_xml(rows: list[list[str]]) -> str:
    """A worksheet of inline-string cells."""
    body = "".join(
        f'<row r="{r}">'
        + "".join(
            f'<c r="{column_name(c)}{r}" t="inlineStr"><is><t>{text}</t></is></c>'
            for c, text in enumerate(row)
        )
        + "</row>"
        for r, row in enumerate(rows, start=1)
    )
    return f'<worksheet xmlns="{MAIN}"><sheetData>{body}</sheetData></worksheet>'


@pytest.fixture
def xlsx() -> XlsxMaker:
    """``xlsx(sheet_xml, strings=..., styles=..., date1904=..., extra=...)``: an XLSX file."""
    return make_xlsx


@pytest.fixture
def sheet() -> Callable[[list[list[str]]], str]:
    """``sheet([["Name"], ["Ann"]])``: the XML of a worksheet of inline strings."""
    return rows_xml


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """An empty database's URL, as an app is given one: an SQLite file, then a PostgreSQL
    schema of its own (named in the URL's ``options``, dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.sqlite3'}"
        return
    engine = request.getfixturevalue("postgres")
    with engine.connect() as connection:
        schema = connection.scalar(sa.text("SELECT current_schema()"))
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
