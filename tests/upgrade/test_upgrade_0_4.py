"""Upgrading an app of release 0.4.0, whose system tables had no prefix, keeps their rows.

``previous_0_4/`` is what commit 33d7e37 (0.4.0) generated for ``examples/crm`` and a deployed app
keeps (see README.md). Release 0.5.0 moved the app's own tables under the ``crm_`` prefix
(``sessions`` -> ``crm_sessions``...): the revision today's crmgen writes over that folder renames
each one (``op.rename_table``; on PostgreSQL its primary key and id sequence too), so every row of
every system table survives, and the entity tables are untouched. One database per kind, shared.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from crmgen_runtime.tables import RENAMED_FROM

from crmgen.generate import generate
from tests.migrations.apptools import app_python, app_rows, engine_for, run_app, schema_diff
from tests.upgrade.test_upgrade import KINDS, PACKAGE, ROOT, database, migrate_to

RELEASE = Path(__file__).parent / "previous_0_4"
AT = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
LATER = dt.datetime(2025, 3, 5, 5, 6, 7, tzinfo=dt.UTC)
JSON_COLUMNS = {"changes", "payload", "hits"}

# 0.4.0's tables and rows, as its app wrote them (its table names)
OLD_ROWS: dict[str, list[dict[str, Any]]] = {
    "users": [
        {"id": 1, "email": "old@demo.example", "name": "Old", "active": True, "failed_logins": 2, "created_at": AT, "updated_at": AT},
        {"id": 2, "email": "two@demo.example", "name": "Two", "active": False, "failed_logins": 0, "created_at": AT, "updated_at": AT},
    ],
    "user_roles": [{"user_id": 1, "role": "admin"}, {"user_id": 1, "role": "sales"}, {"user_id": 2, "role": "manager"}],
    "sessions": [
        {"id": 7, "token_hash": "a" * 64, "user_id": 1, "created_at": AT, "expires_at": LATER, "revoked_at": None, "ip": "10.0.0.1", "user_agent": "Firefox"},
        {"id": 8, "token_hash": "b" * 64, "user_id": 2, "created_at": AT, "expires_at": LATER, "revoked_at": LATER, "ip": None, "user_agent": None},
    ],
    "login_attempts": [{"id": 3, "at": AT, "email": "old@demo.example", "user_id": 1, "ip": "::1", "user_agent": "curl", "success": False, "reason": "bad_password"}],
    "password_resets": [{"id": 4, "token_hash": "c" * 64, "user_id": 1, "created_at": AT, "expires_at": LATER, "used_at": None}],
    "email_changes": [{"id": 5, "token_hash": "d" * 64, "user_id": 2, "new_email": "new@demo.example", "created_at": AT, "expires_at": LATER, "used_at": LATER}],
    "rate_limits": [{"key": "reset:" + "e" * 64, "hits": [AT.isoformat(), LATER.isoformat()], "updated_at": AT}],
    "audit_log": [
        {"id": 11, "at": AT, "user_id": 1, "user_email": "old@demo.example", "ip": "10.0.0.1", "entity": "Deal", "record_id": 1, "action": "update", "changes": {"stage": ["lead", "won"], "name": ["Ромашка", None]}},
        {"id": 12, "at": LATER, "user_id": None, "user_email": "gone@demo.example", "ip": None, "entity": "Company", "record_id": 3_000_000_000, "action": "delete", "changes": {}},
    ],
    "outbox": [{"id": 21, "kind": "email", "payload": {"to": ["a@b.example"], "subject": "Hi «you»"}, "status": "dead", "attempts": 5, "next_attempt_at": AT, "idempotency_key": "deal-1-won", "created_at": AT, "last_error": "550 no such user", "locked_until": None, "claim_token": None, "sent_at": None}],
    "schedule_runs": [{"id": 31, "process": "task_reminders", "tick": AT, "started_at": AT, "finished_at": LATER, "status": "ok", "worker": "host:12", "error": None}],
    "import_uploads": [{"id": "tok_" + "x" * 20, "owner": "f" * 64, "entity": "companies", "file_name": "companies.csv", "created_at": AT, "status": "done", "table_json": None, "result_json": '{"imported": 3}'}],
    "companies": [{"id": 1, "version": 3, "name": "Ромашка", "created_at": AT, "updated_at": AT}],
    "deals": [{"id": 1, "version": 1, "name": "Big", "stage": "won", "company_id": 1, "owner_id": 1, "created_at": AT, "updated_at": AT}],
}  # fmt: skip
NEW_NAME = {old: new for new, old in RENAMED_FROM.items()}


@dataclass
class Upgraded:
    kind: str
    out: Path
    url: str
    rows: dict[str, list[dict[str, Any]]]


def _column(name: str, value: Any) -> sa.ColumnClause[Any]:
    if name in JSON_COLUMNS:
        return sa.column(name, sa.JSON())
    if isinstance(value, dt.datetime):
        return sa.column(name, sa.DateTime(timezone=True))
    return sa.column(name)


def _fill(url: str) -> None:
    engine = engine_for(url)
    try:
        with engine.begin() as connection:
            for table, rows in OLD_ROWS.items():
                for row in rows:
                    target = sa.table(table, *(_column(n, v) for n, v in row.items()))
                    connection.execute(sa.insert(target).values(row))
            if engine.dialect.name == "postgresql":  # as the old app left its sequences
                for table, rows in OLD_ROWS.items():
                    if isinstance(rows[0].get("id"), int):
                        connection.execute(
                            sa.text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :n)"),
                            {"t": table, "n": max(r["id"] for r in rows)},
                        )
    finally:
        engine.dispose()


def _shown(value: Any) -> Any:
    return value.astimezone(dt.UTC).isoformat() if isinstance(value, dt.datetime) else value


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("upgrade_0_4") / "crm"
    shutil.copytree(RELEASE, target)
    generate(ROOT / "examples" / "crm", target)
    return target


@pytest.fixture(scope="module", params=KINDS)
def upgraded(
    request: pytest.FixtureRequest, out: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Upgraded]:
    with database(request.param, tmp_path_factory.mktemp("db_0_4"), "old04") as url:
        migrate_to(out, url, "0001")
        _fill(url)
        run_app(out, PACKAGE, "migrate", url=url)
        (rows,) = app_rows(out, url)
        yield Upgraded(request.param, out, url, rows)


def test_the_revision_renames_every_system_table(out: Path) -> None:
    (revision,) = (out / "migrations" / "versions").glob("0002_*.py")
    text = revision.read_text(encoding="utf-8")
    for new, old in RENAMED_FROM.items():
        assert f'op.rename_table("{old}", "{new}")' in text, old
    assert "op.drop_table(" not in text.split("def downgrade")[0]


def test_every_row_of_the_system_tables_survives_under_its_new_name(upgraded: Upgraded) -> None:
    for table, rows in OLD_ROWS.items():
        found = upgraded.rows[NEW_NAME.get(table, table)]
        key = "key" if table == "rate_limits" else ("role" if table == "user_roles" else "id")
        by_key = {(row.get("user_id"), row[key]): row for row in found}
        for row in rows:
            stored = by_key[(row.get("user_id"), row[key])]
            assert {n: stored[n] for n in row} == {n: _shown(v) for n, v in row.items()}, table


def test_the_old_tables_are_gone_and_the_schema_matches(upgraded: Upgraded) -> None:
    engine = engine_for(upgraded.url)
    try:
        names = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert not names & set(RENAMED_FROM.values())
    assert set(RENAMED_FROM) <= names
    assert schema_diff(upgraded.out, upgraded.url) == []


def test_new_rows_continue_the_old_ids(upgraded: Upgraded) -> None:
    """PostgreSQL: the renamed sequence goes on after the old ids (no duplicate key)."""
    code = (
        "import json, os\n"
        "import sqlalchemy as sa\n"
        f"from {PACKAGE} import models\n"
        "engine = sa.create_engine(os.environ['DATABASE_URL'])\n"
        "with engine.begin() as c:\n"
        "    new = c.execute(sa.insert(models.CrmAuditEntry).values(entity='Deal', record_id=2,"
        " action='create', changes={}).returning(models.CrmAuditEntry.id)).scalar()\n"
        "    names = []\n"
        "    if engine.dialect.name == 'postgresql':\n"
        "        names = sorted(c.execute(sa.text(\"SELECT relname FROM pg_class WHERE relkind = 'S'"
        " AND relname LIKE '%audit_log%'\")).scalars())\n"
        "print(json.dumps([new, names]))\n"
    )
    new_id, sequences = app_python(upgraded.out, code, upgraded.url)
    assert new_id > 12
    if upgraded.kind == "postgresql":
        assert sequences == ["crm_audit_log_id_seq"]


def test_an_old_upload_gets_the_import_progress_columns(upgraded: Upgraded) -> None:
    """0.5.0 runs imports as jobs: the upload table gains progress columns (at their defaults
    for an old row) and the failed rows get a table of their own (empty)."""
    (upload,) = upgraded.rows["crm_import_uploads"]
    progress = ("rows_total", "position", "rows_done", "rows_updated", "rows_failed")
    assert {name: upload[name] for name in progress} == dict.fromkeys(progress, 0)
    moments = ("job_json", "started_at", "updated_at", "locked_until", "claim_token")
    assert {name: upload[name] for name in moments} == dict.fromkeys(moments)
    assert upgraded.rows["crm_import_failures"] == []


HEARTBEAT = f"""
import json, os
from crmgen_runtime.db import Database
from crmgen_runtime.heartbeats import Heartbeat
from crmgen_runtime.metrics import AppMetrics
from prometheus_client import generate_latest
from {PACKAGE}.resources import CATALOG
db = Database(os.environ["DATABASE_URL"])
beat = Heartbeat(CATALOG, db)
beat.beat()
text = generate_latest(AppMetrics(CATALOG, db).scrape_registry()).decode()
beat.end()
db.dispose()
print(json.dumps([line for line in text.splitlines() if line.startswith("crm_workers_alive")]))
"""


def test_the_workers_heartbeats_get_a_table_of_their_own(upgraded: Upgraded) -> None:
    """0.5.0's workers keep a heartbeat: the upgrade creates ``crm_worker_heartbeats`` (empty),
    where the upgraded app's worker writes and ``/metrics`` counts it."""
    assert upgraded.rows["crm_worker_heartbeats"] == []
    assert app_python(upgraded.out, HEARTBEAT, upgraded.url) == ["crm_workers_alive 1.0"]


