"""The scheduler: runs an app's scheduled processes, once per cron tick, in the app's time zone.

It runs in every worker (a thread) and, with ``RUN_SCHEDULER=1``, in the web app too; any number
of them may run against one database. Which processes run on which cron is the spec's: the
app registers them on its catalog (``catalog.events.schedule(name, cron, run)``, which the
generated ``processes`` module does); the registry ``EVENTS`` of a module named by
``PROCESSES_MODULE`` replaces them, as any ``ScheduledProcesses`` a ``Scheduler`` is given
does (an ``Events`` registry, or an object with its ``schedules`` and ``run_scheduled``).
For each process the scheduler
computes the latest tick at or before now, in the app's zone (``catalog.config.clock``), and
inserts ``(process, tick)`` into the app's ``schedule_runs`` table (``ScheduleRunTable``) with a
unique constraint: the one insert that succeeds runs the process; every other scheduler sees the
row and moves on.

Missed ticks (every scheduler was down): only the most recent tick is run, once, when a
scheduler starts again; older ones are skipped (no backlog storm), and a tick is never run once
the next one has come (so never later than one period). A process that has never run starts
with the first tick after the scheduler started. A run that crashes halfway is not repeated
(``schedule_runs.status`` stays ``running``, or ``failed`` with the error).

Each process running a scheduler keeps a heartbeat (``crmgen_runtime.heartbeats``: a worker's
own, or one of role ``web`` in the web app), beaten at each check; ``/metrics`` counts them.

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
from collections.abc import Mapping
from typing import Any, Protocol, cast

import sqlalchemy as sa
from croniter import croniter  # type: ignore[import-untyped]

from crmgen_runtime.db import Database
from crmgen_runtime.events import Schedule
from crmgen_runtime.heartbeats import SILENT, WEB, Heartbeat, Pulse
from crmgen_runtime.resources import Catalog
from crmgen_runtime.settings import Settings
from crmgen_runtime.tables import ScheduleRunTable, utcnow

log = logging.getLogger(__name__)

ERROR_MAX_LENGTH = 2000
WORKER_MAX_LENGTH = 128  # schedule_runs.worker
THREAD_NAME = "scheduler"


class ScheduledProcesses(Protocol):
    """What the scheduler runs: an app's ``Events`` registry, or any object alike."""

    @property
    def schedules(self) -> Mapping[str, Schedule]:
        """The scheduled processes by name (each with its five-field cron, in the app's zone)."""

    def run_scheduled(self, name: str, database: Database) -> None:
        """Run the scheduled process ``name`` in a transaction of its own."""


class SpeedClock:
    """The time, in UTC; ``speed`` > 1 runs it faster from ``origin`` (a Unix time), for tests."""

    def __init__(self, speed: float = 1.0, origin: float = 0.0) -> None:
        self.speed = speed
        self.origin = origin

    def now(self) -> dt.datetime:
        if self.speed == 1.0:
            return utcnow()
        real = time.time()
        return dt.datetime.fromtimestamp(self.origin + (real - self.origin) * self.speed, dt.UTC)


