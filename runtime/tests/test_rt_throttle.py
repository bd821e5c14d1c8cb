"""``crmgen_runtime.throttle``: rate limits in the app's ``rate_limits`` table, on SQLite and
PostgreSQL: keys, windows, the row lock and pruning."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import sqlalchemy as sa
from crmgen_runtime import throttle

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
WINDOW = dt.timedelta(minutes=10)


def rows(crm: Any) -> dict[str, list[str]]:
    table = throttle.table_of(crm.catalog)
    with crm.database.session() as session:
        return {key: hits for key, hits in session.execute(sa.select(table.c.key, table.c.hits))}


def test_keys_are_digests_and_stripes_share_rows() -> None:
    digest = hashlib.sha256(b"ann@example.com").hexdigest()
    assert throttle.key("reset-account", "ann@example.com") == f"reset-account:{digest}"
    assert throttle.stripe("login", "ann@example.com") == f"login:{digest[:2]}"
    stripes = {throttle.stripe("login", f"user{i}@example.com") for i in range(2000)}
    assert len(stripes) <= 256


def test_admit_counts_hits_within_the_window(crm_web: Any) -> None:
    name = throttle.key("reset-account", "ann@example.com")

    def admit(at: dt.datetime) -> bool:
        with crm_web.database.session() as session:
            return throttle.admit(crm_web.catalog, session, name, 2, WINDOW, at)

    assert admit(T0) and admit(T0 + dt.timedelta(minutes=1))
    assert not admit(T0 + dt.timedelta(minutes=2))  # the third within ten minutes
    assert len(rows(crm_web)[name]) == 2  # a refused hit is not recorded
    assert admit(T0 + WINDOW + dt.timedelta(seconds=1))  # the first hit left the window
    assert not admit(T0 + WINDOW + dt.timedelta(seconds=2))
    assert admit(T0 + 3 * WINDOW)


def test_lock_makes_the_row_once_and_returns_its_hits(crm_web: Any) -> None:
    name = throttle.stripe("login", "x@example.com")
    with crm_web.database.session() as session:
        assert throttle.lock(crm_web.catalog, session, name, T0) == []
        assert throttle.lock(crm_web.catalog, session, name, T0) == []
    with crm_web.database.session() as session:
        throttle.admit(crm_web.catalog, session, name, 5, WINDOW, T0)
    with crm_web.database.session() as session:
        assert throttle.lock(crm_web.catalog, session, name, T0) == [T0.isoformat()]
    assert list(rows(crm_web)) == [name]


def test_prune_deletes_rows_untouched_since(crm_web: Any) -> None:
    old, fresh = throttle.key("a", "old"), throttle.key("a", "fresh")
    with crm_web.database.session() as session:
        throttle.admit(crm_web.catalog, session, old, 1, WINDOW, T0)
        throttle.admit(crm_web.catalog, session, fresh, 1, WINDOW, T0 + WINDOW)
    throttle.prune(crm_web.catalog, crm_web.database, T0 + dt.timedelta(minutes=1))
    assert list(rows(crm_web)) == [fresh]
