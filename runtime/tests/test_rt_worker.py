"""The outbox worker: claims with leases, renewals, retries with backoff, dead letters and a
graceful stop, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from crmgen_runtime import worker as workers
from crmgen_runtime.db import Database
from crmgen_runtime.settings import Settings
from crmgen_runtime.tables import utcnow
from crmgen_runtime.worker import Worker, backoff
from rt_app import outbox, processes
from rt_app.outbox import OUTBOX


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


def settings(database: Database, **values: Any) -> Settings:
    url = database.url.render_as_string(hide_password=False)
    return Settings(database_url=url, secret_key=None, smtp_url=None, **values)


def enqueue(database: Database, *payloads: dict[str, Any]) -> None:
    with database.session() as session:
        for payload in payloads:
            OUTBOX.enqueue(session, kind="note", payload=payload)


def messages(database: Database) -> list[Any]:
    with database.session() as session:
        return list(session.scalars(sa.select(rt_crm.OutboxMessage).order_by("id")))


def test_backoff_doubles_with_equal_jitter_up_to_its_cap() -> None:
    assert backoff(1, 30, 3600, rng=lambda: 0.0) == 15
    assert backoff(1, 30, 3600, rng=lambda: 1.0) == 30
    assert backoff(3, 30, 3600, rng=lambda: 1.0) == 120
    assert backoff(500, 30, 3600, rng=lambda: 1.0) == 3600  # capped, no overflow
    assert 1800 <= backoff(20, 30, 3600) <= 3600


def test_workers_claim_disjoint_batches_until_a_lease_runs_out(database: Database) -> None:
    enqueue(database, {"n": 1}, {"n": 2}, {"n": 3})
    first = Worker(OUTBOX, database, settings(database), batch=2)
    second = Worker(OUTBOX, database, settings(database), batch=2)
    token, claimed = first.claim()
    assert [m.payload["n"] for m in claimed] == [1, 2]
    assert [m.payload["n"] for m in second.claim()[1]] == [3]
    assert second.claim()[1] == []
    with database.engine.begin() as connection:  # the first worker died: its leases run out
        connection.execute(
            sa.update(OUTBOX.table)
            .where(OUTBOX.table.c.claim_token == token)
            .values(locked_until=utcnow() - dt.timedelta(seconds=1))
        )
    taken_over, again = second.claim()
    assert [m.payload["n"] for m in again] == [1, 2]
    assert first.deliver(claimed[0], token) == "lost"  # the lease is not the first's any more
    assert second.deliver(again[0], taken_over) == "sent"
    assert outbox.DELIVERED == [(again[0].key, {"n": 1})]


def test_a_batch_is_delivered_and_marked_sent(database: Database) -> None:
    enqueue(database, {"n": 1}, {"n": 2})
    counts = Worker(OUTBOX, database, settings(database)).run_batch()
    assert counts == {"sent": 2, "claimed": 2}
    rows = messages(database)
    assert {(r.status, r.attempts, r.locked_until, r.claim_token) for r in rows} == {
        ("sent", 1, None, None)
    }
    assert all(r.sent_at is not None for r in rows)


def test_a_failure_is_retried_after_a_backoff_then_dead_after_the_last_attempt(
    database: Database,
) -> None:
    enqueue(database, {"fail": "again"})
    worker = Worker(
        OUTBOX, database, settings(database, outbox_max_attempts=2, outbox_backoff_seconds=60)
    )
    before = utcnow()
    assert worker.run_batch() == {"retry": 1, "claimed": 1}
    [row] = messages(database)
    assert (row.status, row.attempts, row.claim_token) == ("pending", 1, None)
    assert row.last_error == "DeliveryError: the receiver is busy"
    due = row.next_attempt_at.replace(tzinfo=row.next_attempt_at.tzinfo or dt.UTC)
    assert before + dt.timedelta(seconds=30) <= due <= utcnow() + dt.timedelta(seconds=60)
    assert worker.run_batch() == {"claimed": 0}  # not due yet
    with database.engine.begin() as connection:
        connection.execute(sa.update(OUTBOX.table).values(next_attempt_at=utcnow()))
    assert worker.run_batch() == {"dead": 1, "claimed": 1}
    assert [(r.status, r.attempts) for r in messages(database)] == [("dead", 2)]


def test_a_refusal_that_cannot_change_is_dead_at_once(database: Database) -> None:
    enqueue(database, {"fail": "never"})
    assert Worker(OUTBOX, database, settings(database)).run_batch() == {"dead": 1, "claimed": 1}
    [row] = messages(database)
    assert (row.status, row.last_error) == ("dead", "PermanentError: the receiver refuses it")


def test_a_stopped_worker_gives_its_batch_back(database: Database) -> None:
    enqueue(database, {"n": 1}, {"n": 2})
    worker = Worker(OUTBOX, database, settings(database))
    worker.stop.set()
    assert worker.run_batch() == {"claimed": 2}
    assert {(r.status, r.claim_token) for r in messages(database)} == {("pending", None)}
    worker.run()  # stopped: returns at once
    assert outbox.DELIVERED == []


def test_run_delivers_until_stopped_and_outlives_a_failing_database(
    database: Database, tmp_path: Any
) -> None:
    enqueue(database, {"n": 1})
    worker = Worker(OUTBOX, database, settings(database), batch=1)
    thread = threading.Thread(target=worker.run, kwargs={"poll": 0.01})
    thread.start()
    try:
        for _ in range(500):
            if outbox.DELIVERED:
                break
            threading.Event().wait(0.01)
    finally:
        worker.stop.set()
        thread.join(10)
    assert [payload for _, payload in outbox.DELIVERED] == [{"n": 1}]
    gone = Database(f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}")
    Worker(OUTBOX, gone, settings(database)).run(once=True)  # logged, not raised
    broken = Database(f"sqlite:///{tmp_path / 'empty.sqlite3'}")  # no outbox table
    Worker(OUTBOX, broken, settings(database)).run(once=True)


def test_the_worker_command_delivers_a_batch_and_runs_the_due_schedules(
    database: Database,
) -> None:
    enqueue(database, {"n": 1})
    workers.main(
        OUTBOX, settings(database, processes_module="rt_app.processes"), once=True, batch=5
    )
    assert [payload for _, payload in outbox.DELIVERED] == [{"n": 1}]
    assert [r.status for r in messages(database)] == ["sent"]
    assert processes.RUNS == []  # no tick has come since the scheduler started


def test_the_worker_command_runs_the_scheduler_in_a_thread_until_a_signal(
    database: Database,
) -> None:
    enqueue(database, {"n": 1})
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
    before = signal.getsignal(signal.SIGTERM)
    workers.main(OUTBOX, settings(database, processes_module="rt_app.processes"), poll=0.05)
    assert signal.getsignal(signal.SIGTERM) is before
    assert [payload for _, payload in outbox.DELIVERED] == [{"n": 1}]
