"""Processes end to end: a real uvicorn app and a real ``APP worker`` process, real services.

The reference CRM serves over HTTP; its processes run inside requests (the task rule, the
``win_deal`` endpoint); their messages wait in the outbox until ``python -m reference_crm
worker --once`` delivers them: mail to an aiosmtpd server on loopback, Telegram messages and
signed webhooks to a loopback HTTP server standing in for Telegram and the accounting system.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx2 as httpx
import pytest

from tests.e2e.conftest import Server, app_env, fresh_database, prepare, run, uvicorn_server
from tests.worker.conftest import HttpRecorder, SmtpServer

TIMEZONE = "Europe/Moscow"  # examples/crm/app.yaml
TOKEN = "777:e2e-bot-token"
SECRET = "e2e-webhook-secret"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest, crm_out: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Path]]:
    folder = tmp_path_factory.mktemp(f"processes_{request.param}")
    with fresh_database(request.param, folder) as url:
        users = prepare(crm_out, url, folder)
        with uvicorn_server(crm_out, url, folder) as base:
            yield Server(base, url, users), folder


@pytest.fixture
def services() -> Iterator[tuple[SmtpServer, HttpRecorder]]:
    smtp = SmtpServer()
    smtp.start()
    http = HttpRecorder()
    thread = threading.Thread(
        target=http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield smtp, http
    finally:
        smtp.stop()
        http.shutdown()
        http.server_close()
        thread.join(timeout=5)


def worker_once(
    crm_out: Path, server: Server, folder: Path, smtp: SmtpServer, http: HttpRecorder
) -> str:
    env = app_env(crm_out, server.url)
    env.update(
        SMTP_URL=smtp.url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_BASE_URL=http.base,
        ACCOUNTING_WEBHOOK_URL=f"{http.base}/accounting",
        ACCOUNTING_WEBHOOK_SECRET=SECRET,
        OUTBOUND_ALLOW_HOSTS="127.0.0.1",  # the loopback stand-in, allowed by name
    )
    args = [
        sys.executable,
        "-m",
        "reference_crm",
        "worker",
        "--once",
        "--no-scheduler",
        "--batch",
        "100",
    ]
    return run(args, env, folder, 120)


def test_task_rule_and_rollback_over_http(live: tuple[Server, Path]) -> None:
    server, _ = live
    with (
        server.client(server.token("seller1")) as seller,
        server.client(server.token("admin")) as admin,
    ):
        _task_rule(server, seller, admin)


def _task_rule(server: Server, seller: httpx.Client, admin: httpx.Client) -> None:
    me = seller.get("/api/auth/me").json()
    other = admin.get("/api/users", params={"email": server.users["seller2"]}).json()["items"][0]
    created = seller.post(
        "/api/tasks", json={"title": "Call back", "assignee": me["id"], "priority": "high"}
    )
    assert created.status_code == 201, created.text
    task = created.json()
    assert task["status"] == "new"
    today = dt.datetime.now(ZoneInfo(TIMEZONE)).date()  # the app's time zone decides "today"
    # high priority: due the day after it was created (which is today, or yesterday at midnight)
    assert task["deadline"] in ((today + dt.timedelta(days=1)).isoformat(), today.isoformat())
    before = admin.get("/api/tasks").json()["total"]
    refused = seller.post("/api/tasks", json={"title": "Yours now", "assignee": other["id"]})
    assert refused.status_code == 403, refused.text
    assert "manager" in refused.json()["error"]["message"].lower()
    assert admin.get("/api/tasks").json()["total"] == before  # the error left no row behind
    audit = admin.get("/api/audit", params={"entity": "Task"}).json()
    assert [e for e in audit["items"] if e["record_id"] == task["id"] and e["action"] == "create"]


def test_deal_won_and_mail_are_delivered_by_the_worker(
    live: tuple[Server, Path], crm_out: Path, services: tuple[SmtpServer, HttpRecorder]
) -> None:
    server, folder = live
    with (
        server.client(server.token("seller1")) as seller,
        server.client(server.token("admin")) as admin,
    ):
        _deal_won(server, folder, crm_out, services, seller, admin)


def _deal_won(
    server: Server,
    folder: Path,
    crm_out: Path,
    services: tuple[SmtpServer, HttpRecorder],
    seller: httpx.Client,
    admin: httpx.Client,
) -> None:
    smtp, http = services
    me = seller.get("/api/auth/me").json()
    patched = admin.patch(f"/api/users/{me['id']}", json={"telegram_chat": "4242"})
    assert patched.status_code == 200, patched.text
    deal = seller.post("/api/deals", json={"name": "Big fish", "amount": "1500.00"})
    assert deal.status_code == 201, deal.text
    offered = seller.patch(f"/api/deals/{deal.json()['id']}", json={"stage": "proposal"})
    assert offered.status_code == 200, offered.text
    # the pipeline lets only managers (and the admin) win a deal
    refused = seller.post(f"/api/deals/{deal.json()['id']}/win", json={"comment": "Mine"})
    assert refused.status_code == 403, refused.text
    won = admin.post(f"/api/deals/{deal.json()['id']}/win", json={"comment": "Signed today"})
    assert won.status_code == 200, won.text
    invoices = admin.get("/api/invoices", params={"deal": deal.json()["id"]}).json()
    assert invoices["total"] == 1 and invoices["items"][0]["total"] == "1500.00"
    with server.client() as anonymous:
        reset = anonymous.post("/api/auth/password-reset", json={"email": server.users["seller2"]})
    assert reset.status_code == 202
    pending = admin.get("/api/outbox", params={"status": "pending"}).json()
    assert {"telegram", "webhook", "email"} <= {m["kind"] for m in pending["items"]}, pending

    worker_once(crm_out, server, folder, smtp, http)

    sent = http.received(f"/bot{TOKEN}/sendMessage")
    assert len(sent) == 1, http.requests
    message = json.loads(sent[0][3])
    assert message["chat_id"] in ("4242", 4242) and "Big fish" in message["text"]
    hooks = [r for r in http.received("/accounting") if r[2].get("X-Event") == "deal.won"]
    assert len(hooks) == 1
    _, _, headers, body = hooks[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Signature"] == expected
    mails = [m for m in smtp.handler.messages if m["To"] == server.users["seller2"]]
    assert len(mails) == 1
    left = admin.get("/api/outbox", params={"status": "pending"}).json()
    assert not [m for m in left["items"] if m["kind"] in ("telegram", "webhook")], left
