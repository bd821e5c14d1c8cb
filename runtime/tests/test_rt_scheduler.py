"""The scheduler: the latest tick in the app's zone, each (process, tick) run once across
schedulers, missed ticks collapsed to the latest, failures recorded and not repeated."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import rt_crm
import sqlalchemy as sa
from crmgen_runtime import scheduler as scheduling
from crmgen_runtime.db import Database
from crmgen_runtime.scheduler import Scheduler, SpeedClock, latest_tick, load_processes
from crmgen_runtime.settings import Settings
from rt_app import processes

MOSCOW = ZoneInfo("Europe/Moscow")  # rt_crm's catalog keeps UTC; tests pass the zone in
NIGHT = dt.datetime(2030, 5, 6, 2, 30, tzinfo=MOSCOW)  # "30 2 * * *"


class FixedClock:
    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment

    def now(self) -> dt.datetime:
        return self.moment


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    rt_crm.Base.metadata.create_all(database.engine)
    processes.RUNS.clear()
    try:
        yield database
    finally:
        rt_crm.Base.metadata.drop_all(database.engine)
        database.dispose()


def settings(**values: Any) -> Settings:
    return Settings(database_url="sqlite://", secret_key=None, smtp_url=None, **values)


def scheduler(
    database: Database, now: dt.datetime, started: dt.datetime, name: str = "host-a:1"
) -> Scheduler:
    """A scheduler of ``rt_app.processes`` whose clock reads ``now``, started at ``started``."""
    made = Scheduler(rt_crm.catalog, database, settings(), processes=processes.EVENTS, name=name)
    made.zone = MOSCOW
    made.clock = FixedClock(now)  # type: ignore[assignment]
    made.started = started
    made.schedules = {"nightly": "30 2 * * *"}
    return made


def runs(database: Database) -> list[tuple[str, dt.datetime, str, str | None, str | None]]:
    table = rt_crm.ScheduleRun.__table__
    with database.engine.connect() as connection:
        found = connection.execute(
            sa.select(
                table.c.process, table.c.tick, table.c.status, table.c.worker, table.c.error
            ).order_by(table.c.id)
        ).all()
    return [(p, t.replace(tzinfo=t.tzinfo or dt.UTC), s, w, e) for p, t, s, w, e in found]


def test_the_latest_tick_is_read_in_the_zone_and_given_in_utc() -> None:
    tick = latest_tick("30 2 * * *", NIGHT + dt.timedelta(hours=5), MOSCOW)
    assert tick == NIGHT.astimezone(dt.UTC) and tick.tzinfo == dt.UTC
    assert latest_tick("30 2 * * *", NIGHT, MOSCOW) == NIGHT  # at the tick itself
    before = latest_tick("30 2 * * *", NIGHT - dt.timedelta(seconds=1), MOSCOW)
    assert before == NIGHT - dt.timedelta(days=1)


def test_a_tick_runs_once_whichever_schedulers_see_it(database: Database) -> None:
    now, started = NIGHT + dt.timedelta(seconds=3), NIGHT - dt.timedelta(minutes=1)
    first = scheduler(database, now, started, "host-a:1")
    second = scheduler(database, now, started, "host-b:2")
    assert first.check() == [("nightly", NIGHT.astimezone(dt.UTC))]
    assert second.check() == [] and first.check() == []
    assert processes.RUNS == ["nightly"]
    assert runs(database) == [("nightly", NIGHT, "ok", "host-a:1", None)]


def test_a_process_that_never_ran_starts_with_the_first_tick_after_the_start(
    database: Database,
) -> None:
    late = scheduler(database, NIGHT + dt.timedelta(hours=1), NIGHT + dt.timedelta(minutes=5))
    assert late.check() == [] and runs(database) == []


def test_after_downtime_only_the_latest_missed_tick_runs(database: Database) -> None:
    scheduler(database, NIGHT + dt.timedelta(seconds=1), NIGHT - dt.timedelta(seconds=5)).check()
    three_days = NIGHT + dt.timedelta(days=3, hours=4)
    back = scheduler(database, three_days, three_days)
    assert back.check() == [("nightly", (NIGHT + dt.timedelta(days=3)).astimezone(dt.UTC))]
    assert [tick for _, tick, *_ in runs(database)] == [NIGHT, NIGHT + dt.timedelta(days=3)]


def test_a_failed_run_is_recorded_and_not_repeated(database: Database) -> None:
    now = NIGHT.replace(minute=0) + dt.timedelta(hours=1, seconds=2)  # "0 * * * *"
    broken = scheduler(database, now, now - dt.timedelta(minutes=1))
    broken.schedules = {"broken": "0 * * * *"}
    assert len(broken.check()) == 1 and broken.check() == []
    [(process, _, status, _, error)] = runs(database)
    assert (process, status, error) == ("broken", "failed", "RuntimeError: the process failed")


def test_a_database_that_fails_is_looked_at_again_next_time(
    database: Database, tmp_path: Any
) -> None:
    gone = Database(f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}")
    now = NIGHT + dt.timedelta(seconds=1)
    failing = scheduler(gone, now, NIGHT - dt.timedelta(minutes=1))
    assert failing.check() == [] and failing.decided == {}
    failing.database = database
    assert len(failing.check()) == 1


def test_processes_come_from_processes_module_or_the_apps_registry() -> None:
    assert load_processes("rt_app.processes") is processes.EVENTS
    assert load_processes("rt_app.nothing_here") is None
    assert load_processes("no_such_package.processes") is None
    registered = scheduling.scheduled_processes(rt_crm.catalog, settings())
    assert registered is rt_crm.catalog.events
    chosen = settings(processes_module="rt_app.processes")
    crons = {"nightly": "30 2 * * *", "broken": "0 * * * *"}
    assert Scheduler(rt_crm.catalog, Database("sqlite://"), chosen).schedules == crons
    assert Scheduler(rt_crm.catalog, Database("sqlite://"), settings()).schedules == {}


def test_the_fast_clock_of_tests_runs_ahead_from_its_origin() -> None:
    origin = time.time() - 10
    ahead = SpeedClock(60, origin).now()
    assert ahead - dt.datetime.now(dt.UTC) > dt.timedelta(minutes=9)
    assert abs(SpeedClock().now() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)


def test_the_scheduler_thread_checks_until_stopped(database: Database) -> None:
    url = database.url.render_as_string(hide_password=False)
    fast = Settings(
        database_url=url,
        secret_key=None,
        smtp_url=None,
        processes_module="rt_app.processes",
        scheduler_poll_seconds=0.01,
    )
    started = scheduling.start_in_thread(rt_crm.catalog, database, fast)
    assert started is not None
    thread, stop = started
    time.sleep(0.1)
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and thread.name == "scheduler"
    assert scheduling.start_in_thread(rt_crm.catalog, database, settings()) is None
    idle = Scheduler(rt_crm.catalog, database, settings())
    idle.run(threading.Event())  # nothing scheduled: returns at once
