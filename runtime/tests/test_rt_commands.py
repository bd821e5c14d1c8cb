"""The command line of an app (``rt_app``): every command through its click group, with the
messages and exit codes users see, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest
import rt_crm
import sqlalchemy as sa
from click.testing import CliRunner, Result
from crmgen_runtime.commands import CommandLine, Problem, shared_metrics
from crmgen_runtime.config import AppConfig
from rt_app import outbox
from rt_app.cli import COMMANDS, cli

DEVELOPMENT = {"APP_ENV": "development"}


def run(url: str, *args: str, code: int = 0) -> Result:
    """``python -m rt_app ARGS`` with ``DATABASE_URL=url``; fails unless it exits ``code``."""
    done = CliRunner().invoke(cli, list(args), env={**DEVELOPMENT, "DATABASE_URL": url})
    assert done.exit_code == code, (done.output, done.exception)
    return done


def test_help_names_the_app_and_every_command() -> None:
    shown = CliRunner().invoke(cli, ["--help"]).output
    assert "RT CRM: the CRM's command line." in shown
    commands = (
        "backup",
        "createuser",
        "migrate",
        "recompute",
        "restore",
        "seed",
        "serve",
        "worker",
    )
    for command in commands:
        assert command in shown
        assert "Usage:" in CliRunner().invoke(cli, [command, "-h"]).output
    assert repr(COMMANDS) == "CommandLine('rt_app')"


def test_migrate_then_serve_refuses_nothing_but_an_unmigrated_database(
    database_url: str,
) -> None:
    refused = run(database_url, "serve", code=1)
    assert "Error: the database is empty, the app needs revision 0002: " in refused.output
    assert "run `python -m rt_app migrate` first" in refused.output
    assert "database is up to date" in run(database_url, "migrate").output
    COMMANDS.check_migrated(database_url)  # what serve checks before it starts uvicorn
    engine = sa.create_engine(database_url)
    try:
        indexes = {i["name"] for i in sa.inspect(engine).get_indexes("companies")}
    finally:
        engine.dispose()
    assert "ix_rt_company_name" in indexes  # the app's search indexes, on either database


def test_an_unreachable_database_and_a_missing_migrations_folder_are_one_line(
    tmp_path: Path,
) -> None:
    with pytest.raises(Problem, match="cannot reach the database: OperationalError"):
        COMMANDS.check_migrated(f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}")
    lost = CommandLine(AppConfig("rt_app"), tmp_path / "rt_app")
    with pytest.raises(Problem, match="the migrations folder was not found"):
        lost.alembic_config("sqlite://")
    beside = tmp_path / "src" / "pkg"  # the source tree: migrations/ beside the package
    (tmp_path / "src" / "migrations").mkdir(parents=True)
    (tmp_path / "src" / "migrations" / "env.py").write_text("")
    assert CommandLine(AppConfig("pkg"), beside).migrations_folder() == beside.parent / "migrations"


def test_createuser_and_seed(database_url: str) -> None:
    run(database_url, "migrate")
    made = run(database_url, "createuser", "--email", "ann@example.com", "--password", "long-pass")
    assert "created user 1 (ann@example.com)" in made.output
    short = run(database_url, "createuser", "--email", "b@example.com", "--password", "x", code=1)
    assert "Error: The password must have at least" in short.output
    seeded = run(database_url, "seed")
    assert "seeded 2 records; demo users sign in with the password 'demo-password'" in (
        seeded.output
    )
    assert "the database has records already: nothing seeded" in run(database_url, "seed").output
    assert "Error: Missing option '--email'" in run(database_url, "createuser", code=2).output


def test_recompute_and_migrate_after_an_upgrade(database_url: str) -> None:
    """``recompute`` refreshes the rollups (this app has none); ``migrate`` does it after an
    upgrade, and only then."""
    COMMANDS.run_migrations(database_url, "0001")
    assert COMMANDS.current_revision(database_url) == "0001"
    assert "database is up to date" in run(database_url, "migrate").output
    assert COMMANDS.current_revision(database_url) == "0002"
    done = run(database_url, "recompute", "--batch", "10")
    assert "recomputed the rollups of 0 records" in done.output
    assert (
        "Error: Invalid value for '--batch'"
        in run(database_url, "recompute", "--batch", "0", code=2).output
    )


def test_the_worker_command_delivers_the_outbox(database_url: str) -> None:
    run(database_url, "migrate")
    engine = sa.create_engine(database_url)
    try:
        with sa.orm.Session(engine) as session, session.begin():
            outbox.OUTBOX.enqueue(session, kind="note", payload={"n": 1})
    finally:
        engine.dispose()
    outbox.DELIVERED.clear()
    run("sqlite://", "worker", "--once", "--no-scheduler", "--database", database_url)
    assert [payload for _, payload in outbox.DELIVERED] == [{"n": 1}]
    assert (
        "Error: Invalid value for '--batch'"
        in run(database_url, "worker", "--batch", "0", code=2).output
    )
    refused = CliRunner().invoke(cli, ["worker", "--once"], env={"APP_ENV": "production"})
    assert refused.exit_code == 1 and "refusing to start: SECRET_KEY is not set" in str(
        refused.exception
    )


def fill(url: str) -> None:
    """Records with the values a backup must keep exactly: decimals, moments, JSON nulls."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(rt_crm.User), [{"id": 1, "email": "ann@example.com"}])
            connection.execute(
                sa.insert(rt_crm.Company), [{"id": 1, "name": "Acme", "owner_id": 1}]
            )
            connection.execute(
                sa.insert(rt_crm.Deal),
                [{"id": 7, "title": "Big", "amount": Decimal("1234567890.25"), "company_id": 1}],
            )
            connection.execute(
                sa.insert(rt_crm.OutboxMessage),
                [
                    {
                        "kind": "note",
                        "payload": {"to": None, "n": [1, 2]},
                        "idempotency_key": "k",
                        "next_attempt_at": dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
                    }
                ],
            )
    finally:
        engine.dispose()


