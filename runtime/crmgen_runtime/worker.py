"""The outbox worker: ``python -m PKG worker [--once] [--batch N] [--poll SECONDS]``.

Several workers may run at once, on any hosts. A worker *claims* up to ``batch`` due messages
by giving them a lease (``locked_until``) and its claim token, in one short transaction:
``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, one atomic ``UPDATE ... WHERE id IN (due
rows)`` on SQLite. Before each delivery it renews that message's lease (and skips it when the
lease is no longer its own); right after a delivery it marks the message ``sent`` in a
transaction of its own. A failure counts an attempt and schedules the next one after an
exponential backoff with jitter (capped); after ``OUTBOX_MAX_ATTEMPTS`` attempts (or a refusal
that cannot change, such as an HTTP 400) the message is ``dead``.

Delivery is at least once: a worker that dies between delivering and marking leaves a leased
row that another worker delivers again once the lease expires; the receiver drops the repeat
by its Message-ID / Idempotency-Key. SIGTERM (or Ctrl-C) finishes the message being delivered,
gives the rest of the batch back and exits.

``main`` also runs the scheduler (``crmgen_runtime.scheduler``) in a thread, unless told not to,
and, given the app's web UI (``site``), the imports of the web UI (``web.import_jobs``) in
another: one import at a time, batch by batch, resumed after a worker that died. While it runs,
its loops keep its heartbeat (``crmgen_runtime.heartbeats``) in the database, which ``/metrics``
reads; a clean stop deletes it.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

import sqlalchemy as sa

from crmgen_runtime.db import Database
from crmgen_runtime.delivery import PermanentError
from crmgen_runtime.heartbeats import SILENT, WORKER, Heartbeat, Pulse
from crmgen_runtime.outbox import Outbox
from crmgen_runtime.scheduler import Scheduler
from crmgen_runtime.settings import Settings
from crmgen_runtime.tables import utcnow

log = logging.getLogger(__name__)

ERROR_MAX_LENGTH = 2000
MAX_EXPONENT = 62  # 2**62 seconds is past any cap; more would only overflow the float
SCHEDULER_JOIN_SECONDS = 60  # how long a stopping worker waits for a running scheduled process


def backoff(
    attempts: int, base: float, cap: float, rng: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after the ``attempts``-th failure.

    ``base * 2**(attempts-1)`` capped at ``cap``, with "equal jitter" (a random half to all
    of it) so that retries spread out.
    """
    delay = min(cap, base * float(2 ** min(attempts - 1, MAX_EXPONENT)))
    return delay / 2 + rng() * delay / 2


@dataclass(frozen=True)
class Claimed:
    """A message this worker holds the lease of."""

    id: int
    kind: str
    payload: dict[str, Any]
    key: str
    attempts: int


