"""Worker health in ``/metrics``, read from real processes, on SQLite and PostgreSQL.

Two ``worker`` processes and a ``serve`` running the scheduler (``RUN_SCHEDULER=1``) each keep
a heartbeat of their own (``WORKER_HEARTBEAT_SECONDS=0.2``); the app's ``/metrics``, scraped
over HTTP, counts them alive within ``WORKER_ALIVE_SECONDS=2`` (a small threshold instead of the
default minute). A SIGKILLed worker stops counting once its heartbeat is older than that; one
stopped by SIGTERM deletes its heartbeat. Meanwhile the health checks of ``serve`` leave no
line in its INFO log.
"""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from tests.migrations.apptools import engine_for
from tests.worker.conftest import Apps, free_port, wait_for

TOKEN = "health-metrics-token-0123"
ALIVE = 2.0  # seconds: WORKER_ALIVE_SECONDS of the test
HEALTH = ("crm_workers_alive", "crm_schedulers_alive", "crm_worker_last_seen_age_seconds")


def scrape(base: str) -> dict[str, float]:
    response = httpx.get(
        base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name in HEALTH
    }


def heartbeats(url: str) -> list[Any]:
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            return list(
                connection.execute(
                    sa.text("SELECT id, role, scheduler, pid FROM crm_worker_heartbeats")
                ).all()
            )
    finally:
        engine.dispose()


def test_workers_show_alive_in_metrics_until_killed_and_health_checks_stay_quiet(
    apps: Apps, database: str, tmp_path: Path
) -> None:
    apps.env.update(
        PROCESSES_MODULE="stub_processes",  # two scheduled processes (tests/worker)
        STUB_RUNS_FILE=str(tmp_path / "runs.txt"),
        WORKER_HEARTBEAT_SECONDS="0.2",
        WORKER_ALIVE_SECONDS=str(ALIVE),
        METRICS_TOKEN=TOKEN,
        RUN_SCHEDULER="1",
        WEB_CONCURRENCY="1",
    )
    port = free_port()
    apps.start(database, "serve", "--port", str(port), log="app.log")
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(base + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, 30, "the app", step=0.2)
    before = scrape(base)
    assert before["crm_workers_alive"] == 0
    assert before["crm_worker_last_seen_age_seconds"] == math.inf  # no worker ever seen
    killed = apps.start(database, "worker", "--poll", "0.2", log="killed.log")
    stopped = apps.start(database, "worker", "--poll", "0.2", log="stopped.log")
    both = wait_for(
        lambda: (found := scrape(base))["crm_workers_alive"] == 2 and found,
        30,
        "two workers alive",
        step=0.2,
    )
    assert both["crm_schedulers_alive"] == 3, apps.logs()  # the two workers and the web process
    assert both["crm_worker_last_seen_age_seconds"] < ALIVE
    roles = sorted((row.role, bool(row.scheduler)) for row in heartbeats(database))
    assert roles == [("web", True), ("worker", True), ("worker", True)]

    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=10)
    started = time.monotonic()
    wait_for(lambda: scrape(base)["crm_workers_alive"] == 1, 10, "one worker alive", step=0.2)
    noticed = time.monotonic() - started
    assert killed.pid in {row.pid for row in heartbeats(database)}  # a dead worker's row stays

    assert apps.stop(stopped) == 0, apps.logs()
    assert stopped.pid not in {row.pid for row in heartbeats(database)}  # a clean stop deletes
    wait_for(lambda: scrape(base)["crm_workers_alive"] == 0, 10, "no worker alive", step=0.2)
    after = scrape(base)
    assert ALIVE < after["crm_worker_last_seen_age_seconds"] < 60  # the killed one's, growing
    print(f"a SIGKILLed worker left the alive count {noticed:.1f}s after its death")

    for _ in range(5):
        assert httpx.get(base + "/healthz", timeout=5).status_code == 200
    log = (tmp_path / "app.log").read_text(errors="replace")
    assert "GET /metrics 200" in log  # the access log runs at INFO...
    assert "/healthz" not in log  # ...and has no line of the health checks