def contents(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            deals = connection.execute(sa.select(rt_crm.Deal.id, rt_crm.Deal.amount)).all()
            messages = connection.execute(
                sa.select(rt_crm.OutboxMessage.payload, rt_crm.OutboxMessage.next_attempt_at)
            ).all()
    finally:
        engine.dispose()
    moments = [(p, m.replace(tzinfo=m.tzinfo or dt.UTC)) for p, m in messages]
    return {"deals": [tuple(d) for d in deals], "outbox": moments}


def test_backup_and_restore_round_trip(database_url: str, tmp_path: Path) -> None:
    file = tmp_path / "backup.jsonl.gz"
    refused = run(database_url, "backup", str(file), code=1)
    assert "Error: the database is not migrated (run migrate first)" in refused.output
    run(database_url, "migrate")
    fill(database_url)
    wrote = run(database_url, "backup", str(file))
    assert f"tables to {file}" in wrote.output and "wrote 4 rows of" in wrote.output
    expected = contents(database_url)
    assert expected["deals"] == [(7, Decimal("1234567890.25"))]
    again = run(database_url, "restore", str(file), code=1)
    assert "the database is not empty (rows in companies, crm_outbox, deals, users)" in again.output
    restored = run(database_url, "restore", "--force", str(file))
    assert "restored 4 rows of" in restored.output
    assert contents(database_url) == expected


def test_a_sqlite_backup_restores_into_postgresql(tmp_path: Path, postgres: sa.Engine) -> None:
    source = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    run(source, "migrate")
    fill(source)
    file = tmp_path / "backup.jsonl"
    run(source, "backup", str(file))
    with postgres.connect() as connection:
        schema = connection.scalar(sa.text("SELECT current_schema()"))
    target = (
        f"{postgres.url.render_as_string(hide_password=False)}?options=-csearch_path%3D{schema}"
    )
    run(target, "restore", str(file))
    assert contents(target) == contents(source)
    engine = sa.create_engine(target)
    try:
        with engine.begin() as connection:  # the id sequences moved past the restored ids
            new = connection.execute(
                sa.insert(rt_crm.Deal).values(title="Next").returning(rt_crm.Deal.id)
            ).scalar()
    finally:
        engine.dispose()
    assert new == 8


def test_serve_shares_one_metrics_folder_between_its_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with shared_metrics(1):
        assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ  # one process keeps its own
    with shared_metrics(2):
        made = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        assert made.is_dir() and not any(made.iterdir())
    assert not made.exists() and "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"an earlier run")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(given))
    with shared_metrics(1):
        assert not any(given.iterdir())
