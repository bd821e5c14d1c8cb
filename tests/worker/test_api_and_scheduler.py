"""The outbox API (gated to superusers and audit roles) and the scheduler (each tick once,
with two web apps of two processes each and two workers competing; after downtime only the
latest missed tick)."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from tests.migrations.apptools import engine_for, fresh_database, run_app
from tests.worker.conftest import PACKAGE, Apps, SmtpServer, free_port, outbox_rows, wait_for

PASSWORD = "long-enough-password"


@pytest.fixture
def sqlite_database(tmp_path: Path, out: Path) -> str:
    [url] = list(fresh_database("sqlite", tmp_path))
    run_app(out, PACKAGE, "migrate", url=url)
    return url


def serve(apps: Apps, url: str, log: str) -> str:
    port = free_port()
    apps.start(url, "serve", "--port", str(port), log=log)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(base + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, 30, f"the app on port {port}", step=0.2)
    return base


def test_outbox_api_is_for_superusers_and_audit_roles(
    apps: Apps, sqlite_database: str, smtp_down: SmtpServer
) -> None:
    url = sqlite_database
    apps.env.update(RELAY_SMTP_URL=smtp_down.url, OUTBOX_MAX_ATTEMPTS="1")
    for role in ("admin", "auditor", "sales"):
        apps.run(
            url,
            "createuser",
            "--email",
            f"{role}@example.com",
            "--password",
            PASSWORD,
            "--role",
            role,
        )
    apps.enqueue(
        url,
        [
            {
                "kind": "email",
                "key": f"k{i}",
                "payload": {"to": f"u{i}@example.com", "subject": f"S{i}", "text": "secret link"},
            }
            for i in range(3)
        ],
    )
    apps.run(url, "worker", "--once", "--no-scheduler")  # SMTP down, one attempt allowed: dead
    engine = engine_for(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE crm_outbox SET status = 'sent' WHERE idempotency_key = 'k2'")
        )
    engine.dispose()
    ids = {r["idempotency_key"]: r["id"] for r in outbox_rows(url)}

    base = serve(apps, url, "app.log")

    def client(role: str | None) -> httpx.Client:
        headers = {}
        if role:
            login = httpx.post(
                base + "/api/auth/login",
                json={"email": f"{role}@example.com", "password": PASSWORD},
            )
            assert login.status_code == 200, login.text
            headers["Authorization"] = "Bearer " + login.json()["access_token"]
        return httpx.Client(base_url=base, headers=headers, timeout=10)

    with (
        client(None) as anonymous,
        client("sales") as sales,
        client("auditor") as auditor,
        client("admin") as admin,
    ):
        assert anonymous.get("/api/outbox").status_code == 401
        assert sales.get("/api/outbox").status_code == 403
        assert sales.post(f"/api/outbox/{ids['k0']}/retry").status_code == 403

        listed = auditor.get("/api/outbox", params={"status": "dead"})
        assert listed.status_code == 200, listed.text
        data = listed.json()
        assert (data["total"], [i["idempotency_key"] for i in data["items"]]) == (2, ["k1", "k0"])
        item = data["items"][1]
        assert item["summary"] == {"to": "u0@example.com", "subject": "S0"}  # never the text
        assert "secret link" not in listed.text
        assert (item["status"], item["attempts"]) == ("dead", 1) and "refused" in item["last_error"]
        page = admin.get("/api/outbox", params={"limit": 1, "offset": 1}).json()
        assert (page["total"], len(page["items"]), page["items"][0]["idempotency_key"]) == (
            3,
            1,
            "k1",
        )
        assert auditor.get("/api/outbox", params={"status": "lost"}).status_code == 422
        assert auditor.get("/api/outbox", params={"limit": 0}).status_code == 422

        retried = auditor.post(f"/api/outbox/{ids['k0']}/retry")
        assert retried.status_code == 200, retried.text
        assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
        assert admin.post(f"/api/outbox/{ids['k2']}/retry").status_code == 409  # sent already
        assert admin.post("/api/outbox/999999/retry").status_code == 404

    smtp_down.start()
    apps.run(url, "worker", "--once", "--no-scheduler")
    states = {r["idempotency_key"]: r["status"] for r in outbox_rows(url)}
    assert states == {"k0": "sent", "k1": "dead", "k2": "sent"}
    assert [m["Subject"] for m in smtp_down.handler.messages] == ["S0"]


def _schedule_runs(url: str) -> list[dict[str, Any]]:
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT process, tick, status, worker FROM crm_schedule_runs ORDER BY process, tick"
                )
            ).mappings()
            result = []
            for row in rows:
                tick = row["tick"]
                if isinstance(tick, str):
                    tick = dt.datetime.fromisoformat(tick)
                result.append(
                    {
                        **row,
                        "tick": tick.replace(tzinfo=None)
                        if tick.tzinfo is None
                        else tick.astimezone(dt.UTC).replace(tzinfo=None),
                    }
                )
            return result
    finally:
        engine.dispose()


def _lines(path: Path) -> collections.Counter[str]:
    if not path.exists():
        return collections.Counter()
    return collections.Counter(line.split()[0] for line in path.read_text().splitlines())


def _gaps(ticks: list[dt.datetime]) -> set[float]:
    return {(b - a).total_seconds() for a, b in itertools.pairwise(ticks)}


def test_each_tick_runs_once_with_two_apps_and_two_workers(
    apps: Apps, database: str, tmp_path: Path
) -> None:
    runs = tmp_path / "runs.txt"
    apps.env.update(
        PROCESSES_MODULE="stub_processes",  # tests/worker/stub_processes.py
        STUB_RUNS_FILE=str(runs),
        SCHEDULER_CLOCK_SPEED="60",  # a minute every second
        SCHEDULER_CLOCK_ORIGIN=f"{time.time():.3f}",
        RUN_SCHEDULER="1",
        SCHEDULER_POLL_SECONDS="0.1",
        WEB_CONCURRENCY="2",  # each `serve` runs two processes, each with its scheduler thread
    )
    started = time.monotonic()
    processes = [
        apps.start(database, "worker", "--poll", "0.1", log=f"worker{i}.log") for i in range(2)
    ]
    for i in range(2):
        port = free_port()
        processes.append(apps.start(database, "serve", "--port", str(port), log=f"app{i}.log"))
    wait_for(lambda: _lines(runs)["every_minute"] >= 7, 30, "7 runs of every_minute", step=0.2)
    # uvicorn shuts down gracefully on SIGTERM, then exits by that signal (-15)
    assert [apps.stop(p) for p in processes] in ([0, 0, 0, 0], [0, 0, -15, -15]), apps.logs()
    elapsed = time.monotonic() - started

    rows = _schedule_runs(database)
    minute = [r["tick"] for r in rows if r["process"] == "every_minute"]
    other = [r["tick"] for r in rows if r["process"] == "every_other_minute"]
    # once per tick: one row per tick (unique) and one run per row, ticks without gaps
    assert _lines(runs) == {"every_minute": len(minute), "every_other_minute": len(other)}, (
        apps.logs()
    )
    assert _gaps(minute) == {60.0} and all(t.second == 0 for t in minute)
    assert _gaps(other) <= {120.0} and all(t.minute % 2 == 0 for t in other) and other
    assert {r["status"] for r in rows} == {"ok"}
    winners = collections.Counter(r["worker"] for r in rows)

    # Downtime of about three (fake) minutes: on restart only the latest missed tick runs.
    last = minute[-1]
    time.sleep(3.3)
    restarted = apps.start(database, "worker", "--poll", "0.1", log="restarted.log")
    wait_for(
        lambda: any(
            r["tick"] > last for r in _schedule_runs(database) if r["process"] == "every_minute"
        ),
        20,
        "a run after the restart",
        step=0.1,
    )
    assert apps.stop(restarted) == 0, apps.logs()
    later = [
        r["tick"]
        for r in _schedule_runs(database)
        if r["process"] == "every_minute" and r["tick"] > last
    ]
    assert (later[0] - last).total_seconds() >= 180  # the missed ticks in between never ran
    assert _gaps(later) <= {60.0}
    assert _lines(runs)["every_minute"] == len(minute) + len(later)
    print(
        f"{len(minute)} minute ticks and {len(other)} two-minute ticks in {elapsed:.1f}s, "
        f"winners {dict(winners)}; after {(later[0] - last).total_seconds() / 60:.0f} minutes down "
        f"the first run was the latest tick"
    )