def test_two_factor_sign_in_gets_a_table_of_its_own(upgraded: Upgraded) -> None:
    """0.5.0 signs in with a second factor: the upgrade creates ``crm_two_factor`` (empty), and
    every user of 0.4 still signs in with the password alone (nobody has turned it on)."""
    assert upgraded.rows["crm_two_factor"] == []


NOTIFY = f"""
import json, os
import sqlalchemy as sa
from crmgen_runtime import notifications
from crmgen_runtime.db import Database
from {PACKAGE}.resources import CATALOG
db = Database(os.environ["DATABASE_URL"])
with db.session() as session:
    told = notifications.notify(session, CATALOG, users=[1], kind="process", message="hello")
print(json.dumps([told, notifications.unread_count(db, CATALOG, 1)]))
db.dispose()
"""


def test_notifications_and_comments_get_their_tables(upgraded: Upgraded) -> None:
    """0.5.0's reference CRM notifies and takes comments: the upgrade creates
    ``crm_notifications``, ``crm_notification_settings`` and ``crm_comments`` (empty), where the
    upgraded app writes."""
    for table in ("crm_notifications", "crm_notification_settings", "crm_comments"):
        assert upgraded.rows[table] == [], table
    assert app_python(upgraded.out, NOTIFY, upgraded.url) == [[1], 1]


