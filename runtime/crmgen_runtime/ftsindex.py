"""SQLite's search index: an FTS5 table per searchable table, ``q=`` finds words through it.

Each table with search columns gets an external-content FTS5 table (the search columns,
``content=`` the table, ``content_rowid=id``, ``tokenize='trigram'``) kept in step by three
triggers. The trigram tokenizer finds text inside a field's text, as the LIKE it replaces, for
words of 3 characters or more (shorter words still go by LIKE), and folds case beyond ASCII
("иванов" finds "Иванов"). Its name carries a digest of its columns, so a changed set of search
fields gets a new table (``ensure`` creates it, fills it and drops the old one).

Whether a query can use a table is decided when it is compiled, by the tables this module knows
exist on the engine's dialect (``present``): those found when a connection opens (``refresh``)
and those ``ensure`` or a table's creation made since. A database without them (or an SQLite
without FTS5) searches by LIKE as before.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import weakref
from functools import cache
from typing import Any

import sqlalchemy as sa

MIN_WORD = 3  # the trigram tokenizer finds words of at least 3 characters
_SUFFIXES = ("", "_data", "_idx", "_docsize", "_config", "_content")
_NAME = re.compile(r"(.+)_fts_[0-9a-f]{8}")
_TRIGGERS = ("ai", "ad", "au")
_known: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


@cache
def available() -> bool:
    """Whether this process's SQLite has FTS5 with the trigram tokenizer."""
    try:
        connection = sqlite3.connect(":memory:")
        try:
            connection.execute("CREATE VIRTUAL TABLE t USING fts5(a, tokenize='trigram')")
        finally:
            connection.close()
    except sqlite3.Error:
        return False
    return True


def table_name(table: str, columns: list[str]) -> str:
    """The FTS5 table of ``table``'s search ``columns``: a new name for a new set."""
    digest = hashlib.sha256(f"trigram:{table}:{','.join(columns)}".encode()).hexdigest()[:8]
    return f"{table[:40]}_fts_{digest}"


def is_search_table(name: str) -> bool:
    """Whether a table is an FTS5 search table or one of its shadow tables."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and _NAME.fullmatch(name[: len(name) - len(suffix)]):
            return True
    return False


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_sql(table: str, columns: list[str]) -> list[str]:
    """The statements creating ``table``'s FTS5 table and its triggers, then filling it."""
    fts = table_name(table, columns)
    q, t = _quote(fts), _quote(table)
    cols = ", ".join(_quote(c) for c in columns)
    new = ", ".join(f"new.{_quote(c)}" for c in columns)
    old = ", ".join(f"old.{_quote(c)}" for c in columns)
    delete = f"INSERT INTO {q}({q}, rowid, {cols}) VALUES ('delete', old.id, {old});"
    insert = f"INSERT INTO {q}(rowid, {cols}) VALUES (new.id, {new});"
    trigger = _quote(f"{fts}_%s")
    return [
        (
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {q} USING fts5({cols}, content={t}, "
            "content_rowid='id', tokenize='trigram')"
        ),
        f"CREATE TRIGGER IF NOT EXISTS {trigger % 'ai'} AFTER INSERT ON {t} BEGIN {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS {trigger % 'ad'} AFTER DELETE ON {t} BEGIN {delete} END",
        (
            f"CREATE TRIGGER IF NOT EXISTS {trigger % 'au'} AFTER UPDATE OF {cols} ON {t} "
            f"BEGIN {delete} {insert} END"
        ),
        f"INSERT INTO {q}({q}) VALUES ('rebuild')",
    ]


def _names(connection: sa.Connection, kind: str) -> set[str]:
    rows = connection.exec_driver_sql(f"SELECT name FROM sqlite_master WHERE type = '{kind}'")
    return {row[0] for row in rows}


def _columns(connection: sa.Connection, table: str) -> set[str]:
    rows = connection.exec_driver_sql(f"PRAGMA table_info({_quote(table)})")
    return {row[1] for row in rows}


def ensure(connection: sa.Connection, search_columns: dict[str, list[str]]) -> list[str]:
    """Make each table's FTS5 table and triggers, filling the ones made or missing a trigger
    (a migration that rebuilt the table drops its triggers), and drop the FTS5 tables of sets
    of search fields gone; the names of the tables filled. SQLite with FTS5 only."""
    if connection.dialect.name != "sqlite" or not available():
        return []
    tables, triggers = _names(connection, "table"), _names(connection, "trigger")
    wanted = {
        table_name(t, c)
        for t, c in search_columns.items()
        if t in tables and set(c) <= _columns(connection, t)
    }
    for name in sorted(tables):
        if _NAME.fullmatch(name) and name not in wanted:
            drop(connection, name)
    filled = []
    for table, columns in search_columns.items():
        fts = table_name(table, columns)
        if table not in tables or not set(columns) <= _columns(connection, table):
            continue  # an older revision (restore): its turn comes at the head
        if fts in tables and all(f"{fts}_{t}" in triggers for t in _TRIGGERS):
            continue
        for statement in create_sql(table, columns):
            connection.exec_driver_sql(statement)
        filled.append(fts)
    _known.setdefault(connection.dialect, set()).update(wanted)
    return filled


def drop(connection: sa.Connection, fts: str) -> None:
    """Drop the FTS5 table ``fts`` and its triggers."""
    for trigger in _TRIGGERS:
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {_quote(f'{fts}_{trigger}')}")
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {_quote(fts)}")
    _known.get(connection.dialect, set()).discard(fts)


def rebuild(connection: sa.Connection) -> list[str]:
    """Fill every FTS5 table again from its table (after a path that bypassed the triggers)."""
    if connection.dialect.name != "sqlite":
        return []
    names = sorted(n for n in _names(connection, "table") if _NAME.fullmatch(n))
    for fts in names:
        connection.exec_driver_sql(f"INSERT INTO {_quote(fts)}({_quote(fts)}) VALUES ('rebuild')")
    return names


def refresh(dialect: Any, dbapi_connection: Any) -> None:
    """Note the FTS5 tables of the database a new connection opened (SQLite)."""
    if not available():
        return
    cursor = dbapi_connection.cursor()
    try:
        rows = cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    finally:
        cursor.close()
    _known[dialect] = {row[0] for row in rows if _NAME.fullmatch(row[0])}


def present(dialect: Any, fts: str) -> bool:
    """Whether queries compiled for ``dialect`` may use the FTS5 table ``fts``."""
    return fts in _known.get(dialect, ())


def after_create(table: str, columns: list[str]) -> Any:
    """A listener of a table's ``after_create``: its FTS5 table on SQLite (new, so empty)."""

    def create(target: Any, connection: sa.Connection, **kw: Any) -> None:
        if connection.dialect.name != "sqlite" or not available():
            return
        fts = table_name(table, columns)
        drop(connection, fts)  # left by a table dropped before: its rows are gone
        for statement in create_sql(table, columns)[:-1]:
            connection.exec_driver_sql(statement)
        _known.setdefault(connection.dialect, set()).add(fts)

    return create


def phrase(word: str) -> str:
    """``word`` as an FTS5 string: double quotes doubled, nothing else special inside."""
    return '"' + word.replace('"', '""') + '"'


def match(columns: list[str], words: list[str]) -> str:
    """The FTS5 query of ``words``, each in one of ``columns``."""
    where = "{" + " ".join(phrase(c) for c in columns) + "}"
    return " AND ".join(f"{where} : {phrase(word)}" for word in words)
