"""Rate limits kept in the database, so that they hold across app processes and replicas.

A limited key (``scope:SHA-256 of what is counted``: the password-reset mail of one account or
of one client address, ...) has one row in the app's ``rate_limits`` table
(``catalog.table(RateLimitTable)``) with the times of its recent hits. ``lock`` takes that row
for the rest of the transaction (an UPDATE: a row lock on PostgreSQL, the database's write lock
on SQLite), so concurrent requests on one key, from any process, take turns; ``admit`` then
counts the hits within the window and records one when there is room. ``prune`` deletes rows
untouched for longer than the window (none of their hits counts any more), skipping rows that a
request holds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crmgen_runtime.db import Database
from crmgen_runtime.resources import Catalog
from crmgen_runtime.tables import RateLimitTable

PRUNE_BATCH = 500
# Keys that only serialize work (``stripe``) share this many rows per scope.
STRIPE_HEX_DIGITS = 2


def key(scope: str, value: str) -> str:
    """The key of ``value`` counted under ``scope`` (a digest: no e-mail or address is kept)."""
    return f"{scope}:{hashlib.sha256(value.encode('utf-8')).hexdigest()}"


def stripe(scope: str, value: str) -> str:
    """One of 256 keys of ``scope``, the one of ``value``: a lock for work on ``value``."""
    return key(scope, value)[: len(scope) + 1 + STRIPE_HEX_DIGITS]


def table_of(catalog: Catalog) -> sa.Table:
    """The ``rate_limits`` table of ``catalog``'s app."""
    table: sa.Table = catalog.table(RateLimitTable).__table__  # type: ignore[attr-defined]
    return table


def _insert_new(session: Session, table: sa.Table, name: str, now: dt.datetime) -> Any:
    """An INSERT of the row ``name`` that does nothing when the row exists."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {"key": name, "hits": [], "updated_at": now}
    return dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=["key"])


def lock(catalog: Catalog, session: Session, name: str, now: dt.datetime) -> list[str]:
    """Lock the row ``name`` until the transaction ends (made on first use); its hits."""
    table = table_of(catalog)
    touch = sa.update(table).where(table.c.key == name).values(updated_at=now)
    if session.execute(touch).rowcount == 0:  # type: ignore[attr-defined]
        session.execute(_insert_new(session, table, name, now))
        session.execute(touch)
    return list(session.scalar(sa.select(table.c.hits).where(table.c.key == name)) or [])


def admit(
    catalog: Catalog,
    session: Session,
    name: str,
    limit: int,
    window: dt.timedelta,
    now: dt.datetime,
) -> bool:
    """Whether ``name`` had fewer than ``limit`` hits within ``window``; if so, one more."""
    since = now - window
    hits = [
        hit for hit in lock(catalog, session, name, now) if dt.datetime.fromisoformat(hit) > since
    ]
    admitted = len(hits) < limit
    if admitted:
        hits.append(now.isoformat())
    table = table_of(catalog)
    session.execute(sa.update(table).where(table.c.key == name).values(hits=hits))
    return admitted


def prune(catalog: Catalog, database: Database, before: dt.datetime) -> None:
    """Delete (up to ``PRUNE_BATCH``) rows untouched since ``before``, but none in use."""
    table = table_of(catalog)
    stale = (
        sa.select(table.c.key)
        .where(table.c.updated_at < before)
        .limit(PRUNE_BATCH)
        .with_for_update(skip_locked=True)
    )
    with database.session() as session:
        session.execute(sa.delete(table).where(table.c.key.in_(stale)))
