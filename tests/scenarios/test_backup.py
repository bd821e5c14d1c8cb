"""The reference CRM's nightly backup, end to end, on SQLite and PostgreSQL.

``nightly_backup`` (``backup: {keep: 14, folder: backups/nightly}``) writes a backup file into
its folder (relative to the working folder) and keeps the newest 14; ``reference_crm restore``
of the newest file into an empty, migrated database gives back every row of every table.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import sqlalchemy as sa
from crmgen_runtime import ftsindex

from tests.backend.payloads import create, move
from tests.migrations.apptools import table_rows
from tests.scenarios.conftest import Scenario, table_counts


def _fill(s: Scenario) -> None:
    """Records of most entities, with links, many-to-many rows, audit entries and outbox rows."""
    models = s.gen.models
    for user in ("manager", "sales"):
        deal = create(s, "deals", full=True, user="manager", owner=s.users[user].id)
        create(
            s,
            "tasks",
            full=False,
            user="manager",
            title=f"Call about {deal['name']}",
            deal=deal["id"],
        )
        move(s, "deals", deal["id"], "proposal", "won")
    contacts = [
        create(s, "contacts", full=False, user="manager", full_name=f"Person {i}")["id"]
        for i in range(3)
    ]
    response = s.client.post(
        "/api/client_groups",
        json={"name": "Backup group", "members": contacts},
        headers=s.as_user("manager"),
    )
    assert response.status_code == 201, response.text
    create(s, "order_lines", full=True, user="manager")
    create(s, "leads", full=True, user="manager")
    create(s, "interactions", full=False, user="manager")
    assert (
        s.count(models.Invoice) == 2
        and s.count(models.CrmAuditEntry) > 0
        and s.count(models.CrmOutboxMessage) > 0
    )


def _search_is_right(s: Scenario, url: str) -> None:
    """SQLite: the restored database's FTS5 search tables hold what their tables hold."""
    columns = s.gen.models.SEARCH_COLUMNS
    with sa.create_engine(url, poolclass=sa.pool.NullPool).connect() as connection:
        for table, names in columns.items():
            fts = ftsindex.table_name(table, names)
            connection.exec_driver_sql(
                f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)"
            )
        fts = ftsindex.table_name("contacts", columns["contacts"])
        query = f"SELECT count(*) FROM {fts} WHERE {fts} MATCH ?"
        assert connection.exec_driver_sql(query, ('"person"',)).scalar() == 3


def test_nightly_backup_keeps_the_newest_and_restores_every_row(
    scenario: Scenario, tmp_path: Path
) -> None:
    s = scenario
    _fill(s)
    folder = tmp_path / "backups" / "nightly"
    folder.mkdir(parents=True)
    old = [
        folder / f"reference_crm-2020{month:02d}01-020000-000000.jsonl.gz" for month in range(1, 13)
    ]
    old += [folder / f"reference_crm-2021{month:02d}01-020000-000000.jsonl.gz" for month in (1, 2)]
    for path in old:
        path.write_bytes(b"an older backup")
    (folder / "notes.txt").write_text("not a backup: left alone")
    assert len(old) == 14

    s.run_scheduled("nightly_backup")  # from the working folder (tmp_path)
    s.run_scheduled("nightly_backup")

    kept = sorted(p.name for p in folder.glob("reference_crm-*.jsonl.gz"))
    new = [
        name for name in kept if not name.startswith(("reference_crm-2020", "reference_crm-2021"))
    ]
    assert len(kept) == 14 and len(new) == 2
    assert kept[:12] == sorted(p.name for p in old[2:])  # the two oldest went
    assert (folder / "notes.txt").exists()
    newest = folder / new[-1]
    with gzip.open(newest, "rt", encoding="utf-8") as lines:
        header = json.loads(lines.readline())
    assert header["format"] == "crmgen-backup" and header["app"] == "reference_crm"

    source = table_counts(s.url)
    assert source["deals"] == 2 and source["client_group_members"] == 3 and source["users"] >= 5
    for url in s.fresh_database("restored"):
        assert not any(table_counts(url).values())  # migrated, and empty
        s.app("restore", str(newest), "--database", url)
        assert table_counts(url) == source
        if s.dialect == "sqlite":  # same dialect, same driver: the very same values
            assert table_rows(url) == table_rows(s.url)
            _search_is_right(s, url)
        with sa.create_engine(url, poolclass=sa.pool.NullPool).connect() as connection:
            revision = connection.execute(
                sa.text("SELECT version_num FROM alembic_version")
            ).scalar_one()
        assert revision == header["revision"]