class Worker:
    """Claims due messages of ``outbox`` and delivers them; ``stop`` ends ``run`` gracefully.

    ``pulse`` is told of each batch, message and idle moment (the process's heartbeat)."""

    def __init__(
        self,
        outbox: Outbox,
        database: Database,
        settings: Settings,
        *,
        batch: int = 10,
        pulse: Pulse = SILENT,
    ) -> None:
        self.outbox = outbox
        self.database = database
        self.settings = settings
        self.batch = batch
        self.pulse = pulse
        self.stop = threading.Event()
        self.lease = dt.timedelta(seconds=settings.outbox_lease_seconds)
        self.table = outbox.table

    # --- claiming -----------------------------------------------------------------------

    def _due(self, now: dt.datetime) -> sa.ColumnElement[bool]:
        table = self.table
        return sa.and_(
            table.c.status == "pending",
            table.c.next_attempt_at <= now,
            sa.or_(table.c.locked_until.is_(None), table.c.locked_until < now),
        )

    def claim(self) -> tuple[str, list[Claimed]]:
        """Lease up to ``batch`` due messages, oldest due first; (claim token, messages)."""
        table = self.table
        token = uuid.uuid4().hex
        now = utcnow()
        lease = {"locked_until": now + self.lease, "claim_token": token}
        due = (
            sa.select(table.c.id)
            .where(self._due(now))
            .order_by(table.c.next_attempt_at, table.c.id)
            .limit(self.batch)
        )
        with self.database.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                ids = connection.scalars(due.with_for_update(skip_locked=True)).all()
                if ids:
                    connection.execute(sa.update(table).where(table.c.id.in_(ids)).values(**lease))
            else:  # SQLite: one UPDATE is atomic (the database is locked while it runs)
                connection.execute(
                    sa.update(table)
                    .where(table.c.id.in_(due.scalar_subquery()), self._due(now))
                    .values(**lease)
                )
            rows = connection.execute(
                sa.select(
                    table.c.id,
                    table.c.kind,
                    table.c.payload,
                    table.c.idempotency_key,
                    table.c.attempts,
                )
                .where(table.c.claim_token == token)
                .order_by(table.c.next_attempt_at, table.c.id)
            ).all()
        claimed = [
            Claimed(r.id, r.kind, dict(r.payload or {}), r.idempotency_key, r.attempts)
            for r in rows
        ]
        return token, claimed

    def _renew(self, message: Claimed, token: str) -> bool:
        """Extend the lease of ``message`` right before delivering it.

        False when the lease is not this claim's any more (it ran out, another worker took it).
        """
        table = self.table
        now = utcnow()
        with self.database.engine.begin() as connection:
            done = connection.execute(
                sa.update(table)
                .where(
                    table.c.id == message.id,
                    table.c.claim_token == token,
                    table.c.status == "pending",
                )
                .values(locked_until=now + self.lease)
            )
        return done.rowcount == 1

    def release(self, token: str) -> None:
        """Give back the leases of ``token`` that were not delivered (a graceful stop)."""
        table = self.table
        with self.database.engine.begin() as connection:
            connection.execute(
                sa.update(table)
                .where(table.c.claim_token == token, table.c.status == "pending")
                .values(locked_until=None, claim_token=None)
            )

    # --- delivering ---------------------------------------------------------------------

    def _mark_sent(self, message: Claimed) -> None:
        table = self.table
        with self.database.engine.begin() as connection:
            connection.execute(
                sa.update(table)
                .where(table.c.id == message.id)
                .values(
                    status="sent",
                    sent_at=utcnow(),
                    attempts=table.c.attempts + 1,
                    locked_until=None,
                    claim_token=None,
                    last_error=None,
                )
            )

    def _mark_failed(self, message: Claimed, token: str, error: BaseException) -> str:
        table = self.table
        attempts = message.attempts + 1
        permanent = isinstance(error, PermanentError)
        dead = permanent or attempts >= self.settings.outbox_max_attempts
        now = utcnow()
        wait = backoff(
            attempts,
            self.settings.outbox_backoff_seconds,
            self.settings.outbox_backoff_max_seconds,
        )
        text = f"{type(error).__name__}: {error}"[:ERROR_MAX_LENGTH]
        with self.database.engine.begin() as connection:
            connection.execute(
                sa.update(table)
                .where(table.c.id == message.id, table.c.claim_token == token)
                .values(
                    status="dead" if dead else "pending",
                    attempts=attempts,
                    next_attempt_at=now if dead else now + dt.timedelta(seconds=wait),
                    last_error=text,
                    locked_until=None,
                    claim_token=None,
                )
            )
        if dead:
            log.error(
                "outbox %s (%s) is dead after %s attempts: %s",
                message.id,
                message.kind,
                attempts,
                text,
            )
            return "dead"
        log.warning(
            "outbox %s (%s) attempt %s failed, next in %.1fs: %s",
            message.id,
            message.kind,
            attempts,
            wait,
            text,
        )
        return "retry"

    def deliver(self, message: Claimed, token: str) -> str:
        """Deliver one claimed message: ``sent``, ``retry``, ``dead`` or ``lost`` (the lease
        went to another worker)."""
        if not self._renew(message, token):
            return "lost"
        try:
            with self.pulse.job(f"outbox:{message.kind}"):
                self.outbox.courier.deliver(
                    message.kind,
                    message.payload,
                    message.key,
                    self.settings.outbox_timeout_seconds,
                )
        except Exception as exc:  # noqa: BLE001 - recorded on the message
            return self._mark_failed(message, token, exc)
        self._mark_sent(message)
        log.info("outbox %s (%s) sent", message.id, message.kind)
        return "sent"

    def run_batch(self) -> dict[str, int]:
        """Claim one batch and deliver it (stopping early, leases given back, on ``stop``)."""
        token, messages = self.claim()
        counts: dict[str, int] = {}
        try:
            for message in messages:
                if self.stop.is_set():
                    break
                outcome = self.deliver(message, token)
                counts[outcome] = counts.get(outcome, 0) + 1
        finally:
            if messages and (self.stop.is_set() or sum(counts.values()) < len(messages)):
                self.release(token)
        counts["claimed"] = len(messages)
        return counts

    def run(self, *, poll: float = 1.0, once: bool = False) -> None:
        """Deliver batches until ``stop``; sleep ``poll`` seconds when nothing is due."""
        while not self.stop.is_set():
            self.pulse.beat()
            try:
                counts = self.run_batch()
            except sa.exc.OperationalError as exc:  # database briefly unavailable or busy
                log.warning("outbox: the database failed: %s", exc)
                counts = {"claimed": 0}
            except Exception:  # keep delivering the other messages
                log.exception("outbox: a batch failed")
                counts = {"claimed": 0}
            if once:
                return
            if counts["claimed"] < self.batch:
                self.idle(poll)

    def idle(self, seconds: float) -> None:
        """Wait ``seconds`` (less on ``stop``), beating the heartbeat on the way."""
        end = time.monotonic() + seconds
        step = self.settings.worker_heartbeat_seconds
        while (left := end - time.monotonic()) > 0 and not self.stop.wait(min(left, step)):
            self.pulse.beat()


