"""The generated app's command line: help, createuser, seed, backup and restore on both databases."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.generated_apps import GeneratedApps
from tests.migrations.apptools import engine_for, fresh_database, run_app, table_rows

PACKAGE = "every_crm"
COMMANDS = ("migrate", "serve", "createuser", "backup", "restore", "seed")


@pytest.fixture(scope="module")
def out(generated_apps: GeneratedApps, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``EVERYTHING`` (tests/render/specs.py): a copy of the shared app (the app runs in OUT)."""
    return generated_apps("every").copy_to(tmp_path_factory.mktemp("app") / "out")


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database(kind, tmp_path, "first")


@pytest.fixture
def second_database(kind: str, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database(kind, tmp_path, "second")


def test_help_of_every_command(out: Path) -> None:
    done = run_app(out, PACKAGE, "--help")
    for command in COMMANDS:
        assert command in done.stdout
    for command in COMMANDS:
        assert "Usage:" in run_app(out, PACKAGE, command, "--help").stdout


def test_createuser(out: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'users.sqlite3'}"
    run_app(out, PACKAGE, "migrate", url=url)
    run_app(
        out,
        PACKAGE,
        "createuser",
        "--email",
        "Ann@Example.com",
        "--password",
        "long-enough-1",
        "--role",
        "admin",
        "--role",
        "sales",
        "--name",
        "Ann",
        url=url,
    )
    rows = table_rows(url)
    assert [(u["email"], u["name"]) for u in rows["users"]] == [("ann@example.com", "Ann")]
    assert sorted(r["role"] for r in rows["crm_user_roles"]) == ["admin", "sales"]
    bad = run_app(
        out,
        PACKAGE,
        "createuser",
        "--email",
        "b@example.com",
        "--password",
        "long-enough-1",
        "--role",
        "nobody",
        url=url,
        check=False,
    )
    assert bad.returncode == 1 and "nobody" in bad.stderr and "Traceback" not in bad.stderr


def test_seed_then_backup_restore_round_trip(
    out: Path, database: str, second_database: str, tmp_path: Path
) -> None:
    run_app(out, PACKAGE, "migrate", url=database)
    run_app(out, PACKAGE, "seed", url=database)
    rows = table_rows(database)
    for table in (
        "users",
        "positions",
        "companies",
        "contacts",
        "tags",
        "passports",
        "crm_user_roles",
        "companies_partners",
        "contact_links",
        "contacts_tags",
    ):
        assert rows[table], f"seed left {table} empty"
    assert {"admin@demo.example", "sales@demo.example"} <= {u["email"] for u in rows["users"]}
    assert "nothing seeded" in run_app(out, PACKAGE, "seed", url=database).stderr
    assert table_rows(database) == rows

    engine = engine_for(database)
    with engine.begin() as connection:  # references that point forward: restored in a second pass
        connection.execute(sa.text("UPDATE companies SET parent_id = 5 WHERE id = 1"))
        connection.execute(sa.text("UPDATE contacts SET referrer_id = 4 WHERE id = 2"))
    engine.dispose()
    before = table_rows(database)

    backup = tmp_path / "backup.jsonl.gz"
    run_app(out, PACKAGE, "backup", str(backup), url=database)
    with gzip.open(backup, "rt", encoding="utf-8") as handle:
        header = json.loads(handle.readline())
    assert header["app"] == PACKAGE and header["revision"] == "0001"

    run_app(out, PACKAGE, "restore", str(backup), url=second_database)
    assert table_rows(second_database) == before

    refused = run_app(out, PACKAGE, "restore", str(backup), url=second_database, check=False)
    assert refused.returncode == 1 and "not empty" in refused.stderr
    run_app(out, PACKAGE, "restore", "--force", str(backup), url=second_database)
    assert table_rows(second_database) == before

    # ids keep counting after the restored ones (PostgreSQL sequences are reset)
    engine = engine_for(second_database)
    with engine.begin() as connection:
        new_id = connection.execute(
            sa.text("INSERT INTO tags (version, name) VALUES (1, 'after restore') RETURNING id")
        ).scalar()
    engine.dispose()
    assert new_id == max(t["id"] for t in before["tags"]) + 1


def test_restore_refuses_other_apps_and_newer_revisions(out: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.sqlite3'}"
    run_app(out, PACKAGE, "migrate", url=url)
    plain = tmp_path / "backup.jsonl"
    run_app(out, PACKAGE, "backup", str(plain), url=url)
    lines = plain.read_text(encoding="utf-8").splitlines(keepends=True)
    header = json.loads(lines[0])
    target = f"sqlite:///{tmp_path / 'two.sqlite3'}"
    for change, message in (({"app": "other_crm"}, "other_crm"), ({"revision": "9999"}, "newer")):
        edited = tmp_path / "edited.jsonl"
        edited.write_text(
            json.dumps({**header, **change}) + "\n" + "".join(lines[1:]), encoding="utf-8"
        )
        done = run_app(out, PACKAGE, "restore", str(edited), url=target, check=False)
        assert done.returncode == 1 and message in done.stderr, done.stderr


def test_serve_refuses_a_database_that_is_not_migrated(out: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    done = run_app(out, PACKAGE, "serve", "--port", "1", url=url, check=False)
    assert done.returncode == 1, done.stderr
    assert "migrate" in done.stderr and "Traceback" not in done.stderr
