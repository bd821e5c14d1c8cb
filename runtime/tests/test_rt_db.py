"""``crmgen_runtime.db``: one engine and its sessions; SQLite's setup and its two functions."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from crmgen_runtime.db import Database, create_engine, local_time


def test_local_time_reads_a_stored_utc_moment_in_the_zone_it_is_given() -> None:
    assert local_time("2024-05-12 21:30:00", "Europe/Moscow") == "2024-05-13 00:30:00"
    assert local_time("2024-05-12T21:30:00+00:00", "UTC") == "2024-05-12 21:30:00"
    assert local_time("2024-05-12 21:30:00", "Asia/Jakarta") == "2024-05-13 04:30:00"
    assert local_time(None, "UTC") is None
    assert local_time("yesterday", "UTC") is None
    assert local_time("2024-05-12 21:30:00", "Nowhere/Atlantis") is None
    assert local_time("2024-05-12 21:30:00", None) is None


def test_sqlite_sessions_commit_roll_back_and_know_the_apps_functions(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'app.sqlite3'}")
    assert database.dialect == "sqlite" and database.ping()
    with database.session() as session:
        session.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, amount INTEGER)"))
        session.execute(sa.text("INSERT INTO t (amount) VALUES (1), (2)"))
    with pytest.raises(RuntimeError), database.session() as session:
        session.execute(sa.text("INSERT INTO t (amount) VALUES (5)"))
        raise RuntimeError("rolled back")
    with database.session() as session:
        assert session.execute(sa.text("SELECT app_exact_sum(amount) FROM t")).scalar() == 3
        moscow = sa.text("SELECT app_local_time('2024-05-12 21:30:00', 'Europe/Moscow')")
        assert session.execute(moscow).scalar() == "2024-05-13 00:30:00"
        assert session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    database.dispose()


def test_other_databases_get_pre_ping_and_an_unreachable_one_does_not_answer() -> None:
    engine = create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    assert engine.pool._pre_ping  # type: ignore[attr-defined]
    database = Database(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    assert database.dialect == "postgresql" and not database.ping()


def test_a_file_another_process_holds_opens_and_turns_to_wal_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Switching a new file to WAL needs it alone: while another connection reads it, SQLite
    says "database is locked" (the web app, the worker and commands started together on a new
    file: createuser failed so in CI). The connection tries a few times, a tenth of a second
    each, then goes on in the file's mode; a later one makes the switch."""
    import sqlite3

    from crmgen_runtime import db

    path = tmp_path / "new.sqlite3"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    other.execute("BEGIN")
    other.execute("SELECT * FROM t").fetchall()  # a read transaction: the file is held
    monkeypatch.setattr(db, "WAL_TRIES", 3)
    engine = create_engine(f"sqlite:///{path}")
    with caplog.at_level("WARNING", "crmgen_runtime.db"), engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM t")).scalar() == 0
        assert connection.execute(sa.text("PRAGMA journal_mode")).scalar() == "delete"
    assert "not in WAL mode yet" in caplog.text
    engine.dispose()
    other.execute("COMMIT")
    other.close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()
