"""The outbox worker against real loopback services, on SQLite and PostgreSQL.

Mail reaches an SMTP server, Telegram messages and signed webhooks reach an HTTP server; with
the SMTP server down messages wait (attempts and next_attempt_at grow) and afterwards each is
delivered once, also when a worker is SIGKILLed mid-batch; repeated failures dead-letter.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import signal
import time
from typing import Any

from tests.worker.conftest import (
    TELEGRAM_TOKEN,
    WEBHOOK_SECRET,
    Apps,
    HttpRecorder,
    SmtpServer,
    outbox_rows,
    wait_for,
)


def expected_message_id(key: str) -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}.outbox@relay.example>"


def mails(count: int, prefix: str = "mail") -> list[dict[str, Any]]:
    return [
        {
            "kind": "email",
            "key": f"{prefix}-{i}",
            "payload": {
                "to": f"user{i}@example.com",
                "subject": f"Hello {i}",
                "text": f"Body {i}",
                "integration": "mail",
            },
        }
        for i in range(count)
    ]


def services(apps: Apps, smtp: SmtpServer, http: HttpRecorder) -> None:
    apps.env.update(
        RELAY_SMTP_URL=smtp.url,
        RELAY_TELEGRAM_BASE=http.base + "/telegram",
        RELAY_WEBHOOK_URL=http.base + "/hooks/in",
    )


def test_mail_telegram_and_webhook_are_delivered(
    apps: Apps, database: str, smtp: SmtpServer, http: HttpRecorder
) -> None:
    services(apps, smtp, http)
    apps.enqueue(
        database,
        [
            {
                "kind": "email",
                "key": "welcome:1",
                "payload": {
                    "to": "Ann <ann@example.com>",
                    "subject": "Welcome, Ann",
                    "text": "Plain text",
                    "html": "<p>HTML</p>",
                    "integration": "mail",
                },
            },
            # the same key again (even with another payload) keeps the first message
            {
                "kind": "email",
                "key": "welcome:1",
                "payload": {"to": "x@example.com", "subject": "dup"},
            },
            # no integration named: the spec's only smtp integration
            {
                "kind": "email",
                "key": "reset:1",
                "payload": {"to": "bob@example.com", "subject": "Reset", "text": "link"},
            },
            {
                "kind": "telegram",
                "key": "tg:1",
                "payload": {"text": "Deal won", "integration": "bot"},
            },
            {
                "kind": "webhook",
                "key": "hook:1",
                "payload": {
                    "integration": "hooks",
                    "event": "deal.won",
                    "payload": {"id": 7, "amount": "10.50"},
                },
            },
        ],
    )
    assert len(outbox_rows(database)) == 4
    apps.run(database, "worker", "--once", "--no-scheduler")

    rows = outbox_rows(database)
    assert [(r["idempotency_key"], r["status"], r["attempts"]) for r in rows] == [
        ("welcome:1", "sent", 1),
        ("reset:1", "sent", 1),
        ("tg:1", "sent", 1),
        ("hook:1", "sent", 1),
    ]
    assert all(r["sent_at"] is not None and r["locked_until"] is None for r in rows)

    by_subject = {m["Subject"]: m for m in smtp.handler.messages}
    assert sorted(by_subject) == ["Reset", "Welcome, Ann"]
    welcome = by_subject["Welcome, Ann"]
    assert welcome["Message-ID"] == expected_message_id("welcome:1")
    assert welcome["From"] == "Relay CRM <crm@relay.example>"
    assert welcome["Reply-To"] == "sales@relay.example"
    assert welcome["To"] == "Ann <ann@example.com>"
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in welcome.walk()
        if not p.is_multipart()
    }
    assert (
        parts["text/plain"].strip() == "Plain text" and parts["text/html"].strip() == "<p>HTML</p>"
    )

    [(method, path, _, body)] = http.received("/telegram")
    assert (method, path) == ("POST", f"/telegram/bot{TELEGRAM_TOKEN}/sendMessage")
    assert json.loads(body) == {"chat_id": "42", "text": "Deal won"}

    [(method, path, headers, body)] = http.received("/hooks")
    assert (method, path) == ("POST", "/hooks/in")
    assert json.loads(body) == {"event": "deal.won", "payload": {"id": 7, "amount": "10.50"}}
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Signature"] == f"sha256={signature}"
    assert headers["X-Event"] == "deal.won"
    assert headers["Idempotency-Key"] == "hook:1"


def test_mail_waits_while_smtp_is_down_then_each_is_delivered_once(
    apps: Apps, database: str, smtp_down: SmtpServer
) -> None:
    apps.env.update(
        RELAY_SMTP_URL=smtp_down.url,
        OUTBOX_BACKOFF_SECONDS="0.2",
        OUTBOX_BACKOFF_MAX_SECONDS="0.5",
        OUTBOX_TIMEOUT_SECONDS="3",
    )
    apps.enqueue(database, mails(40))
    seen = []
    for _ in range(2):
        time.sleep(0.5)  # past the backoff
        apps.run(database, "worker", "--once", "--no-scheduler", "--batch", "100")
        seen.append(outbox_rows(database))
    first, second = seen
    assert {r["status"] for r in first + second} == {"pending"}
    assert {r["attempts"] for r in first} == {1} and {r["attempts"] for r in second} == {2}
    assert all(
        b["next_attempt_at"] > a["next_attempt_at"] for a, b in zip(first, second, strict=True)
    )
    assert all("Connection refused" in r["last_error"] for r in second)
    assert smtp_down.handler.messages == []

    smtp_down.start()
    workers = [
        apps.start(
            database, "worker", "--no-scheduler", "--poll", "0.1", "--batch", "5", log=f"w{i}.log"
        )
        for i in range(2)
    ]
    started = time.monotonic()
    wait_for(
        lambda: all(r["status"] == "sent" for r in outbox_rows(database)), 40, "every mail sent"
    )
    elapsed = time.monotonic() - started
    assert [apps.stop(w) for w in workers] == [0, 0], apps.logs()

    ids = smtp_down.handler.message_ids()
    assert collections.Counter(ids) == {expected_message_id(f"mail-{i}"): 1 for i in range(40)}
    rows = outbox_rows(database)
    assert {r["attempts"] for r in rows} == {3}
    assert all(r["last_error"] is None and r["claim_token"] is None for r in rows)
    print(f"40 mails delivered by 2 workers in {elapsed:.2f}s after the SMTP server came back")


def test_worker_killed_mid_batch_loses_nothing(apps: Apps, database: str, smtp: SmtpServer) -> None:
    apps.env.update(RELAY_SMTP_URL=smtp.url, OUTBOX_LEASE_SECONDS="2")
    smtp.handler.delay = 0.1  # a slow server: the worker is surely mid-batch when killed
    apps.enqueue(database, mails(30, "batch"))
    first = apps.start(
        database, "worker", "--no-scheduler", "--batch", "30", "--poll", "0.1", log="first.log"
    )
    wait_for(lambda: len(smtp.handler.messages) >= 5, 30, "5 mails delivered")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    rows = outbox_rows(database)
    leased = [r for r in rows if r["status"] == "pending" and r["locked_until"] is not None]
    assert leased, "the killed worker's batch should still be leased"
    killed_with = len(smtp.handler.messages)

    second = apps.start(database, "worker", "--no-scheduler", "--poll", "0.1", log="second.log")
    started = time.monotonic()
    wait_for(
        lambda: all(r["status"] == "sent" for r in outbox_rows(database)), 40, "every mail sent"
    )
    elapsed = time.monotonic() - started
    assert apps.stop(second) == 0, apps.logs()

    counts = collections.Counter(smtp.handler.message_ids())
    assert set(counts) == {expected_message_id(f"batch-{i}") for i in range(30)}  # no loss
    repeats = [mid for mid, n in counts.items() if n > 1]
    # At least once: only the message in flight when the worker died may arrive twice, and
    # its Message-ID lets the receiver drop the repeat.
    assert len(repeats) <= 1 and all(counts[mid] == 2 for mid in repeats)
    print(
        f"killed after {killed_with} mails with {len(leased)} leased; the restarted worker "
        f"finished in {elapsed:.2f}s (lease 2s); repeated deliveries: {len(repeats)}"
    )


def test_dead_letter_after_the_last_attempt_and_at_once_for_a_refusal(
    apps: Apps, database: str, smtp_down: SmtpServer, http: HttpRecorder
) -> None:
    http.statuses["/hooks/reject"] = 400
    apps.env.update(
        RELAY_SMTP_URL=smtp_down.url,
        RELAY_WEBHOOK_URL=http.base + "/hooks/reject",
        OUTBOX_MAX_ATTEMPTS="3",
        OUTBOX_BACKOFF_SECONDS="0",
    )
    apps.enqueue(
        database,
        [
            *mails(2, "doomed"),
            {
                "kind": "webhook",
                "key": "hook:bad",
                "payload": {"integration": "hooks", "event": "x.y", "payload": {}},
            },
        ],
    )
    states = []
    for _ in range(3):
        apps.run(database, "worker", "--once", "--no-scheduler")
        states.append(
            {r["idempotency_key"]: (r["status"], r["attempts"]) for r in outbox_rows(database)}
        )
    assert states[0] == {
        "doomed-0": ("pending", 1),
        "doomed-1": ("pending", 1),
        "hook:bad": ("dead", 1),
    }
    assert states[1]["doomed-0"] == ("pending", 2)
    assert states[2] == {"doomed-0": ("dead", 3), "doomed-1": ("dead", 3), "hook:bad": ("dead", 1)}
    rows = {r["idempotency_key"]: r for r in outbox_rows(database)}
    assert "HTTP 400" in rows["hook:bad"]["last_error"]
    assert "Connection refused" in rows["doomed-0"]["last_error"]
    # a dead message stays dead: another pass does not touch it
    apps.run(database, "worker", "--once", "--no-scheduler")
    assert {
        r["idempotency_key"]: (r["status"], r["attempts"]) for r in outbox_rows(database)
    } == states[2]
    assert len(http.received("/hooks")) == 1


def test_a_webhook_to_a_loopback_address_not_allowed_by_name_is_refused(
    apps: Apps, database: str, http: HttpRecorder
) -> None:
    # the loopback server is not allowed here: nothing reaches it, the message is dead at once
    apps.env.update(RELAY_WEBHOOK_URL=http.base + "/hooks/ssrf", OUTBOUND_ALLOW_HOSTS="")
    hook = {"integration": "hooks", "event": "x.y", "payload": {}}
    apps.enqueue(database, [{"kind": "webhook", "key": "hook:ssrf", "payload": hook}])
    apps.run(database, "worker", "--once", "--no-scheduler")
    [row] = [r for r in outbox_rows(database) if r["idempotency_key"] == "hook:ssrf"]
    assert (row["status"], row["attempts"]) == ("dead", 1)
    assert "127.0.0.1 is a loopback address" in row["last_error"]
    assert "app.allow_hosts" in row["last_error"]
    assert http.received("/hooks/ssrf") == []
