"""``backup`` then ``restore`` gives back every column of every row exactly, on SQLite and on
PostgreSQL and across them (a SQLite backup restored into PostgreSQL and the other way round).

The app is ``tests/backend/exact.yaml``: its entries hold decimals at precision 18 and scales 0,
2 and 12, money, JSON (no value at all next to JSON's ``null``), dates, date-times with
microseconds, 64-bit integers, floats and times of day at their limits, booleans, text in
several scripts and a many-to-many list; users and roles come from the app's ``createuser``,
and sessions, sign-in attempts, the audit log and the outbox get a row each. Each database is
read back through the app's own models (in a subprocess), so values compare as the app sees
them whatever the storage (SQLite keeps exact decimals as whole units).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.generated_apps import GeneratedApps
from tests.migrations.apptools import app_python, app_rows, fresh_database, run_app

PACKAGE = "exact_crm"
KINDS = ("sqlite", "postgresql")


class Source(NamedTuple):
    url: str
    backup: Path


# Rows written through the app's models: the values no float, no time zone, no JSON library
# may change. ``sa.null()`` is a JSON column without a value, ``JSON.NULL`` JSON's null.
FILL = """
import datetime as dt
import os
from decimal import Decimal
import sqlalchemy as sa
from crmgen_runtime.db import Database
from exact_crm.models import CrmAuditEntry, Batch, Entry, CrmLoginAttempt, CrmOutboxMessage, CrmSession
database = Database(os.environ["DATABASE_URL"])
moment = dt.datetime(2024, 3, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
with database.session() as session:
    a, b = Batch(name="Ünïcode 批次 ✓"), Batch(name="b")
    session.add_all([a, b])
    session.flush()
    session.add_all([
        Entry(name="top", batch_id=a.id, stage="won", flag=True,
              wide=Decimal("9999999999999999.99"), whole=Decimal(10**18 - 1),
              fine=Decimal("999999.999999999999"), price=Decimal("9999999999.99"),
              small=Decimal("-99.50"), count=2**31 - 1, data={"deep": [1, None, "ß"], "n": 0.1},
              due=dt.date(2024, 2, 29), seen_at=moment, notes="line 1\\nстрока 2\\t🙂",
              tagged=[a, b], big=2**63 - 1, ratio=0.1, opens=dt.time(23, 59, 59)),
        Entry(name="bottom", wide=Decimal("-9999999999999999.99"), whole=Decimal(-(10**18) + 1),
              fine=Decimal("-0.000000000001"), price=Decimal("0.01"), small=Decimal("99.50"),
              count=-(2**31), data=sa.JSON.NULL, due=dt.date(1900, 1, 1),
              seen_at=dt.datetime(1970, 1, 1, tzinfo=dt.UTC), flag=False, notes="", tagged=[b],
              big=-(2**63), ratio=-1.7976931348623157e308, opens=dt.time(0, 0)),
        Entry(name="empty", data=sa.null()),
        Entry(name="list", data=[], stage=None, flag=None),
        Entry(name="text", data="just text",
              seen_at=dt.datetime(2024, 6, 1, 12, 0, 0, 1, tzinfo=dt.UTC)),
        CrmSession(token_hash="t" * 64, user_id=1, expires_at=moment, ip="::1"),
        CrmLoginAttempt(email="a@example.com", user_id=1, success=True, reason="ok", at=moment),
        CrmAuditEntry(user_id=1, entity="Entry", record_id=1, action="update",
                   changes={"wide": ["1.00", "9999999999999999.99"], "data": [None, {"k": None}]}),
        CrmOutboxMessage(kind="email", payload={"to": "a@example.com", "amount": "0.000000000001"},
                      idempotency_key="k-1"),
    ])
database.dispose()
print("null")
"""


@pytest.fixture(scope="module")
def out(generated_apps: GeneratedApps, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/backend/exact.yaml: a copy of the shared app (the app runs in OUT)."""
    return generated_apps("exact").copy_to(tmp_path_factory.mktemp("exact") / "out")


database = contextmanager(fresh_database)


@pytest.fixture(scope="module")
def filled(out: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Source]]:
    """A filled database of each kind and its backup file."""
    folder = tmp_path_factory.mktemp("backups")
    with ExitStack() as stack:
        sources = {}
        for kind in KINDS:
            url = stack.enter_context(database(kind, folder, f"source_{kind}"))
            run_app(out, PACKAGE, "migrate", url=url)
            run_app(out, PACKAGE, "createuser", "--email", "a@example.com", "--password",
                    "long-enough-1", "--role", "admin", url=url)  # fmt: skip
            app_python(out, FILL, url)
            sources[kind] = Source(url, folder / f"{kind}.jsonl.gz")
            run_app(out, PACKAGE, "backup", str(sources[kind].backup), url=url)
        yield sources


@pytest.mark.parametrize("source", KINDS)
@pytest.mark.parametrize("target", KINDS)
def test_restore_gives_back_every_value(
    out: Path, filled: dict[str, Source], source: str, target: str, tmp_path: Path
) -> None:
    with database(target, tmp_path, "target") as url:
        run_app(out, PACKAGE, "restore", str(filled[source].backup), url=url)
        before, after = app_rows(out, filled[source].url, url)
    for table in (
        "entries",
        "entries_tagged",
        "users",
        "crm_user_roles",
        "crm_sessions",
        "crm_audit_log",
    ):
        assert before[table], table
    for table, rows in before.items():
        assert after[table] == rows, table
    entries = {row["name"]: row for row in after["entries"]}
    assert entries["top"]["wide"] == "9999999999999999.99"
    assert entries["top"]["fine"] == "999999.999999999999"
    assert entries["bottom"]["fine"] == "-0.000000000001"
    assert entries["top"]["seen_at"] == "2024-03-31T23:59:59.999999+00:00"
    assert (entries["top"]["big"], entries["top"]["ratio"]) == (2**63 - 1, 0.1)
    assert (entries["bottom"]["big"], entries["bottom"]["ratio"]) == (
        -(2**63),
        -1.7976931348623157e308,
    )
    assert (entries["top"]["opens"], entries["bottom"]["opens"]) == ("23:59:59", "00:00:00")
    assert (entries["empty"]["data"], entries["empty"]["empty_data"]) == (None, True)
    assert (entries["bottom"]["data"], entries["bottom"]["empty_data"]) == (None, False)
    assert entries["list"]["data"] == [] and entries["text"]["data"] == "just text"
