"""Backups: the file's values, what restore refuses (another app, a newer one, damage) and a
restore into a database at a newer revision."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from crmgen_runtime import backup as backups
from crmgen_runtime.backup import BackupError
from rt_app.backup import BACKUPS
from rt_app.cli import COMMANDS


@pytest.fixture
def dumped(tmp_path: Path) -> tuple[str, Path]:
    """A migrated SQLite database with a company, and its backup (plain JSON lines)."""
    url = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    COMMANDS.run_migrations(url)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO companies (id, version, name) VALUES (1, 1, 'A')"))
    engine.dispose()
    path = tmp_path / "backup.jsonl"
    assert BACKUPS.dump(url, path)["companies"] == 1
    return url, path


def rewrite(path: Path, header: dict[str, object] | None = None, *rows: str) -> Path:
    lines = path.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first.update(header or {})
    path.write_text("\n".join([json.dumps(first), *(rows or lines[1:])]) + "\n", encoding="utf-8")
    return path


def test_values_are_written_portably() -> None:
    moment = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    assert backups.encode(moment) == "2030-01-02T00:04:05+00:00"
    assert backups.encode(dt.date(2030, 1, 2)) == "2030-01-02"
    assert backups.encode(dt.time(3, 4)) == "03:04:00"
    assert backups.encode(Decimal("1E+3")) == "1000"
    assert backups.encode(b"\x00\xff") == "AP8="
    assert backups.encode(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    column = sa.Column("at", sa.DateTime(timezone=False))
    assert backups.decode(column, "2030-01-02T03:04:05+03:00") == dt.datetime(2030, 1, 2, 0, 4, 5)
    assert backups.decode(sa.Column("d", sa.Date()), "2030-01-02") == dt.date(2030, 1, 2)
    assert backups.decode(sa.Column("t", sa.Time()), "03:04:00") == dt.time(3, 4)
    assert backups.decode(sa.Column("b", sa.LargeBinary()), "AP8=") == b"\x00\xff"
    assert backups.decode(sa.Column("f", sa.Boolean()), 1) is True
    assert backups.decode(sa.Column("n", sa.Numeric()), "1.50") == Decimal("1.50")
    assert backups.decode(sa.Column("j", sa.JSON()), [1]) == [1]
    assert backups.decode(sa.Column("x", sa.types.NullType()), "as is") == "as is"
    assert repr(BACKUPS) == "Backups('rt_app')"


def test_restore_refuses_files_that_are_no_backup_of_this_app(
    dumped: tuple[str, Path], tmp_path: Path
) -> None:
    target = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    _, path = dumped
    original = path.read_text(encoding="utf-8")

    def refused(match: str) -> None:
        with pytest.raises(BackupError, match=match):
            BACKUPS.load(target, path, migrate=COMMANDS.run_migrations)
        path.write_text(original, encoding="utf-8")

    rewrite(path, {"app": "other"})
    refused("is a backup of the app 'other', not 'rt_app'")
    rewrite(path, {"format_version": 99})
    refused("was written by a newer version of the app")
    rewrite(path, {"revision": "9999"})
    refused("comes from revision 9999, which this version of the app does not know")
    rewrite(path, {"format": "zip"})
    refused("is not a backup made by the backup command")
    path.write_text("{not json\n", encoding="utf-8")
    refused("is not a backup of this app")
    rewrite(path, None, "[1, 2]")
    refused("line 2: not a row of a backup")
    rewrite(path, None, json.dumps({"table": "ghosts", "row": {}, "sql_null": []}))
    refused("line 2: a row of 'ghosts', a table the backup's header or the database does not")
    row = {"table": "companies", "row": {"id": 1, "version": 1, "name": "A", "deleted_at": "x"}}
    rewrite(path, None, json.dumps({**row, "sql_null": []}))
    refused("line 2: a value does not fit")
    row = {"table": "companies", "row": {"id": 1, "version": 1, "name": None}}
    rewrite(path, None, json.dumps({**row, "sql_null": []}))
    refused("the database refused a row of")
    with gzip.open(tmp_path / "cut.jsonl.gz", "wb") as handle:
        handle.write(original.encode())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(cut.read_bytes()[:-20])
    with pytest.raises(BackupError, match="is damaged or cut short"):
        BACKUPS.load(target, cut, migrate=COMMANDS.run_migrations)


def test_an_old_backup_restores_into_a_database_at_a_newer_revision(
    dumped: tuple[str, Path], tmp_path: Path
) -> None:
    _, path = dumped
    rewrite(path, {"revision": "0001", "format_version": 1})  # format 1: no sql_null
    lines = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    header["tables"]["companies"].remove("note")
    rows = [json.loads(line) for line in lines[1:]]
    for row in rows:
        row.pop("sql_null", None)
        row["row"].pop("note", None)
    path.write_text("\n".join(map(json.dumps, [header, *rows])) + "\n", encoding="utf-8")
    target = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    COMMANDS.run_migrations(target)  # at 0002, empty
    assert BACKUPS.load(target, path, migrate=COMMANDS.run_migrations)["companies"] == 1
    engine = sa.create_engine(target)
    with engine.connect() as connection:
        assert backups.current_revision(connection) == "0002"
        assert connection.execute(sa.text("SELECT name, note FROM companies")).all() == [
            ("A", None)
        ]
    engine.dispose()


def test_a_backup_of_a_database_at_another_revision_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    COMMANDS.run_migrations(url, "0001")
    with pytest.raises(BackupError, match="the database is at revision 0001, this app at 0002"):
        BACKUPS.dump(url, tmp_path / "b.jsonl")
    COMMANDS.run_migrations(url)
    with pytest.raises(BackupError, match="cannot write"):
        BACKUPS.dump(url, tmp_path / "missing" / "b.jsonl")


def test_a_row_longer_than_restore_reads_is_refused_on_both_sides(
    dumped: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, path = dumped
    monkeypatch.setattr(backups, "MAX_LINE_CHARS", 60)
    with pytest.raises(BackupError, match="a row of .* is longer than 60 characters"):
        BACKUPS.dump(url, tmp_path / "long.jsonl")
    with pytest.raises(BackupError, match="line 1: longer than 60 characters"):
        BACKUPS.read_header(path)


def test_the_processes_heartbeats_are_neither_backed_up_nor_restored(
    dumped: tuple[str, Path], tmp_path: Path
) -> None:
    """``crm_worker_heartbeats`` is the running workers' state, not data: a backup leaves it out,
    a restore leaves the target's rows alone (and they do not make it count as filled)."""
    url, _ = dumped
    beat = (
        "INSERT INTO crm_worker_heartbeats (id, role, host, pid, started_at, last_seen_at)"
        " VALUES ('host:1:ab', 'worker', 'host', 1, '2030-01-01', '2030-01-01')"
    )
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(beat))
    engine.dispose()
    path = tmp_path / "again.jsonl"
    counts = BACKUPS.dump(url, path)
    assert "crm_worker_heartbeats" not in counts
    assert "crm_worker_heartbeats" not in path.read_text(encoding="utf-8")
    target = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    COMMANDS.run_migrations(target)
    engine = sa.create_engine(target)
    with engine.begin() as connection:
        connection.execute(sa.text(beat.replace("host:1", "live:2")))
    assert BACKUPS.load(target, path, migrate=COMMANDS.run_migrations)["companies"] == 1
    with engine.connect() as connection:
        ids = connection.execute(sa.text("SELECT id FROM crm_worker_heartbeats")).scalars().all()
    engine.dispose()
    assert ids == ["live:2:ab"]