SAVED_VIEW = f"""
import json, os
from crmgen_runtime import views
from crmgen_runtime.db import Database
from crmgen_runtime.principal import CurrentUser
from {PACKAGE}.resources import CATALOG
db = Database(os.environ["DATABASE_URL"])
old = CurrentUser(1, "old@demo.example", "Old", frozenset({{"manager"}}))
made = views.create(db, CATALOG, old, {{"entity": "deals", "name": "Won", "filters": {{"stage": "won"}}}})
print(json.dumps([made["name"], made["filters"], len(views.visible(db, CATALOG, old, "deals"))]))
db.dispose()
"""


def test_saved_views_get_a_table_of_their_own(upgraded: Upgraded) -> None:
    """0.5.0's users save views of lists: the upgrade creates ``crm_saved_views`` (empty), where
    the upgraded app keeps an old user's view."""
    assert upgraded.rows["crm_saved_views"] == []
    assert app_python(upgraded.out, SAVED_VIEW, upgraded.url) == ["Won", {"stage": "won"}, 1]


API_KEY = f"""
import json, os
from crmgen_runtime import api_keys
from crmgen_runtime.db import Database
from crmgen_runtime.principal import CurrentUser
from {PACKAGE}.resources import CATALOG
db = Database(os.environ["DATABASE_URL"])
old = CurrentUser(1, "old@demo.example", "Old", frozenset({{"admin"}}), superuser=True)
made = api_keys.create(db, CATALOG, old, {{"name": "Telephony", "role": "sales"}}, None)
user = api_keys.KeyLookup(CATALOG, db, made["key"])()
print(json.dumps([made["role"], user.email, sorted(user.roles), len(api_keys.listed(db, CATALOG))]))
db.dispose()
"""