def main(
    outbox: Outbox,
    settings: Settings,
    *,
    once: bool = False,
    batch: int = 10,
    poll: float = 1.0,
    scheduler: bool = True,
    site: Any = None,
) -> None:
    """The ``worker`` command: the outbox loop here, the scheduler (of ``outbox.catalog``'s
    app) in a thread, the imports of ``site`` (the app's web UI) in another."""
    database = Database(settings.database_url, **settings.engine_options)
    runner = Scheduler(outbox.catalog, database, settings) if scheduler else None
    pulse: Pulse = SILENT
    heartbeat = None
    if not once:  # a running worker, not one pass
        heartbeat = Heartbeat(
            outbox.catalog,
            database,
            role=WORKER,
            scheduler=bool(runner and runner.schedules),
            interval=settings.worker_heartbeat_seconds,
        )
        pulse = heartbeat
    worker = Worker(outbox, database, settings, batch=batch, pulse=pulse)
    imports = None
    if site is not None:
        from crmgen_runtime.web.import_jobs import ImportRunner  # the web UI's, only here

        imports = ImportRunner(site, database, settings.imports, worker.stop, pulse)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("worker: signal %s, finishing the current message", signum)
        worker.stop.set()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    thread = importing = None
    try:
        if imports is not None:
            if once:
                while imports.run_one():
                    pass
            else:
                importing = threading.Thread(
                    target=imports.run, args=(poll,), name="imports", daemon=True
                )
                importing.start()
        if runner is not None:
            runner.pulse = pulse
            if once:
                runner.check()
            else:
                thread = threading.Thread(
                    target=runner.run, args=(worker.stop, poll), name="scheduler", daemon=True
                )
                thread.start()
        worker.run(poll=poll, once=once)
    finally:
        worker.stop.set()
        for running in (thread, importing):
            if running is not None:
                running.join(timeout=SCHEDULER_JOIN_SECONDS)
        if heartbeat is not None:
            heartbeat.end()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        database.dispose()
