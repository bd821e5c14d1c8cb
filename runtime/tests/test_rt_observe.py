"""Operations of a built app (``asgi.build``) on the small CRM, SQLite and PostgreSQL: request
ids (``request_ids``, ``observe``) in headers, error bodies, error pages and log lines (JSON:
``logs``), and ``/metrics`` (``metrics``, ``metrics_route``): off by default, guarded by its
token or networks, per route template, the outbox's and the scheduler's state; health checks
are quiet (no INFO line unless they fail) and cheap (one ``SELECT 1``, no session lookup)."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from conftest import SECRET_KEY, AsUser
from crmgen_runtime import asgi, logs, request_ids
from crmgen_runtime.credentials import AuthMiddleware
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError
from crmgen_runtime.events import Events
from crmgen_runtime.resources import Catalog
from crmgen_runtime.tables import ScheduleRunTable
from crmgen_runtime.web.site import Site
from prometheus_client.parser import text_string_to_metric_families
from rt_app.outbox import OUTBOX
from rt_web import ui_data
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

OPENAPI = b'{"openapi": "3.1.0"}'
TOKEN = "metrics-token-0123456789"


async def record(request: Request) -> Response:
    return PlainTextResponse(f"record {request.path_params['id']}")


async def refuse(request: Request) -> Response:
    raise ApiError(409, "conflict", "Taken.")


async def crash(request: Request) -> Response:
    raise RuntimeError("a bug")


@pytest.fixture
def site(tmp_path: Path) -> Site:
    (tmp_path / "ui.json").write_text(json.dumps(ui_data()), encoding="utf-8")
    return Site(rt_crm.catalog, tmp_path)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> Events:
    """A nightly process for this test alone: the scheduler's gauges name it."""
    fresh = Events()
    fresh.schedule("nightly", "0 3 * * *", lambda database: None)
    monkeypatch.setattr(Catalog, "events", property(lambda catalog: fresh))
    return fresh


def build(
    site: Site, database: Database, middleware: list[Middleware] | None = None, **environ: str
) -> TestClient:
    settings = rt_crm.catalog.config.settings.load({"SECRET_KEY": SECRET_KEY, **environ})
    app = asgi.build(
        rt_crm.catalog,
        site,
        settings,
        database,
        owns_database=False,
        api=[
            Route("/deals/{id:int}", record),
            Route("/refuse", refuse, methods=["POST"]),
            Route("/crash", crash),
        ],
        pages=[Route("/crash-page", crash)],
        middleware=[Middleware(AsUser)] if middleware is None else middleware,
        openapi_document=OPENAPI,
    )
    return TestClient(app, base_url="http://localhost", raise_server_exceptions=False)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The JSON lines the app logs while the test runs (``logs.JsonFormatter``)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.RequestIdFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_sane_ids_are_kept_and_others_replaced() -> None:
    assert request_ids.accept(b"abc-123.x:y_z") == "abc-123.x:y_z"
    for bad in (b"", b"-leading", b"two words", b'quo"te', b"line\nbreak", b"x" * 129, b"\xff"):
        replaced = request_ids.accept(bad)
        assert replaced != bad.decode("latin-1") and request_ids.sane(replaced)


