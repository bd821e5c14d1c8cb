"""A large import runs in the worker, batch by batch; a worker SIGKILLed mid-import is followed
by another that goes on from the last committed batch: every row exactly once.

The upload is stored and queued by the runtime's own import code (``imports.store``,
``import_jobs.queue``) as the import page does, in a snippet of the generated app; then real
``worker`` processes import it (small batches, a short lease), on SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import time
from typing import Any

import sqlalchemy as sa

from tests.migrations.apptools import engine_for
from tests.worker.conftest import PACKAGE, Apps

ROWS = 3_000  # data rows of the file: 60 batches, killed after 10 or more
BAD_EVERY = 150  # every 150th row has no name: it fails, with its problem
BATCH = "50"
LEASE = "2"  # seconds before the killed worker's import is taken over

QUEUE = f"""
import json
import sqlalchemy as sa
from crmgen_runtime.db import Database
from crmgen_runtime.spreadsheets import ImportLimits, Table
from crmgen_runtime.web import import_jobs, imports
from {PACKAGE}.settings import load_settings
from {PACKAGE}.web.core import SITE

db = Database(load_settings().database_url)
user = db.engine.connect().execute(
    sa.text("SELECT id FROM users WHERE email = 'admin@relay.example'")
).scalar_one()
rows = [
    (line, [None if (line - 1) % {BAD_EVERY} == 0 else f"Person {{line:05d}}", "note"])
    for line in range(2, {ROWS} + 2)
]
table = Table(["Name", "Note"], rows)
uploads, failures = imports.uploads_of(SITE.catalog), imports.failures_of(SITE.catalog)
limits = ImportLimits(rows={ROWS}, cells={ROWS} * 2)
upload = imports.store(db, uploads, failures, "owner", "contacts", "people.csv", table, limits)
job = {{"mapping": ["name", ""], "match": "", "locale": "en", "user_id": user, "ip": None}}
assert import_jobs.queue(db, uploads, upload, job, len(rows))
db.dispose()
print(json.dumps(upload))
"""


def state(url: str, upload: str) -> dict[str, Any]:
    """The import's progress and the contacts and failed rows in the database."""
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                sa.text(
                    "SELECT status, position, rows_done, rows_failed, rows_total "
                    "FROM crm_import_uploads WHERE id = :id"
                ),
                {"id": upload},
            ).one()
            names = connection.scalars(sa.text("SELECT name FROM contacts")).all()
            lines = connection.scalars(
                sa.text("SELECT line FROM crm_import_failures WHERE upload_id = :id"),
                {"id": upload},
            ).all()
    finally:
        engine.dispose()
    return {**row._asdict(), "names": names, "failed_lines": lines}


def wait_for(check: Any, timeout: float, what: str, apps: Apps) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout}s\n{apps.logs()}")


def test_a_worker_killed_mid_import_is_resumed_without_losing_or_repeating_a_row(
    apps: Apps, database: str
) -> None:
    apps.run(
        database,
        "createuser",
        "--email",
        "admin@relay.example",
        "--password",
        "a-long-enough-password-1",
        "--role",
        "admin",
    )
    upload = apps.python(database, QUEUE)
    settings = {"IMPORT_BATCH_ROWS": BATCH, "IMPORT_LEASE_SECONDS": LEASE}
    first = apps.start(database, "worker", "--poll", "0.2", log="first.log", **settings)
    wait_for(
        lambda: state(database, upload)["position"] >= 10 * int(BATCH),
        90,
        "the first worker should import some batches",
        apps,
    )
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    killed = state(database, upload)
    assert killed["status"] == "importing" and 0 < killed["position"] < ROWS, killed["position"]
    # the committed batches and nothing else: records, failures and progress go together
    assert len(killed["names"]) == killed["rows_done"]
    assert len(killed["failed_lines"]) == killed["rows_failed"]
    assert killed["rows_done"] + killed["rows_failed"] == killed["position"]

    second = apps.start(database, "worker", "--poll", "0.2", log="second.log", **settings)
    done = wait_for(
        lambda: (found := state(database, upload))["status"] == "done" and found,
        120,
        "the second worker should finish the import",
        apps,
    )
    assert apps.stop(second) == 0
    bad = {line for line in range(2, ROWS + 2) if (line - 1) % BAD_EVERY == 0}
    expected = sorted(f"Person {line:05d}" for line in range(2, ROWS + 2) if line not in bad)
    assert sorted(done["names"]) == expected  # every good row exactly once
    assert sorted(done["failed_lines"]) == sorted(bad)  # every bad row once, with its problem
    assert (done["position"], done["rows_done"], done["rows_failed"], done["rows_total"]) == (
        ROWS,
        ROWS - len(bad),
        len(bad),
        ROWS,
    )
    assert f"rows from row {killed['position']}" in apps.logs()  # the second went on there
