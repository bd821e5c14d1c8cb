"""The generated CRM as the image runs it: ``serve`` with ``WEB_CONCURRENCY=2`` worker processes,
JSON log lines and ``/metrics``, beside a second server (plain uvicorn) on the same database,
SQLite and PostgreSQL.

State that must hold across processes lives in the database: failed sign-ins count towards the
lockout whichever process answered them; the metrics add up every process's requests
(prometheus_client's multiprocess mode); every log line is JSON with the request's id. (That a
scheduled process runs once per tick with several web processes and workers is
tests/worker/test_api_and_scheduler.py, whose ``serve`` runs two processes too.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import (
    PASSWORD,
    app_server,
    fresh_database,
    prepare,
    uvicorn_server,
)

TOKEN = "e2e-metrics-token-0123456789"
LOCKOUT_ATTEMPTS = 5  # examples/crm's (tests/auth/test_audit.py)


@dataclass
class Pair:
    """``serve`` (two processes) and a plain uvicorn process on one database."""

    serve: str  # base URLs
    other: str
    users: dict[str, str]
    log: Path  # serve's output
    metrics_folder: Path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pair(
    request: pytest.FixtureRequest, crm_out: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp(f"operations_{request.param}")
    metrics_folder = folder / "metrics"
    log = folder / "serve.log"
    with fresh_database(request.param, folder) as url:
        users = prepare(crm_out, url, folder)
        settings = {
            "WEB_CONCURRENCY": "2",
            "LOG_FORMAT": "json",
            "METRICS_TOKEN": TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_folder),
        }
        with (
            app_server(crm_out, url, folder, log, **settings) as serve,
            uvicorn_server(crm_out, url, folder) as other,
        ):
            yield Pair(serve, other, users, log, metrics_folder)


def login(base: str, email: str, password: str) -> httpx.Response:
    """A sign-in on a connection of its own (so ``serve``'s processes take turns)."""
    return httpx.post(
        f"{base}/api/auth/login", json={"email": email, "password": password}, timeout=30
    )


def log_lines(pair: Pair) -> list[dict[str, Any]]:
    text = pair.log.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_serve_starts_web_concurrency_processes_that_log_json(pair: Pair) -> None:
    started = [line for line in log_lines(pair) if "Started server process" in line["message"]]
    assert len(started) == 2, started
    assert {"time", "level", "logger", "message", "request_id"} <= set(started[0])


def test_failed_sign_ins_count_across_processes(pair: Pair) -> None:
    email = pair.users["locked"]
    bases = [pair.serve, pair.other]
    answers = [
        login(bases[n % 2], email, "wrong password").status_code for n in range(LOCKOUT_ATTEMPTS)
    ]
    assert answers[: LOCKOUT_ATTEMPTS - 1] == [401] * (LOCKOUT_ATTEMPTS - 1), answers
    for base in bases:  # the right password, too late, whichever process answers
        locked = login(base, email, PASSWORD)
        assert locked.status_code in (423, 429), locked.text
    assert login(pair.serve, pair.users["seller2"], PASSWORD).status_code == 200


def test_request_ids_round_trip_into_errors_and_log_lines(pair: Pair) -> None:
    response = httpx.get(
        f"{pair.serve}/api/no-such-thing", headers={"X-Request-ID": "e2e-trace-42"}, timeout=30
    )
    assert response.status_code == 404 and response.headers["X-Request-ID"] == "e2e-trace-42"
    assert response.json()["error"]["request_id"] == "e2e-trace-42"
    made = httpx.get(f"{pair.serve}/healthz", headers={"X-Request-ID": "no spaces"}, timeout=30)
    assert made.headers["X-Request-ID"] not in ("no spaces", "")
    access = [line for line in log_lines(pair) if line["request_id"] == "e2e-trace-42"]
    assert any(
        line["method"] == "GET"
        and line["path"] == "/api/no-such-thing"
        and line["status"] == 404
        and line["duration"] >= 0
        for line in access
    ), access


def scrape(base: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    response = httpx.get(
        f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_metrics_add_up_every_process_and_need_the_token(pair: Pair) -> None:
    assert httpx.get(f"{pair.serve}/metrics", timeout=30).status_code == 401
    assert httpx.get(f"{pair.other}/metrics", timeout=30).status_code == 404  # not enabled there
    key = (("method", "GET"), ("route", "/api/contacts/{id}"), ("status", "401"))
    before = scrape(pair.serve)["crm_http_requests_total"].get(key, 0)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: httpx.get(f"{pair.serve}/api/contacts/{n}", timeout=30), range(40)))
    # each scrape is answered by either process, and every one sees both processes' counts
    totals = {scrape(pair.serve)["crm_http_requests_total"][key] - before for _ in range(6)}
    assert totals == {40}
    gauges = scrape(pair.serve)
    assert gauges["crm_outbox_pending_messages"][()] >= 0
    assert "crm_outbox_oldest_due_age_seconds" in gauges