def test_every_answer_and_error_names_its_request(
    site: Site, crm_web: rt_crm.Crm, captured: io.StringIO
) -> None:
    with build(site, crm_web.database) as client:
        given = client.get("/api/deals/7", headers={"X-Request-ID": "proxy-id-1"})
        assert given.headers["X-Request-ID"] == "proxy-id-1"
        forged = client.get("/api/deals/7", headers={"X-Request-ID": "bad id\r\nX: y"})
        made = forged.headers["X-Request-ID"]
        assert request_ids.sane(made) and made != client.get("/healthz").headers["X-Request-ID"]
        # JSON errors of every kind: raised, Starlette's 404, a crash, the host check, CSRF-less
        for response in (
            client.post("/api/refuse"),
            client.get("/api/nowhere"),
            client.get("/api/crash"),
            client.get("/api/deals/7", headers={"Host": "evil.example"}),
        ):
            error = response.json()["error"]
            assert error["request_id"] == response.headers["X-Request-ID"], response.text
        crashed = client.get("/api/crash", headers={"X-Request-ID": "crash-1"})
        assert crashed.status_code == 500 and crashed.json()["error"]["request_id"] == "crash-1"
        # error pages for browsers show it too, the server's crash included
        for path, status in (("/nowhere", 404), ("/crash-page", 500)):
            page = client.get(path, headers={"Accept": "text/html", "X-Request-ID": "page-1"})
            assert page.status_code == status and "<code>page-1</code>" in page.text
            assert page.headers["X-Request-ID"] == "page-1"
    logged = lines(captured)
    access = [line for line in logged if line["logger"] == "crmgen_runtime.access"]
    first = next(line for line in access if line["request_id"] == "proxy-id-1")
    assert first["method"] == "GET" and first["path"] == "/api/deals/7"
    assert first["status"] == 200 and 0 <= first["duration"] < 10
    assert {"time", "level", "message"} <= set(first)
    crash_lines = [line for line in logged if line["request_id"] == "crash-1"]
    assert any("exception" in line and "a bug" in line["exception"] for line in crash_lines)
    assert any(line.get("status") == 500 for line in crash_lines)


def test_a_text_log_line_cannot_be_forged_through_the_path(site: Site, crm_web: rt_crm.Crm) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(logs.TEXT_FORMAT))
    handler.addFilter(logs.RequestIdFilter())
    access = logging.getLogger("crmgen_runtime.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        with build(site, crm_web.database) as client:
            client.get("/api/x%0AINFO%20forged")
    finally:
        access.removeHandler(handler)
        access.setLevel(logging.NOTSET)
    assert len(stream.getvalue().splitlines()) == 1 and "%0A" in stream.getvalue()


def scrape(
    client: TestClient, **headers: str
) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """The samples of ``/metrics``, parsed by prometheus_client: name -> labels -> value."""
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}", **headers})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_metrics_are_off_until_enabled_then_need_the_token(site: Site, crm_web: rt_crm.Crm) -> None:
    with build(site, crm_web.database) as client:
        off = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert off.status_code == 404 and off.json()["error"]["code"] == "not_found"
    with build(site, crm_web.database, METRICS_TOKEN=TOKEN) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            refused = client.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["WWW-Authenticate"].startswith("Bearer")
            assert "crm_" not in refused.text
        assert scrape(client)  # any host may be named: Prometheus scrapes a pod's address
        assert scrape(client, Host="10.1.2.3:8000")