def test_api_keys_get_a_table_of_their_own(upgraded: Upgraded) -> None:
    """Issue 15 adds API keys: the upgrade creates ``crm_api_keys`` (empty), where an old
    superuser makes a key that then signs in as its service user."""
    assert upgraded.rows["crm_api_keys"] == []
    found = app_python(upgraded.out, API_KEY, upgraded.url)
    assert found[:3] == ["sales", found[1], ["sales"]] and found[3] == 1
    assert found[1].endswith("@api-keys.invalid")


MAIL_LOG = f"""
import json, os
from crmgen_runtime.db import Database
from {PACKAGE}.mail import MAIL
db = Database(os.environ["DATABASE_URL"])
row = dict(entity="Contact", record_id=1, direction="in", sender="a@b.example",
           subject="Hi", body="Text", message_id="<m1@b.example>")
added = []
for _ in range(2):
    with db.session() as session:
        added.append(MAIL.insert(session, [row]))
db.dispose()
print(json.dumps(added))
"""


def test_the_mail_log_gets_its_tables(upgraded: Upgraded) -> None:
    """0.5.0 logs e-mail on records (the reference CRM has email_templates and an imap
    integration): the upgrade creates ``crm_emails`` and ``crm_mailboxes`` (empty), where the
    upgraded app logs a message once by its Message-ID."""
    assert upgraded.rows["crm_emails"] == [] and upgraded.rows["crm_mailboxes"] == []
    assert app_python(upgraded.out, MAIL_LOG, upgraded.url) == [1, 0]


INBOUND_CALL = f"""
import hashlib, hmac, json, os
import sqlalchemy as sa
from crmgen_runtime import auth
from crmgen_runtime.db import Database
from {PACKAGE} import models, processes
from {PACKAGE}.resources import CATALOG
os.environ["TELEPHONY_WEBHOOK_SECRET"] = "upgrade-secret"
db = Database(os.environ["DATABASE_URL"])
with db.session() as session:
    auth.create_user(CATALOG, session, email="telephony@example.com", password="a long telephony password", roles=[])
body = json.dumps({{"call_id": "c-1", "caller": "8 912 345-67-89", "callee": "+7 916 000 00 00",
                   "direction": "inbound", "duration": 12}}).encode()
signature = "sha256=" + hmac.new(b"upgrade-secret", body, hashlib.sha256).hexdigest()
headers = {{"content-type": "application/json", "x-signature": signature}}
answers = [processes.INBOUND.take(db, "telephony", body, headers)["duplicate"] for _ in range(2)]
with db.session() as session:
    calls = session.execute(sa.select(models.Interaction.phone, models.Interaction.duration,
                                      models.Interaction.direction)).all()
db.dispose()
print(json.dumps([answers, [list(row) for row in calls]]))
"""


def test_inbound_webhooks_get_their_table_and_calls_their_fields(upgraded: Upgraded) -> None:
    """Issue 15 adds inbound webhooks: the upgrade creates ``crm_inbound_events`` (empty) and the
    interactions' call fields (direction, duration, phone, recording: empty on old rows), and
    the upgraded app logs a signed call once, however often it is sent."""
    assert upgraded.rows["crm_inbound_events"] == []
    found = app_python(upgraded.out, INBOUND_CALL, upgraded.url)
    assert found == [[False, True], [["+79123456789", 12, "inbound"]]]
