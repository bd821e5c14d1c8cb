"""``crmgen_runtime.asgi``: an app's ASGI application from its parts (health and OpenAPI first,
the app's own routes before its API and pages, the body and host checks around its
middleware, error pages for browsers, the scheduler's thread) on the small CRM (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import rt_crm
from conftest import SECRET_KEY, AsUser
from crmgen_runtime import asgi, scheduler
from crmgen_runtime.db import Database
from crmgen_runtime.events import Events
from crmgen_runtime.resources import Catalog
from crmgen_runtime.web.site import Site
from rt_web import ui_data
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

OPENAPI = b'{"openapi": "3.1.0"}'


async def own(request: Request) -> Response:
    return PlainTextResponse("own")


async def api_hello(request: Request) -> Response:
    await request.body()  # where the body limit stops a request
    return PlainTextResponse("api")


@pytest.fixture
def site(tmp_path: Path) -> Site:
    (tmp_path / "ui.json").write_text(json.dumps(ui_data()), encoding="utf-8")
    return Site(rt_crm.catalog, tmp_path)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> Events:
    """A nightly process for this test alone, so the app starts its scheduler."""
    fresh = Events()
    fresh.schedule("nightly", "0 3 * * *", lambda database: None)
    monkeypatch.setattr(Catalog, "events", property(lambda catalog: fresh))
    return fresh


def test_the_app_wires_its_parts(site: Site, crm_web: rt_crm.Crm, events: Events) -> None:
    environ = {"SECRET_KEY": SECRET_KEY, "RUN_SCHEDULER": "1", "MAX_BODY_BYTES": "100"}
    settings = rt_crm.catalog.config.settings.load(environ)
    app = asgi.build(
        rt_crm.catalog,
        site,
        settings,
        crm_web.database,  # the test's: not disposed of at shutdown
        owns_database=False,
        routes=[Route("/hello", own), Route("/api/hello", own)],
        api=[Route("/hello", api_hello), Route("/{id:int}", api_hello, methods=["GET", "POST"])],
        pages=[Route("/page", own)],
        middleware=[Middleware(AsUser)],
        openapi_document=OPENAPI,
    )
    assert app.state.site is site and app.state.catalog is rt_crm.catalog
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as client:
        assert any(t.name == scheduler.THREAD_NAME for t in threading.enumerate())
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/openapi.json").content == OPENAPI
        assert client.get("/api/hello").text == "own"  # the app's own routes come first
        assert client.get("/api/7").text == "api" and client.get("/page").text == "own"
        too_big = client.post("/api/7", content=b"x" * 101)
        assert too_big.status_code == 413
        elsewhere = client.get("/page", headers={"Host": "evil.example"})
        assert elsewhere.json()["error"]["code"] == "invalid_host"
        missing = client.get("/nowhere", headers={"Accept": "text/html"})
        assert missing.status_code == 404 and "<html" in missing.text  # a page for browsers
        assert client.get("/api/nowhere").json()["error"]["code"] == "not_found"
    assert not any(t.name == scheduler.THREAD_NAME for t in threading.enumerate())
    assert crm_web.database.ping()


def test_an_unanswering_database_is_unhealthy(site: Site, tmp_path: Path) -> None:
    settings = rt_crm.catalog.config.settings.load({"SECRET_KEY": SECRET_KEY})
    database = Database(f"sqlite:///{tmp_path / 'missing' / 'nowhere.sqlite3'}")
    app = asgi.build(
        rt_crm.catalog,
        site,
        settings,
        database,
        api=[],
        pages=[],
        middleware=[],
        openapi_document=OPENAPI,
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/healthz").status_code == 503