def test_metrics_networks_admit_only_their_addresses(site: Site, crm_web: rt_crm.Crm) -> None:
    # TestClient's client address is "testclient": no address, so in no network
    with build(site, crm_web.database, METRICS_ALLOW_IPS="127.0.0.0/8") as client:
        assert client.get("/metrics").status_code == 401
    settings = rt_crm.catalog.config.settings.load({"METRICS_ALLOW_IPS": "10.0.0.0/8 ::1"})
    assert settings.metrics_enabled and settings.metrics_networks == ("10.0.0.0/8", "::1/128")
    for bad in ({"METRICS_ALLOW_IPS": "10.0.0.0/33"}, {"METRICS_TOKEN": "short"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            rt_crm.catalog.config.settings.load(bad)


def test_requests_are_counted_by_route_template(site: Site, crm_web: rt_crm.Crm) -> None:
    with build(site, crm_web.database, METRICS_TOKEN=TOKEN) as client:
        for number in range(5):
            client.get(f"/api/deals/{number}")
        client.get("/api/nowhere/at/all")
        client.request("BREW", "/api/deals/1")
        metrics = scrape(client)
    requests = metrics["crm_http_requests_total"]
    key = (("method", "GET"), ("route", "/api/deals/{id}"), ("status", "200"))
    assert requests[key] == 5
    assert requests[(("method", "GET"), ("route", "unmatched"), ("status", "404"))] == 1
    assert any(dict(labels)["method"] == "other" for labels in requests)
    routes = {dict(labels)["route"] for labels in requests}
    assert not any(str(number) in route for number in range(5) for route in routes), routes
    count = metrics["crm_http_request_duration_seconds_count"]
    assert count[(("method", "GET"), ("route", "/api/deals/{id}"))] == 5


def test_outbox_and_scheduler_gauges_follow_the_database(
    site: Site, crm_web: rt_crm.Crm, events: Events
) -> None:
    with build(site, crm_web.database, METRICS_TOKEN=TOKEN) as client:
        before = scrape(client)
        assert before["crm_outbox_pending_messages"][()] == 0
        assert before["crm_outbox_oldest_pending_age_seconds"][()] == 0
        assert "crm_scheduler_last_run_age_seconds" not in before  # never ran
        with crm_web.database.session() as session:
            OUTBOX.enqueue(session, kind="note", payload={"n": 1}, key="m1")
            OUTBOX.enqueue(session, kind="note", payload={"n": 2}, key="m2")
            hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
            session.execute(OUTBOX.table.update().values(created_at=hour_ago))
            runs = rt_crm.catalog.table(ScheduleRunTable)
            session.add(runs(process="nightly", tick=hour_ago, status="failed"))
        after = scrape(client)
    assert after["crm_outbox_pending_messages"][()] == 2
    assert 3500 < after["crm_outbox_oldest_pending_age_seconds"][()] < 3700
    assert 0 <= after["crm_outbox_oldest_due_age_seconds"][()] < 60
    assert 3500 < after["crm_scheduler_last_run_age_seconds"][(("process", "nightly"),)] < 3700
    assert after["crm_scheduler_last_run_failed"][(("process", "nightly"),)] == 1


def access_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [line for line in lines(stream) if line["logger"] == "crmgen_runtime.access"]


def test_health_checks_are_quiet_and_cheap(
    site: Site, crm_web: rt_crm.Crm, captured: io.StringIO
) -> None:
    statements: list[str] = []

    def executed(connection: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements.append(statement)

    engine = crm_web.database.engine
    sa.event.listen(engine, "before_cursor_execute", executed)
    signed_in = [Middleware(AuthMiddleware, catalog=rt_crm.catalog)]
    try:
        with build(site, crm_web.database, signed_in, METRICS_TOKEN=TOKEN) as client:
            for _ in range(3):  # a probe with a session token still looks up no session
                probe = client.get("/healthz", headers={"Authorization": "Bearer " + "s" * 43})
                assert probe.status_code == 200
            checked = list(statements)
            client.get("/api/deals/7")
            counted = scrape(client)
    finally:
        sa.event.remove(engine, "before_cursor_execute", executed)
    assert checked == ["SELECT 1"] * 3
    assert [line["path"] for line in access_lines(captured)] == ["/api/deals/7", "/metrics"]
    key = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
    assert counted["crm_http_requests_total"][key] == 3  # counted, not logged


def test_a_failing_health_check_is_logged_and_debug_shows_every_one(
    site: Site, tmp_path: Path, captured: io.StringIO
) -> None:
    missing = Database(f"sqlite:///{tmp_path / 'missing' / 'nowhere.sqlite3'}")
    here = Database(f"sqlite:///{tmp_path / 'here.sqlite3'}")
    with build(site, missing) as client:
        assert client.get("/healthz").status_code == 503
    (failed,) = access_lines(captured)
    assert (failed["level"], failed["path"], failed["status"]) == ("INFO", "/healthz", 503)
    captured.truncate(0)
    captured.seek(0)
    logging.getLogger().setLevel(logging.DEBUG)
    with build(site, here) as client:
        assert client.get("/healthz").status_code == 200
    missing.dispose()
    here.dispose()
    (quiet,) = access_lines(captured)
    assert (quiet["level"], quiet["status"]) == ("DEBUG", 200)
