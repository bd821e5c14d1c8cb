"""Imports as jobs: queued by the import page, run in batches by a worker that may die.

``queue`` moves an upload from ``uploaded`` to ``importing`` with what to import and as whom
(``job_json``). Whoever runs it (the ``worker`` command's import thread, ``ImportRunner``; or
the request itself for a file of at most ``IMPORT_INLINE_ROWS`` rows: the same code) first
*claims* it: a lease (``claim_token`` until ``locked_until``) taken in one short transaction,
like the outbox's. Then it imports ``IMPORT_BATCH_ROWS`` rows at a time from ``position``
through the import page's own ``import_chunk``, and each batch's transaction also moves
``position`` on, counts the rows done and failed and keeps the failed rows with their problems
(``crm_import_failures``), all on condition that the lease is still its own. So a batch counts
exactly when its records are in: a worker killed mid-import leaves its last batch uncommitted,
and the next worker, once the lease runs out, starts from the last committed batch, importing
no row twice and losing none. A worker whose lease was taken over meanwhile commits nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crmgen_runtime import auth, crypto
from crmgen_runtime.heartbeats import SILENT, Pulse
from crmgen_runtime.spreadsheets import ImportLimits, Table
from crmgen_runtime.tables import ImportFailureTable, utcnow
from crmgen_runtime.web.imports import (
    CELLS_CONTEXT,
    TABLE_CONTEXT,
    Importer,
    Row,
    attach_matches,
    cell_text,
    import_chunk,
    uploads_of,
)
from crmgen_runtime.web.site import Site

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another worker holds the import now: this one's batch is rolled back."""


def failures_of(site: Site) -> sa.Table:
    """The app's ``crm_import_failures`` table."""
    table: sa.Table = site.catalog.table(ImportFailureTable).__table__  # type: ignore[attr-defined]
    return table


def queue(
    database: Any, uploads: sa.Table, upload_id: str, job: dict[str, Any], total: int
) -> bool:
    """Hand the upload to whoever imports it; False when it was already handed (one atomic
    status change, on any replica)."""
    now = utcnow()
    change = (
        sa.update(uploads)
        .where(uploads.c.id == upload_id, uploads.c.status == "uploaded")
        .values(
            status="importing",
            job_json=json.dumps(job, ensure_ascii=False),
            rows_total=total,
            position=0,
            started_at=now,
            updated_at=now,
            locked_until=None,
            claim_token=None,
        )
    )
    with database.engine.begin() as connection:
        queued: bool = connection.execute(change).rowcount == 1
    return queued


def _claimable(uploads: sa.Table, now: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        uploads.c.status == "importing",
        sa.or_(uploads.c.locked_until.is_(None), uploads.c.locked_until < now),
    )


def claim(
    database: Any, uploads: sa.Table, lease: dt.timedelta, upload_id: str | None = None
) -> tuple[str, Any] | None:
    """Lease an import nobody holds (the oldest, or ``upload_id``): (claim token, its row)."""
    token = uuid.uuid4().hex
    now = utcnow()
    candidates = sa.select(uploads.c.id).where(_claimable(uploads, now))
    if upload_id is not None:
        candidates = candidates.where(uploads.c.id == upload_id)
    candidates = candidates.order_by(uploads.c.started_at, uploads.c.id).limit(1)
    lease_values = {"locked_until": now + lease, "claim_token": token}
    with database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            found = connection.scalar(candidates.with_for_update(skip_locked=True))
            if found is None:
                return None
            connection.execute(
                sa.update(uploads).where(uploads.c.id == found).values(**lease_values)
            )
        else:  # SQLite: read first (no write lock while there is nothing to do), then one
            # atomic UPDATE that takes it only if still nobody holds it
            found = connection.scalar(candidates)
            if found is None:
                return None
            connection.execute(
                sa.update(uploads)
                .where(uploads.c.id == found, _claimable(uploads, now))
                .values(**lease_values)
            )
        row = connection.execute(sa.select(uploads).where(uploads.c.claim_token == token)).first()
    return None if row is None else (token, row)


def renew(
    database: Any, uploads: sa.Table, upload_id: str, token: str, lease: dt.timedelta
) -> bool:
    """Extend the lease before a batch; False when it is no longer this claim's."""
    now = utcnow()
    change = (
        sa.update(uploads)
        .where(
            uploads.c.id == upload_id,
            uploads.c.claim_token == token,
            uploads.c.status == "importing",
        )
        .values(locked_until=now + lease)
    )
    with database.engine.begin() as connection:
        renewed: bool = connection.execute(change).rowcount == 1
    return renewed


def release(database: Any, uploads: sa.Table, upload_id: str, token: str) -> None:
    """Give the lease back (a worker stopping between two batches)."""
    change = (
        sa.update(uploads)
        .where(uploads.c.id == upload_id, uploads.c.claim_token == token)
        .values(locked_until=None, claim_token=None)
    )
    with database.engine.begin() as connection:
        connection.execute(change)


