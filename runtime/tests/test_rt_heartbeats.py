"""Heartbeats (``heartbeats``) of the worker and of a web process running the scheduler: one row
per process, written at most every interval, deleted on a clean stop, pruned when dead; and the
worker gauges ``/metrics`` reads from them (``metrics``), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import math
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from crmgen_runtime import scheduler as scheduling
from crmgen_runtime import worker as workers
from crmgen_runtime.db import Database
from crmgen_runtime.heartbeats import PRUNE_AFTER, WEB, WORKER, Heartbeat, table_of
from crmgen_runtime.metrics import AppMetrics
from crmgen_runtime.settings import Settings
from crmgen_runtime.tables import ImportUploadTable, utcnow
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from rt_app import outbox, processes
from rt_app.outbox import OUTBOX

CATALOG = rt_crm.catalog
TABLE = table_of(CATALOG)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    rt_crm.Base.metadata.create_all(database.engine)
    outbox.DELIVERED.clear()
    processes.RUNS.clear()
    try:
        yield database
    finally:
        rt_crm.Base.metadata.drop_all(database.engine)
        database.dispose()


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rows(database: Database) -> list[Any]:
    with database.engine.connect() as connection:
        return list(connection.execute(sa.select(TABLE).order_by(TABLE.c.started_at)).all())


def seen(database: Database, beat_id: str) -> dt.datetime:
    with database.engine.connect() as connection:
        value = connection.scalar(sa.select(TABLE.c.last_seen_at).where(TABLE.c.id == beat_id))
    assert value is not None
    return value


def add_row(database: Database, beat_id: str, age: dt.timedelta, **values: Any) -> None:
    at = utcnow() - age
    row = {"role": WORKER, "host": "h", "pid": 1, "started_at": at, "last_seen_at": at}
    with database.engine.begin() as connection:
        connection.execute(sa.insert(TABLE).values(id=beat_id, **{**row, **values}))


def test_a_heartbeat_is_written_at_most_every_interval(database: Database) -> None:
    clock = Clock()
    beat = Heartbeat(CATALOG, database, interval=5.0, clock=clock)
    beat.beat()
    (row,) = rows(database)
    assert row.id == beat.id and row.id.count(":") == 2
    assert (row.role, row.scheduler, row.pid, row.job) == (WORKER, False, os.getpid(), None)
    first = seen(database, beat.id)
    clock.now += 4.9
    beat.beat()
    assert seen(database, beat.id) == first  # throttled: no write
    clock.now += 0.2
    with beat.job("outbox:email"):
        (row,) = rows(database)
        assert row.job == "outbox:email" and row.last_seen_at > first
        clock.now += 5
        with beat.job("import"):  # another thread's job at the same time
            pass
    beat.end()
    assert rows(database) == []
    clock.now += 60
    beat.beat()  # a late beat after the end writes nothing
    assert rows(database) == []


def test_every_process_has_its_own_row_and_dead_ones_are_pruned(database: Database) -> None:
    add_row(database, "dead:1:aa", PRUNE_AFTER + dt.timedelta(seconds=30))
    add_row(database, "quiet:2:bb", PRUNE_AFTER - dt.timedelta(minutes=1))
    clock = Clock()
    one = Heartbeat(CATALOG, database, interval=5.0, clock=clock)
    two = Heartbeat(CATALOG, database, role=WEB, scheduler=True, interval=5.0)
    one.beat()
    two.beat()
    ids = {row.id for row in rows(database)}
    assert ids == {one.id, two.id, "quiet:2:bb"}  # the one unseen for ten minutes is gone
    # a process pruned while it hung writes its row again at its next beat
    with database.engine.begin() as connection:
        connection.execute(sa.delete(TABLE).where(TABLE.c.id == one.id))
    clock.now += 5
    one.beat()
    assert one.id in {row.id for row in rows(database)}


def test_a_database_error_never_reaches_the_worker(database: Database) -> None:
    beat = Heartbeat(CATALOG, database, interval=0)
    TABLE.drop(database.engine)
    try:
        beat.beat()  # logged, not raised
        beat.end()
    finally:
        TABLE.create(database.engine)


def settings(database: Database, **values: Any) -> Settings:
    url = database.url.render_as_string(hide_password=False)
    return Settings(database_url=url, secret_key=None, smtp_url=None, **values)


def test_the_worker_command_keeps_its_heartbeat_until_it_stops(database: Database) -> None:
    during: list[list[Any]] = []
    threading.Timer(0.6, lambda: during.append(rows(database))).start()
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
    values = settings(database, processes_module="rt_app.processes", worker_heartbeat_seconds=0.1)
    workers.main(OUTBOX, values, poll=0.05)
    (row,) = during[0]
    assert (row.role, row.scheduler, row.pid) == (WORKER, True, os.getpid())
    assert rows(database) == []  # a clean stop deletes it


def test_the_scheduler_of_a_web_process_keeps_a_heartbeat_of_its_own(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = settings(database, processes_module="rt_app.processes", run_scheduler=True)
    started = scheduling.start_in_thread(CATALOG, database, values)
    assert started is not None
    thread, stop = started
    try:
        deadline = utcnow() + dt.timedelta(seconds=10)
        while not rows(database) and utcnow() < deadline:
            stop.wait(0.05)
        (row,) = rows(database)
        assert (row.role, row.scheduler) == (WEB, True)
    finally:
        stop.set()
        thread.join(10)
    assert rows(database) == []


def scrape(database: Database, alive_seconds: float = 60.0) -> dict[str, float]:
    text = generate_latest(AppMetrics(CATALOG, database, alive_seconds).scrape_registry())
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
        if sample.name.startswith(("crm_worker", "crm_scheduler", "crm_imports"))
    }


def test_the_worker_gauges_count_fresh_heartbeats(database: Database) -> None:
    none = scrape(database)
    assert none["crm_workers_alive"] == 0 and none["crm_schedulers_alive"] == 0
    assert none["crm_worker_last_seen_age_seconds"] == math.inf  # no worker known
    add_row(database, "old:1:aa", dt.timedelta(seconds=120), scheduler=True)
    add_row(database, "web:2:bb", dt.timedelta(seconds=1), role=WEB, scheduler=True)
    stale = scrape(database)
    assert stale["crm_workers_alive"] == 0 and stale["crm_schedulers_alive"] == 1
    assert 119 < stale["crm_worker_last_seen_age_seconds"] < 130  # the web one is no worker
    add_row(database, "new:3:cc", dt.timedelta(seconds=2))
    fresh = scrape(database)
    assert fresh["crm_workers_alive"] == 1 and fresh["crm_schedulers_alive"] == 1
    assert 1 < fresh["crm_worker_last_seen_age_seconds"] < 10
    assert scrape(database, alive_seconds=600)["crm_workers_alive"] == 2


def test_the_import_gauges_tell_running_from_queued(database: Database) -> None:
    uploads = CATALOG.table(ImportUploadTable).__table__  # type: ignore[attr-defined]
    now = utcnow()
    common = {"owner": "o", "entity": "deals", "file_name": "f.csv", "created_at": now}
    with database.engine.begin() as connection:
        for upload_id, status, until in (
            ("run", "importing", now + dt.timedelta(seconds=60)),
            ("wait", "importing", None),
            ("dead", "importing", now - dt.timedelta(seconds=60)),  # its worker died
            ("done", "done", None),
        ):
            connection.execute(
                sa.insert(uploads).values(id=upload_id, status=status, locked_until=until, **common)
            )
    found = scrape(database)
    assert (found["crm_imports_running"], found["crm_imports_queued"]) == (1, 2)
