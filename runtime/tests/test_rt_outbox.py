"""The outbox: enqueueing in the writer's transaction (one row per key) and its API (who may
read it, filters, pages, retrying), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from crmgen_runtime import outbox as outboxes
from crmgen_runtime.db import Database
from crmgen_runtime.errors import EXCEPTION_HANDLERS
from crmgen_runtime.principal import CurrentUser
from rt_app.outbox import OUTBOX
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

MOMENT = dt.datetime(2030, 5, 6, 7, 8, 9, tzinfo=dt.UTC)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    rt_crm.Base.metadata.create_all(database.engine)
    try:
        yield database
    finally:
        rt_crm.Base.metadata.drop_all(database.engine)
        database.dispose()


def rows(database: Database) -> list[Any]:
    with database.session() as session:
        return list(session.scalars(sa.select(rt_crm.OutboxMessage).order_by("id")))


def test_a_message_is_a_pending_row_of_the_writers_transaction(database: Database) -> None:
    payload = {"at": MOMENT, "day": MOMENT.date(), "amount": Decimal("1.50"), "tags": {"a"}}
    with database.session() as session:
        OUTBOX.enqueue(session, kind="note", payload=payload, key="k1")
    with pytest.raises(RuntimeError), database.session() as session:
        OUTBOX.enqueue(session, kind="note", payload={}, key="k2")
        raise RuntimeError("the writer fails: its message goes with it")
    [row] = rows(database)
    assert (row.kind, row.status, row.attempts, row.idempotency_key) == ("note", "pending", 0, "k1")
    assert row.payload == {
        "at": "2030-05-06T07:08:09+00:00",
        "day": "2030-05-06",
        "amount": "1.50",
        "tags": ["a"],
    }


def test_one_row_per_key_a_random_key_without_one_and_long_keys_hashed(
    database: Database,
) -> None:
    long = "x" * 300
    with database.session() as session:
        for key in ("same", "same", None, None, long):
            OUTBOX.enqueue(session, kind="note", payload={}, key=key)
    keys = [row.idempotency_key for row in rows(database)]
    assert keys[0] == "same" and len(keys) == 4
    assert keys[1].startswith("note:") and keys[2].startswith("note:") and keys[1] != keys[2]
    assert keys[3].startswith("sha256:") and len(keys[3]) == len("sha256:") + 64


def test_unknown_kinds_and_payloads_that_are_no_dict_are_refused(database: Database) -> None:
    with database.session() as session:
        with pytest.raises(ValueError, match="unknown outbox kind 'fax'"):
            OUTBOX.enqueue(session, kind="fax", payload={})
        with pytest.raises(TypeError, match="is a dict"):
            OUTBOX.enqueue(session, kind="note", payload=["x"])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="cannot carry a object"):
            OUTBOX.enqueue(session, kind="note", payload={"x": object()})
    assert rows(database) == []
    assert repr(OUTBOX) == "Outbox('rt_crm')"


def test_the_naive_moments_sqlite_gives_back_are_utc() -> None:
    assert outboxes.iso(MOMENT.replace(tzinfo=None)) == "2030-05-06T07:08:09+00:00"
    assert outboxes.iso(None) is None
    assert outboxes.json_default(MOMENT.replace(tzinfo=None)) == "2030-05-06T07:08:09+00:00"


class Principal:
    """Puts the user named by the ``x-user`` header on the request (as the auth middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", []))
        name = headers.get(b"x-user", b"").decode()
        users = {"admin": rt_crm.Crm.admin, "manager": rt_crm.person(6, "manager")}
        user: CurrentUser | None = users.get(name) or (rt_crm.Crm.ann if name == "sales" else None)
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    app = Starlette(
        routes=[Mount("/api", routes=OUTBOX.routes())],
        middleware=[Middleware(Principal)],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    )
    app.state.db = database
    with TestClient(app) as http:
        yield http


def fill(database: Database) -> None:
    with database.session() as session:
        OUTBOX.enqueue(session, kind="note", payload={"to": "a@example.com", "text": "secret"})
        OUTBOX.enqueue(
            session,
            kind="note",
            payload={"integration": "hook", "url": "https://user:pw@hook.example.com/p?token=1"},
        )
        OUTBOX.enqueue(session, kind="note", payload={"url": "relative/path"})
    with database.session() as session:
        first, second, _ = session.scalars(sa.select(rt_crm.OutboxMessage).order_by("id"))
        first.status, first.attempts, first.last_error = "dead", 8, "DeliveryError: down"
        second.status, second.sent_at = "sent", MOMENT


def test_only_superusers_and_audit_roles_read_the_outbox(
    client: TestClient, database: Database
) -> None:
    fill(database)
    assert client.get("/api/outbox").status_code == 401
    refused = client.get("/api/outbox", headers={"x-user": "sales"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert client.post("/api/outbox/1/retry", headers={"x-user": "sales"}).status_code == 403
    for reader in ("admin", "manager"):
        assert client.get("/api/outbox", headers={"x-user": reader}).json()["total"] == 3


def test_the_list_is_newest_first_with_filters_and_pages_and_never_the_text(
    client: TestClient, database: Database
) -> None:
    fill(database)
    admin = {"x-user": "admin"}
    page = client.get("/api/outbox", headers=admin).json()
    assert [i["id"] for i in page["items"]] == [3, 2, 1]
    assert (page["total"], page["limit"], page["offset"]) == (3, 50, 0)
    third, second, first = page["items"]
    assert first["summary"] == {"to": "a@example.com"} and "secret" not in str(first)
    assert second["summary"] == {"integration": "hook", "url": "https://hook.example.com"}
    assert third["summary"] == {"url": None}
    assert second["sent_at"] == "2030-05-06T07:08:09+00:00" and first["locked_until"] is None
    assert first["last_error"] == "DeliveryError: down" and first["attempts"] == 8
    dead = client.get("/api/outbox?status=dead", headers=admin).json()
    assert [i["id"] for i in dead["items"]] == [1]
    assert client.get("/api/outbox?kind=fax", headers=admin).json()["total"] == 0
    paged = client.get("/api/outbox?limit=1&offset=1", headers=admin).json()
    assert [i["id"] for i in paged["items"]] == [2] and paged["total"] == 3
    bad = client.get("/api/outbox?status=lost", headers=admin)
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"] == {"status": "status must be one of pending, sent, dead."}


def test_retrying_makes_a_dead_message_due_again_but_never_a_sent_one(
    client: TestClient, database: Database
) -> None:
    fill(database)
    admin = {"x-user": "admin"}
    retried = client.post("/api/outbox/1/retry", headers=admin)
    assert retried.status_code == 200
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    waiting = client.post("/api/outbox/3/retry", headers=admin).json()
    assert waiting["status"] == "pending"
    sent = client.post("/api/outbox/2/retry", headers=admin)
    assert sent.status_code == 409 and "send it twice" in sent.json()["error"]["message"]
    missing = client.post("/api/outbox/99/retry", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "There is no outbox message 99."