def latest_tick(cron: str, now: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The latest tick of ``cron`` at or before ``now``, read in ``zone``; in UTC."""
    local = now.astimezone(zone).replace(microsecond=0) + dt.timedelta(seconds=1)
    tick: dt.datetime = croniter(cron, local).get_prev(dt.datetime)
    return tick.astimezone(dt.UTC).replace(microsecond=0)


def scheduled_processes(catalog: Catalog, settings: Settings) -> ScheduledProcesses | None:
    """What the scheduler runs: the registry of the module ``PROCESSES_MODULE`` names, else the
    schedules registered on the catalog."""
    if settings.processes_module:
        return load_processes(settings.processes_module)
    return catalog.events


def load_processes(name: str) -> ScheduledProcesses | None:
    """The registry ``EVENTS`` of the module ``name`` (None when there is no such module)."""
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            return None
        raise
    return cast(ScheduledProcesses, module.EVENTS)


def worker_name() -> str:
    """``host:pid``: which process ran a tick (``schedule_runs.worker``)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


class Scheduler:
    """Runs due ticks of an app's scheduled processes; ``check()`` once, ``run(stop)`` in a loop.

    ``processes`` defaults to ``scheduled_processes(catalog, settings)``.
    """

    def __init__(
        self,
        catalog: Catalog,
        database: Database,
        settings: Settings,
        *,
        processes: ScheduledProcesses | None = None,
        name: str | None = None,
        pulse: Pulse = SILENT,
    ) -> None:
        self.database = database
        self.table: sa.Table = catalog.table(ScheduleRunTable).__table__  # type: ignore[attr-defined]
        self.clock = SpeedClock(settings.scheduler_clock_speed, settings.scheduler_clock_origin)
        self.zone = catalog.config.clock.zone
        self.processes = processes or scheduled_processes(catalog, settings)
        schedules = self.processes.schedules if self.processes is not None else {}
        self.schedules = {name: schedule.cron for name, schedule in schedules.items()}
        self.poll = settings.scheduler_poll_seconds
        self.started = self.clock.now()
        self.name = name or worker_name()
        self.decided: dict[str, dt.datetime] = {}  # process -> the last tick looked at
        self.pulse = pulse  # the process's heartbeat, told of each check and run

    def _last_run(self, process: str) -> dt.datetime | None:
        table = self.table
        with self.database.engine.connect() as connection:
            last = connection.scalar(
                sa.select(sa.func.max(table.c.tick)).where(table.c.process == process)
            )
        return _aware(last)

    def _claim(self, process: str, tick: dt.datetime) -> bool:
        """Insert (process, tick); True for the one scheduler whose insert went in."""
        table = self.table
        values = {
            "process": process,
            "tick": tick,
            "started_at": utcnow(),
            "status": "running",
            "worker": self.name[:WORKER_MAX_LENGTH],
        }
        with self.database.engine.begin() as connection:
            statement: Any
            if connection.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                statement = pg_insert(table).values(**values)
            else:
                from sqlalchemy.dialects.sqlite import insert as sqlite_insert

                statement = sqlite_insert(table).values(**values)
            statement = statement.on_conflict_do_nothing(
                index_elements=["process", "tick"]
            ).returning(table.c.id)
            return connection.execute(statement).first() is not None

    def _finish(self, process: str, tick: dt.datetime, error: str | None) -> None:
        table = self.table
        with self.database.engine.begin() as connection:
            connection.execute(
                sa.update(table)
                .where(table.c.process == process, table.c.tick == tick)
                .values(finished_at=utcnow(), status="failed" if error else "ok", error=error)
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
        """Run ``process`` for ``tick`` and record how it ended."""
        log.info("scheduler: running %s for %s", process, tick.isoformat())
        error = None
        try:
            assert self.processes is not None
            with self.pulse.job(f"schedule:{process}"):
                self.processes.run_scheduled(process, self.database)
        except Exception as exc:  # recorded on the run, the loop goes on
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
            self.pulse.beat()
            try:
                self.check()
            except Exception:  # the scheduler must outlive one bad check
                log.exception("scheduler: a check failed")
            stop.wait(interval)


def start_in_thread(
    catalog: Catalog, database: Database, settings: Settings
) -> tuple[threading.Thread, threading.Event] | None:
    """The scheduler in a daemon thread (the web app with ``RUN_SCHEDULER=1``), keeping this
    process's heartbeat (role ``web``) until stopped; None when the app has no scheduled
    processes."""
    scheduler = Scheduler(catalog, database, settings)
    if not scheduler.schedules:
        return None
    heartbeat = Heartbeat(
        catalog, database, role=WEB, scheduler=True, interval=settings.worker_heartbeat_seconds
    )
    scheduler.pulse = heartbeat
    stop = threading.Event()

    def run() -> None:
        try:
            scheduler.run(stop)
        finally:
            heartbeat.end()

    thread = threading.Thread(target=run, name=THREAD_NAME, daemon=True)
    thread.start()
    return thread, stop
