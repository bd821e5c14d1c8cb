"""Heartbeats: each running worker says in the database that it is alive and what it is doing.

A ``Heartbeat`` is one process's row of ``crm_worker_heartbeats`` (``WorkerHeartbeatTable``),
keyed ``host:pid:random`` so that every process (several workers, ``WEB_CONCURRENCY`` web
processes running the scheduler) has its own. The loops of the process call ``beat()`` as they
turn (the outbox loop at each batch, message and idle wait, the import thread at each batch,
the scheduler at each check); the row is written at most every ``WORKER_HEARTBEAT_SECONDS``
(5), so a beat costs nothing most of the time and one short UPDATE (an INSERT the first time,
or after another process pruned the row) otherwise. ``job(name)`` marks what a thread is
doing (``outbox:KIND``, ``import``, ``schedule:NAME``); the row shows the jobs running at its last
write. ``end()`` deletes the row (a clean stop). A process that dies leaves its row behind: it
stops counting as alive in ``/metrics`` once older than ``WORKER_ALIVE_SECONDS``, and the next
beating process deletes it once not seen for ``PRUNE_AFTER`` (ten minutes).

A heartbeat never stops its worker: a database error is logged (once per failing stretch) and
the next beat tries again.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

import sqlalchemy as sa

from crmgen_runtime.db import Database
from crmgen_runtime.resources import Catalog
from crmgen_runtime.tables import WorkerHeartbeatTable, utcnow

log = logging.getLogger(__name__)

PRUNE_AFTER = dt.timedelta(minutes=10)
PRUNE_EVERY_SECONDS = 60.0  # how often one process looks for the rows of dead ones
HOST_MAX_LENGTH = 255
JOB_MAX_LENGTH = 200
WORKER = "worker"  # the role of a ``worker`` process
WEB = "web"  # the role of a web process running the scheduler (RUN_SCHEDULER=1)


class Pulse(Protocol):
    """What a worker's loops call: a ``Heartbeat``, or ``SILENT`` (nothing recorded)."""

    def beat(self) -> None:
        """Say this process is alive (written when the last write is old enough)."""

    def job(self, name: str) -> AbstractContextManager[None]:
        """While inside, this thread is doing ``name``."""


class Silent:
    """A pulse that records nothing (``worker --once``, tests of one loop)."""

    def beat(self) -> None:
        pass

    @contextmanager
    def job(self, name: str) -> Iterator[None]:
        yield


SILENT = Silent()


def table_of(catalog: Catalog) -> sa.Table:
    """The app's ``crm_worker_heartbeats`` table."""
    return catalog.table(WorkerHeartbeatTable).__table__  # type: ignore[attr-defined, no-any-return]


def process_id() -> str:
    """``host:pid:random``: this process, told apart from a later one that reuses its pid."""
    return f"{socket.gethostname()[:HOST_MAX_LENGTH]}:{os.getpid()}:{secrets.token_hex(4)}"


class Heartbeat:
    """The heartbeat row of this process: ``beat`` (throttled), ``job``, ``end``."""

    def __init__(
        self,
        catalog: Catalog,
        database: Database,
        *,
        role: str = WORKER,
        scheduler: bool = False,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = table_of(catalog)
        self.database = database
        self.role = role
        self.scheduler = scheduler
        self.interval = interval
        self.clock = clock
        self.id = process_id()
        self.host = socket.gethostname()[:HOST_MAX_LENGTH]
        self.pid = os.getpid()
        self.started_at = utcnow()
        self._lock = threading.Lock()
        self._jobs: dict[int, str] = {}  # thread -> what it is doing
        self._jobs_lock = threading.Lock()
        self._next_write = 0.0  # clock time of the next write (0: at the first beat)
        self._next_prune = 0.0
        self._failing = False

    def beat(self) -> None:
        """Write the row when ``interval`` seconds have passed since the last write."""
        now = self.clock()
        if now < self._next_write:  # the common case: no lock, no query
            return
        with self._lock:
            if now < self._next_write:  # another thread wrote meanwhile
                return
            self._next_write = now + self.interval
            try:
                self._write(prune=now >= self._next_prune)
            except sa.exc.SQLAlchemyError as exc:
                if not self._failing:
                    log.warning("heartbeat: the database failed: %s", exc)
                self._failing = True
                return
            self._failing = False
            if now >= self._next_prune:
                self._next_prune = now + PRUNE_EVERY_SECONDS

    @contextmanager
    def job(self, name: str) -> Iterator[None]:
        """While inside, this thread is doing ``name`` (shown from the next write on)."""
        thread = threading.get_ident()
        with self._jobs_lock:
            self._jobs[thread] = name
        self.beat()
        try:
            yield
        finally:
            with self._jobs_lock:
                self._jobs.pop(thread, None)

    def jobs(self) -> str | None:
        """What the threads are doing, sorted and comma-separated (None: nothing)."""
        with self._jobs_lock:
            running = sorted(set(self._jobs.values()))
        return ", ".join(running)[:JOB_MAX_LENGTH] if running else None

    def _write(self, *, prune: bool) -> None:
        table, now = self.table, utcnow()
        job = self.jobs()
        with self.database.engine.begin() as connection:
            if prune:
                connection.execute(sa.delete(table).where(table.c.last_seen_at < now - PRUNE_AFTER))
            updated = connection.execute(
                sa.update(table).where(table.c.id == self.id).values(last_seen_at=now, job=job)
            )
            if updated.rowcount == 0:  # the first beat, or pruned while this process hung
                connection.execute(
                    sa.insert(table).values(
                        id=self.id,
                        role=self.role,
                        scheduler=self.scheduler,
                        host=self.host,
                        pid=self.pid,
                        started_at=self.started_at,
                        last_seen_at=now,
                        job=job,
                    )
                )

    def end(self) -> None:
        """Delete the row: this process stops (cleanly)."""
        with self._lock:
            self._next_write = float("inf")  # a late beat of another thread writes nothing
            try:
                with self.database.engine.begin() as connection:
                    connection.execute(sa.delete(self.table).where(self.table.c.id == self.id))
            except sa.exc.SQLAlchemyError as exc:
                log.warning("heartbeat: could not delete %s: %s", self.id, exc)
