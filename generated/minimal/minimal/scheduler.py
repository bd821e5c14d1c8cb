"""The scheduler: runs the spec's scheduled processes, once per cron tick, in UTC time.

It runs in every ``worker`` (a thread) and, with ``RUN_SCHEDULER=1``, in the web app too;
any number of them may run against one database. For each process of ``processes.SCHEDULES``
(name -> five-field cron) the scheduler computes the latest tick at or before now, in the
app's time zone (UTC), and inserts ``(process, tick)`` into ``schedule_runs``
with a unique constraint: the one insert that succeeds runs the process
(``processes.run_scheduled(name, database)``); every other scheduler sees the row and moves on.

Missed ticks (every scheduler was down): only the most recent tick is run, once, when a
scheduler starts again; older ones are skipped (no backlog storm), and a tick is never run
once the next one has come (so never later than one period). A process that has never run
starts with the first tick after the scheduler started. A run that crashes halfway is not
repeated (``schedule_runs.status`` stays ``running``, or ``failed`` with the error).

``SCHEDULER_CLOCK_SPEED`` (and ``SCHEDULER_CLOCK_ORIGIN``, a Unix time) make the clock run
faster, for tests: at speed 60 a minute passes every second.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
import socket
import threading
import time
from types import ModuleType
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from crmgen_runtime.db import Database
from croniter import croniter

from minimal.models import ScheduleRun, utcnow
from minimal.settings import TIMEZONE, Settings

log = logging.getLogger(__name__)

PROCESSES_MODULE = "minimal.processes"
TABLE = ScheduleRun.__table__
ERROR_MAX_LENGTH = 2000


class Clock:
    """The time, in UTC; ``speed`` > 1 runs it faster from ``origin`` (a Unix time), for tests."""

    def __init__(self, speed: float = 1.0, origin: float = 0.0) -> None:
        self.speed = speed
        self.origin = origin

    def now(self) -> dt.datetime:
        if self.speed == 1.0:
            return utcnow()
        real = time.time()
        return dt.datetime.fromtimestamp(
            self.origin + (real - self.origin) * self.speed, dt.UTC
        )


def latest_tick(cron: str, now: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The latest tick of ``cron`` at or before ``now``, read in ``zone``; in UTC."""
    local = now.astimezone(zone).replace(microsecond=0) + dt.timedelta(seconds=1)
    tick = croniter(cron, local).get_prev(dt.datetime)
    return tick.astimezone(dt.UTC).replace(microsecond=0)


def load_processes(name: str | None = None) -> ModuleType | None:
    """The module with ``SCHEDULES`` and ``run_scheduled`` (None when the app has none)."""
    module = name or PROCESSES_MODULE
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            return None
        raise


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


class Scheduler:
    """Runs due ticks of the scheduled processes; ``check()`` once, ``run(stop)`` in a loop."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        processes: ModuleType | None = None,
        name: str | None = None,
    ) -> None:
        self.database = database
        self.clock = Clock(
            settings.scheduler_clock_speed, settings.scheduler_clock_origin
        )
        self.zone = ZoneInfo(TIMEZONE)
        self.processes = processes or load_processes(settings.processes_module)
        self.schedules: dict[str, str] = dict(
            getattr(self.processes, "SCHEDULES", None) or {}
        )
        self.poll = settings.scheduler_poll_seconds
        self.started = self.clock.now()
        self.name = name or _worker_name()
        self.decided: dict[str, dt.datetime] = {}  # process -> the last tick looked at

    def _last_run(self, process: str) -> dt.datetime | None:
        with self.database.engine.connect() as connection:
            last = connection.scalar(
                sa.select(sa.func.max(TABLE.c.tick)).where(TABLE.c.process == process)
            )
        return _aware(last)

    def _claim(self, process: str, tick: dt.datetime) -> bool:
        """Insert (process, tick); True for the one scheduler whose insert went in."""
        values = {
            "process": process,
            "tick": tick,
            "started_at": utcnow(),
            "status": "running",
            "worker": self.name[:128],
        }
        with self.database.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            statement = (
                insert(TABLE)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["process", "tick"])
                .returning(TABLE.c.id)
            )
            return connection.execute(statement).first() is not None

    def _finish(self, process: str, tick: dt.datetime, error: str | None) -> None:
        with self.database.engine.begin() as connection:
            connection.execute(
                sa.update(TABLE)
                .where(TABLE.c.process == process, TABLE.c.tick == tick)
                .values(
                    finished_at=utcnow(),
                    status="failed" if error else "ok",
                    error=error,
                )
            )

    def due(self, process: str, cron: str, now: dt.datetime) -> dt.datetime | None:
        """The tick of ``process`` to run now, or None."""
        tick = latest_tick(cron, now, self.zone)
        if self.decided.get(process) == tick:
            return None
        self.decided[process] = tick
        last = self._last_run(process)
        if last is None:
            return tick if tick >= self.started else None
        return tick if tick > last else None

    def check(self) -> list[tuple[str, dt.datetime]]:
        """Run every process whose tick is due and that no other scheduler took; the runs."""
        ran = []
        now = self.clock.now()
        for process, cron in sorted(self.schedules.items()):
            try:
                tick = self.due(process, cron, now)
                if tick is None or not self._claim(process, tick):
                    continue
            except sa.exc.SQLAlchemyError as exc:
                self.decided.pop(process, None)  # look again next time
                log.warning("scheduler: the database failed: %s", exc)
                continue
            ran.append((process, tick))
            self.run_process(process, tick)
        return ran

    def run_process(self, process: str, tick: dt.datetime) -> None:
        log.info("scheduler: running %s for %s", process, tick.isoformat())
        error = None
        try:
            assert self.processes is not None
            self.processes.run_scheduled(process, self.database)
        except Exception as exc:  # noqa: BLE001 - recorded on the run, the loop goes on
            log.exception("scheduler: %s failed", process)
            error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX_LENGTH]
        try:
            self._finish(process, tick, error)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("scheduler: could not record the end of %s: %s", process, exc)

    def run(self, stop: threading.Event, poll: float | None = None) -> None:
        """Check every ``poll`` seconds (``SCHEDULER_POLL_SECONDS``, default 1) until ``stop``."""
        if not self.schedules:
            return
        interval = min(poll or self.poll, self.poll)
        while not stop.is_set():
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the scheduler must outlive one bad check
                log.exception("scheduler: a check failed")
            stop.wait(interval)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def start_in_thread(
    database: Database, settings: Settings
) -> tuple[threading.Thread, threading.Event] | None:
    """The scheduler in a daemon thread (the web app with ``RUN_SCHEDULER=1``); None when
    the app has no scheduled processes."""
    scheduler = Scheduler(database, settings)
    if not scheduler.schedules:
        return None
    stop = threading.Event()
    thread = threading.Thread(
        target=scheduler.run, args=(stop,), name="scheduler", daemon=True
    )
    thread.start()
    return thread, stop


__all__ = ["Clock", "Scheduler", "latest_tick", "load_processes", "start_in_thread"]
