"""The outbox worker: ``python -m reference_crm worker [--once] [--batch N] [--poll SECONDS]``.

Several workers may run at once, on any hosts. A worker *claims* up to ``--batch`` due
messages by giving them a lease (``locked_until``) and its claim token, in one short
transaction: ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, one atomic ``UPDATE ...
WHERE id IN (due rows)`` on SQLite. Before each delivery it renews that message's lease (and
skips it when the lease is no longer its own); right after a delivery it marks the message
``sent`` in a transaction of its own. A failure counts an attempt and schedules the next one
after an exponential backoff with jitter (capped); after ``OUTBOX_MAX_ATTEMPTS`` attempts (or
a refusal that cannot change, such as an HTTP 400) the message is ``dead``.

Delivery is at least once: a worker that dies between delivering and marking leaves a leased
row that another worker delivers again once the lease expires; the receiver drops the repeat
by its Message-ID / Idempotency-Key. SIGTERM (or Ctrl-C) finishes the message being
delivered, gives the rest of the batch back and exits.

The worker also runs the scheduler (``scheduler.py``) in a thread, unless ``--no-scheduler``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import signal
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from crmgen_runtime.db import Database
from crmgen_runtime.delivery import PermanentError

from reference_crm import outbox
from reference_crm.models import OutboxMessage, utcnow
from reference_crm.settings import Settings

log = logging.getLogger(__name__)

TABLE = OutboxMessage.__table__
ERROR_MAX_LENGTH = 2000


def backoff(attempts: int, base: float, cap: float, rng: Any = random.random) -> float:
    """Seconds to wait after the ``attempts``-th failure.

    ``base * 2**(attempts-1)`` capped at ``cap``, with "equal jitter" (a random half to all
    of it) so that retries spread out.
    """
    delay = min(cap, base * 2 ** min(attempts - 1, 62))
    return delay / 2 + rng() * delay / 2


@dataclass(frozen=True)
class Claimed:
    """A message this worker holds the lease of."""

    id: int
    kind: str
    payload: dict[str, Any]
    key: str
    attempts: int


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    """Claims due outbox messages and delivers them; ``stop`` ends ``run`` gracefully."""

    def __init__(
        self, database: Database, settings: Settings, *, batch: int = 10
    ) -> None:
        self.database = database
        self.settings = settings
        self.batch = batch
        self.stop = threading.Event()
        self.lease = dt.timedelta(seconds=settings.outbox_lease_seconds)

    # --- claiming -----------------------------------------------------------

    def _due(self, now: dt.datetime) -> Any:
        return sa.and_(
            TABLE.c.status == "pending",
            TABLE.c.next_attempt_at <= now,
            sa.or_(TABLE.c.locked_until.is_(None), TABLE.c.locked_until < now),
        )

    def claim(self) -> tuple[str, list[Claimed]]:
        """Lease up to ``batch`` due messages, oldest due first; (claim token, messages)."""
        token = uuid.uuid4().hex
        now = utcnow()
        lease = {"locked_until": now + self.lease, "claim_token": token}
        due = (
            sa.select(TABLE.c.id)
            .where(self._due(now))
            .order_by(TABLE.c.next_attempt_at, TABLE.c.id)
            .limit(self.batch)
        )
        with self.database.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                ids = connection.scalars(due.with_for_update(skip_locked=True)).all()
                if ids:
                    connection.execute(
                        sa.update(TABLE).where(TABLE.c.id.in_(ids)).values(**lease)
                    )
            else:  # SQLite: one UPDATE is atomic (the database is locked while it runs)
                connection.execute(
                    sa.update(TABLE)
                    .where(TABLE.c.id.in_(due.scalar_subquery()), self._due(now))
                    .values(**lease)
                )
            rows = connection.execute(
                sa.select(
                    TABLE.c.id,
                    TABLE.c.kind,
                    TABLE.c.payload,
                    TABLE.c.idempotency_key,
                    TABLE.c.attempts,
                )
                .where(TABLE.c.claim_token == token)
                .order_by(TABLE.c.next_attempt_at, TABLE.c.id)
            ).all()
        return token, [
            Claimed(r.id, r.kind, dict(r.payload or {}), r.idempotency_key, r.attempts)
            for r in rows
        ]

    def _renew(self, message: Claimed, token: str) -> bool:
        """Extend the lease of ``message`` right before delivering it.

        False when the lease is not this claim's any more (it ran out, another worker took it).
        """
        now = utcnow()
        with self.database.engine.begin() as connection:
            done = connection.execute(
                sa.update(TABLE)
                .where(
                    TABLE.c.id == message.id,
                    TABLE.c.claim_token == token,
                    TABLE.c.status == "pending",
                )
                .values(locked_until=now + self.lease)
            )
        return done.rowcount == 1

    def release(self, token: str) -> None:
        """Give back the leases of ``token`` that were not delivered (a graceful stop)."""
        with self.database.engine.begin() as connection:
            connection.execute(
                sa.update(TABLE)
                .where(TABLE.c.claim_token == token, TABLE.c.status == "pending")
                .values(locked_until=None, claim_token=None)
            )

    # --- delivering ---------------------------------------------------------

    def _mark_sent(self, message: Claimed) -> None:
        with self.database.engine.begin() as connection:
            connection.execute(
                sa.update(TABLE)
                .where(TABLE.c.id == message.id)
                .values(
                    status="sent",
                    sent_at=utcnow(),
                    attempts=TABLE.c.attempts + 1,
                    locked_until=None,
                    claim_token=None,
                    last_error=None,
                )
            )

    def _mark_failed(self, message: Claimed, token: str, error: BaseException) -> str:
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
                sa.update(TABLE)
                .where(TABLE.c.id == message.id, TABLE.c.claim_token == token)
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
            outbox.COURIER.deliver(
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
            if messages and (
                self.stop.is_set() or sum(counts.values()) < len(messages)
            ):
                self.release(token)
        counts["claimed"] = len(messages)
        return counts

    def run(self, *, poll: float = 1.0, once: bool = False) -> None:
        """Deliver batches until ``stop``; sleep ``poll`` seconds when nothing is due."""
        while not self.stop.is_set():
            try:
                counts = self.run_batch()
            except (
                sa.exc.OperationalError
            ) as exc:  # database briefly unavailable or busy
                log.warning("outbox: the database failed: %s", exc)
                counts = {"claimed": 0}
            except Exception:  # noqa: BLE001 - keep delivering the other messages
                log.exception("outbox: a batch failed")
                counts = {"claimed": 0}
            if once:
                return
            if counts["claimed"] < self.batch:
                self.stop.wait(poll)


def main(
    settings: Settings,
    *,
    once: bool = False,
    batch: int = 10,
    poll: float = 1.0,
    scheduler: bool = True,
) -> None:
    """The ``worker`` command: the outbox loop here, the scheduler in a thread."""
    from reference_crm import scheduler as scheduling

    database = Database(settings.database_url)
    worker = Worker(database, settings, batch=batch)

    def stop(signum: int, _frame: Any) -> None:
        log.info("worker: signal %s, finishing the current message", signum)
        worker.stop.set()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    thread = None
    try:
        if scheduler:
            runner = scheduling.Scheduler(database, settings)
            if once:
                runner.check()
            else:
                thread = threading.Thread(
                    target=runner.run,
                    args=(worker.stop, poll),
                    name="scheduler",
                    daemon=True,
                )
                thread.start()
        worker.run(poll=poll, once=once)
    finally:
        worker.stop.set()
        if thread is not None:
            thread.join(timeout=60)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        database.dispose()
