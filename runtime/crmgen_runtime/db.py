"""The database: one engine and a session factory per app (``app.state.db``).

SQLite (the default) gets foreign keys enforced, WAL journaling, connections usable from the
thread pool and two functions: ``app_local_time(column, zone)`` (a stored UTC datetime in a time
zone, as PostgreSQL's ``timezone(zone, column)``) and the aggregate ``app_exact_sum`` (sums of
exact decimals, see ``decimals``); PostgreSQL is reached through psycopg 3
(``postgresql+psycopg://``). The zone is an argument of the SQL, not a setting of the engine.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from crmgen_runtime import ftsindex
from crmgen_runtime.decimals import SqliteExactSum


class Database:
    """An engine and its sessions; ``session()`` commits on success, rolls back on error."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = sa.make_url(url)
        self.engine = create_engine(url, **engine_options)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed when the block ends, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def ping(self) -> bool:
        """True when the database answers."""
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()


log = logging.getLogger(__name__)
BUSY_TIMEOUT_SECONDS = 30.0


def create_engine(url: str, **options: Any) -> sa.Engine:
    """An engine for ``url`` with the settings this app relies on."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connect_args = dict(options.pop("connect_args", {}))
        connect_args.setdefault("check_same_thread", False)
        # wait for another process's write (web workers, the worker, a command) up to 30 s
        # rather than the driver's 5 before "database is locked"
        connect_args.setdefault("timeout", BUSY_TIMEOUT_SECONDS)
        engine = sa.create_engine(url, connect_args=connect_args, **options)
        sa.event.listen(engine, "connect", _sqlite_setup)
        dialect = engine.dialect
        sa.event.listen(
            engine, "connect", lambda connection, _: ftsindex.refresh(dialect, connection)
        )
        return engine
    options.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **options)


@cache
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_time(stored: str | None, timezone: str | None) -> str | None:
    """SQLite's ``app_local_time(column, zone)``: a stored UTC datetime in the zone ``timezone``.

    As ``YYYY-MM-DD HH:MM:SS``, what SQLite's date functions read; PostgreSQL has ``timezone()``.
    None for a missing or unreadable value or an unknown zone.
    """
    zone = _zone(timezone) if timezone else None
    if stored is None or zone is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(stored)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _sqlite_setup(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.create_function("app_local_time", 2, local_time, deterministic=True)
    dbapi_connection.create_aggregate("app_exact_sum", 1, SqliteExactSum)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    _wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


WAL_TRIES = 20  # tries of the switch, each waiting up to WAL_WAIT_MS for the file
WAL_WAIT_MS = 100


def _wal(cursor: Any) -> None:
    """Put the file in WAL mode, once: it stays set in the file. The switch needs the file to
    itself; while another process holds it (the web app, the worker and commands started
    together on a new file, which may all be switching it) it fails with "database is locked",
    which failed a command's start. So each try waits a tenth of a second (not the 30 s busy
    timeout), looks whether another process switched it meanwhile, and after the last one the
    connection goes on in the file's mode (WAL only lets readers and a writer overlap; a
    later connection switches)."""
    if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
        return
    waits = cursor.execute("PRAGMA busy_timeout").fetchone()[0]
    cursor.execute(f"PRAGMA busy_timeout = {WAL_WAIT_MS}")  # per try, not the 30 s
    try:
        for _ in range(WAL_TRIES):
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return  # another process switched it
        log.warning("the SQLite file is not in WAL mode yet: another process holds it")
    finally:
        cursor.execute(f"PRAGMA busy_timeout = {int(waits)}")