@dataclass(frozen=True)
class Progress:
    """What a batch's transaction writes besides its records: the position moved past its
    rows, the counts, its failed rows; only while the lease is this claim's."""

    uploads: sa.Table
    failures: sa.Table
    upload_id: str
    token: str

    def __call__(self, session: Any, rows: list[Row]) -> None:
        uploads = self.uploads
        bad = [row for row in rows if row.errors]
        updated = sum(1 for row in rows if not row.errors and row.target is not None)
        change = (
            sa.update(uploads)
            .where(
                uploads.c.id == self.upload_id,
                uploads.c.claim_token == self.token,
                uploads.c.status == "importing",
            )
            .values(
                position=uploads.c.position + len(rows),
                rows_done=uploads.c.rows_done + len(rows) - len(bad),
                rows_updated=uploads.c.rows_updated + updated,
                rows_failed=uploads.c.rows_failed + len(bad),
                updated_at=utcnow(),
            )
        )
        if session.execute(change).rowcount != 1:
            raise LeaseLost(self.upload_id)
        if bad:
            session.execute(
                sa.insert(self.failures),
                [
                    {
                        "upload_id": self.upload_id,
                        "line": row.line,
                        "cells_json": crypto.seal(
                            json.dumps([cell_text(c) for c in row.cells], ensure_ascii=False),
                            CELLS_CONTEXT,
                        ),
                        "errors_json": json.dumps(row.errors, ensure_ascii=False),
                    }
                    for row in rows
                    if row.errors
                ],
            )


def finish(
    database: Any, uploads: sa.Table, upload_id: str, token: str, result: dict[str, Any]
) -> None:
    """Mark the import done (when the lease is still this claim's), keep its summary and drop
    the table it no longer needs."""
    change = (
        sa.update(uploads)
        .where(uploads.c.id == upload_id, uploads.c.claim_token == token)
        .values(
            status="done",
            table_json=None,
            result_json=json.dumps(result, ensure_ascii=False),
            locked_until=None,
            claim_token=None,
            updated_at=utcnow(),
        )
    )
    with database.engine.begin() as connection:
        connection.execute(change)


@dataclass
class ImportRunner:
    """Runs the queued imports of ``site``'s app on ``database``: ``run_one`` the next one
    (or a given one), ``run`` until stopped (the worker's import thread)."""

    site: Site
    database: Any
    limits: ImportLimits
    stop: threading.Event
    pulse: Pulse = SILENT  # the worker's heartbeat, told of each batch

    @property
    def lease(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.limits.lease_seconds)

    def run_one(self, upload_id: str | None = None, user: Any = None) -> bool:
        """Claim an import (the oldest, or ``upload_id``) and run it from its position, as
        ``user`` (the request's, inline) or else as the user who queued it, read afresh;
        False when there was none to claim."""
        uploads = uploads_of(self.site.catalog)
        claimed = claim(self.database, uploads, self.lease, upload_id)
        if claimed is None:
            return False
        token, row = claimed
        try:
            with self.pulse.job("import"):
                self._run(uploads, token, row, user)
        except LeaseLost:
            log.warning("import %s: another worker holds it now", row.id)
        return True

    def _run(self, uploads: sa.Table, token: str, upload: Any, user: Any) -> None:
        site = self.site
        resource = site.pages.get(upload.entity)
        job = json.loads(upload.job_json)
        stored = json.loads(crypto.unseal(upload.table_json, TABLE_CONTEXT))
        table = Table(stored["headers"], [(line, cells) for line, cells in stored["rows"]])
        mapping, match, locale = job["mapping"], job["match"], job["locale"]
        if user is None:
            user = auth.user_by_id(site.catalog, self.database, int(job["user_id"]))
        progress = Progress(uploads, failures_of(site), upload.id, token)
        start = int(upload.position)
        if resource is None or user is None:  # gone since: no row is imported
            message = site.translator(locale)("import_user_gone")
            rows = [Row(line, cells, {}, {"": message}) for line, cells in table.rows]
        else:
            importer = Importer(site, upload.entity, resource)
            rows = importer.prepared(self.database, user, table, mapping, locale, None)
            importer.keyed(rows, mapping, match, locale)
        batch = self.limits.batch_rows
        log.info("import %s: %s rows from row %s", upload.id, len(rows), start)
        for first in range(start, len(rows), batch):
            if self.stop.is_set():  # SIGTERM: the next worker goes on from here at once
                release(self.database, uploads, upload.id, token)
                return
            self.pulse.beat()
            if not renew(self.database, uploads, upload.id, token, self.lease):
                raise LeaseLost(upload.id)
            chunk = rows[first : first + batch]
            if resource is None or user is None:
                with self.database.session() as session:
                    progress(session, chunk)
                continue
            if match in mapping:  # the records' versions, read just before their update
                attach_matches(site, self.database, resource, user, chunk, match, locale)
            import_chunk(
                site, self.database, resource, user, chunk, match, job.get("ip"), locale, progress
            )
        result = {"matched": bool(match), "headers": table.headers}
        finish(self.database, uploads, upload.id, token, result)
        log.info("import %s: done", upload.id)

    def run(self, poll: float) -> None:
        """Run queued imports until ``stop``; wait ``poll`` seconds when there is none."""
        while not self.stop.is_set():
            self.pulse.beat()
            try:
                ran = self.run_one()
            except sa.exc.OperationalError as exc:  # the database briefly unavailable
                log.warning("imports: the database failed: %s", exc)
                ran = False
            except Exception:  # keep running the other imports
                log.exception("imports: an import failed")
                ran = False
            if not ran:
                self.stop.wait(poll)
