"""The reference CRM's messaging scenarios, end to end, on SQLite and PostgreSQL.

Each scenario sets up records, lets a process of examples/crm/processes.yaml decide (a cron tick
through the scheduler, a scheduled run, a custom endpoint, an update trigger), checks the rows
it put in the outbox, then runs ``python -m reference_crm worker --once`` in a subprocess and
checks what reached the loopback SMTP server and the HTTP server standing in for Telegram, the
SMS gateway and the accounting webhook. The last scenarios make a process fail halfway and
check that none of its writes stayed.
"""

from __future__ import annotations

import datetime as dt
import email.message
import hashlib
import hmac
import json
from collections import Counter
from email.header import decode_header, make_header
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from crmgen_runtime.scheduler import Scheduler

from tests.app_settings import app_settings_env
from tests.backend.payloads import create, move
from tests.scenarios.conftest import (
    ACCOUNTING_SECRET,
    SMS_TOKEN,
    TELEGRAM_TOKEN,
    HttpRecorder,
    Scenario,
    SmtpServer,
)

UTC = dt.UTC


class FixedClock:
    """The scheduler's clock, stopped at one moment."""

    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment.astimezone(UTC)

    def now(self) -> dt.datetime:
        return self.moment


def header(message: email.message.Message, name: str) -> str:
    return str(make_header(decode_header(str(message[name]))))


def body(message: email.message.Message) -> str:
    parts = [p for p in message.walk() if not p.is_multipart()]
    return "".join(
        p.get_payload(decode=True).decode(p.get_content_charset() or "utf-8") for p in parts
    )


def mails(smtp: SmtpServer) -> list[email.message.Message]:
    with smtp.handler.lock:
        return list(smtp.handler.messages)


def expected_message_id(key: str, domain: str = "example.com") -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}.outbox@{domain}>"


def scheduler_at(s: Scenario, moment: dt.datetime, started: dt.datetime, name: str) -> Any:
    """A scheduler of the app (as a worker named ``name`` would run it) whose clock reads
    ``moment`` and that started at ``started``."""
    settings = s.gen.app.startup_settings(app_settings_env(DATABASE_URL=s.url))
    scheduler = Scheduler(
        s.gen.resources.CATALOG, s.database, settings, processes=s.processes.EVENTS, name=name
    )
    scheduler.clock = FixedClock(moment)
    scheduler.started = started.astimezone(UTC)
    return scheduler


# the app's own scheduled jobs (the notification digest, reading mailboxes), beside the spec's
SYSTEM_JOBS = ("crm:", "imap.")


def spec_runs(runs: list[Any]) -> list[Any]:
    """``runs`` (of ``Scheduler.check`` or ``schedule_runs``) of the spec's processes only."""
    return [run for run in runs if not run[0].startswith(SYSTEM_JOBS)]


def schedule_runs(s: Scenario) -> list[tuple[str, str, str | None]]:
    table = s.gen.models.CrmScheduleRun.__table__
    rows = s.rows(sa.select(table.c.process, table.c.status, table.c.error).order_by(table.c.id))
    return spec_runs([tuple(r) for r in rows])


def set_user(s: Scenario, name: str, **values: Any) -> None:
    models = s.gen.models
    s.execute(sa.update(models.User).where(models.User.id == s.users[name].id).values(**values))


def by_status(s: Scenario) -> Counter[str]:
    return Counter(row["status"] for row in s.outbox())


# --- (b) task reminders ----------------------------------------------------------------------


def test_reminders_for_tasks_due_tomorrow_reach_the_assignees(
    scenario: Scenario, smtp: SmtpServer, http: HttpRecorder
) -> None:
    s, models = scenario, scenario.gen.models
    today = s.today()
    tomorrow = today + dt.timedelta(days=1)
    set_user(s, "sales", phone="+7 900 555-01-02")
    set_user(s, "manager", phone=None)
    tasks = [
        # title, assignee, status, priority, deadline
        ("Call Ivanov", "sales", "new", "high", tomorrow),  # mail and a text message
        ("Send the offer", "sales2", "in_progress", "normal", tomorrow),  # mail
        ("Sign the contract", "manager", "new", "high", tomorrow),  # mail; no phone: no text
        ("Already done", "sales", "done", "high", tomorrow),
        ("Cancelled", "sales2", "cancelled", "high", tomorrow),
        ("Due today", "sales", "new", "high", today),
        ("Due the day after", "sales2", "new", "normal", tomorrow + dt.timedelta(days=1)),
        ("Overdue", "sales", "in_progress", "high", today - dt.timedelta(days=1)),
        ("No deadline", "sales", "new", "high", None),
    ]
    for title, assignee, status, priority, deadline in tasks:
        s.execute(
            sa.insert(models.Task).values(
                title=title,
                assignee_id=s.users[assignee].id,
                status=status,
                priority=priority,
                deadline=deadline,
            )
        )

    # The cron tick "0 8 * * *" in Moscow time, seen by the scheduler a few seconds after it.
    eight = dt.datetime.combine(today, dt.time(8, 0), ZoneInfo(s.gen.settings.TIMEZONE))
    assert s.processes.EVENTS.schedules["task_reminders"].cron == "0 8 * * *"
    first = scheduler_at(
        s, eight + dt.timedelta(seconds=5), eight - dt.timedelta(minutes=1), "host-a:1"
    )
    assert spec_runs(first.check()) == [("task_reminders", eight.astimezone(UTC))]
    assert spec_runs(first.check()) == []  # the same tick is not run twice
    other = scheduler_at(
        s, eight + dt.timedelta(seconds=7), eight - dt.timedelta(minutes=1), "host-b:2"
    )
    assert spec_runs(other.check()) == []  # nor by another worker on the same database
    assert schedule_runs(s) == [("task_reminders", "ok", None)]

    rows = s.outbox()
    assert Counter(r["kind"] for r in rows) == {"email": 3, "sms": 1}
    assert {r["status"] for r in rows} == {"pending"}
    emails = {r["payload"]["to"]: r["payload"] for r in rows if r["kind"] == "email"}
    assert set(emails) == {"sales@example.com", "sales2@example.com", "manager@example.com"}
    assert emails["sales@example.com"]["subject"] == 'Reminder: "Call Ivanov" is due tomorrow'
    assert emails["sales2@example.com"]["subject"] == 'Reminder: "Send the offer" is due tomorrow'
    assert (
        emails["manager@example.com"]["subject"] == 'Reminder: "Sign the contract" is due tomorrow'
    )
    [sms] = [r["payload"] for r in rows if r["kind"] == "sms"]
    assert sms == {
        "to": "+7 900 555-01-02",
        "text": "Due tomorrow: Call Ivanov",
        "integration": "sms_gateway",
    }

    s.worker_once(**s.services_env(smtp, http))

    received = mails(smtp)
    assert sorted((header(m, "To"), header(m, "Subject")) for m in received) == [
        ("manager@example.com", 'Reminder: "Sign the contract" is due tomorrow'),
        ("sales2@example.com", 'Reminder: "Send the offer" is due tomorrow'),
        ("sales@example.com", 'Reminder: "Call Ivanov" is due tomorrow'),
    ]
    to_sales = next(m for m in received if header(m, "To") == "sales@example.com")
    assert header(to_sales, "From") == "CRM <crm@example.com>"
    text = body(to_sales)
    assert (
        "Hello Sales," in text
        and f"is due on {tomorrow.isoformat()}" in text
        and "Priority: high" in text
    )
    [(method, _path, headers, raw)] = http.received("/sms/send")
    assert method == "POST" and headers["Authorization"] == f"Bearer {SMS_TOKEN}"
    assert json.loads(raw) == {
        "to": "+7 900 555-01-02",
        "text": "Due tomorrow: Call Ivanov",
        "sender": "CRM",
    }
    assert by_status(s) == {"sent": 4}


# --- (c) birthday greetings ------------------------------------------------------------------


def _frozen_today(monkeypatch: pytest.MonkeyPatch, s: Scenario, moment: dt.datetime) -> None:
    """The app's clock reads ``moment`` as the current time (its own time-zone logic runs)."""
    monkeypatch.setattr(s.gen.settings.CLOCK, "now", lambda: moment)


def test_birthday_greetings_go_to_key_contacts_born_today_in_moscow(
    scenario: Scenario, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = scenario

    def contact(name: str, born: str, is_key: bool, mail: str | None) -> dict[str, Any]:
        values = {"full_name": name, "birthday": born, "is_key": is_key, "email": mail}
        response = s.client.post("/api/contacts", json=values, headers=s.as_user("admin"))
        assert response.status_code == 201, response.text
        return response.json()

    contact("Anna Petrova", "1990-03-15", True, "anna@client.example")  # greeted
    contact("Boris Orlov", "1985-03-14", True, "boris@client.example")  # the UTC date, not Moscow's
    contact("Vera Sokolova", "1992-03-15", False, "vera@client.example")  # not a key contact
    contact("Gleb Titov", "1980-03-15", True, None)  # no address
    gone = contact("Dina Lebedeva", "1991-03-15", True, "dina@client.example")  # deleted
    assert (
        s.client.delete(f"/api/contacts/{gone['id']}", headers=s.as_user("admin")).status_code
        == 204
    )
    contact("Egor Frolov", "1979-11-02", True, "egor@client.example")  # another day

    # 22:30 UTC on 14 March is 01:30 on 15 March in Moscow (UTC+3).
    _frozen_today(monkeypatch, s, dt.datetime(2031, 3, 14, 22, 30, tzinfo=UTC))
    assert s.today() == dt.date(2031, 3, 15)
    s.processes.EVENTS.run_scheduled("birthday_greetings", s.database)
    monkeypatch.undo()

    rows = s.outbox()
    assert [(r["kind"], r["payload"]["to"], r["payload"]["subject"]) for r in rows] == [
        ("email", "anna@client.example", "Happy birthday, Anna Petrova!")
    ]
    assert rows[0]["payload"]["html"] == (
        "<p>Dear Anna Petrova, happy birthday from all of us at Admin's team!</p>"
    )

    s.worker_once(**s.services_env(smtp))
    [greeting] = mails(smtp)
    assert header(greeting, "To") == "anna@client.example"
    assert header(greeting, "Subject") == "Happy birthday, Anna Petrova!"
    assert "happy birthday from all of us" in body(greeting)
    assert by_status(s) == {"sent": 1}


# --- (d) the newsletter endpoint -------------------------------------------------------------


def test_newsletter_mails_each_member_with_an_address_once(
    scenario: Scenario, smtp: SmtpServer
) -> None:
    s = scenario

    def contact(name: str, mail: str | None) -> int:
        response = s.client.post(
            "/api/contacts?confirm_duplicate=true",  # two share an address on purpose
            json={"full_name": name, "email": mail},
            headers=s.as_user("manager"),
        )
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    with_mail = {
        contact(f"Member {i:02d}", f"member{i:02d}@client.example"): f"member{i:02d}@client.example"
        for i in range(12)
    }
    without = [contact("No Mail One", None), contact("No Mail Two", None)]
    deleted = contact("Deleted Member", "deleted@client.example")
    outsider = contact("Not A Member", "outsider@client.example")
    group = s.client.post(
        "/api/client_groups",
        json={"name": "Spring clients", "members": [*with_mail, *without, deleted]},
        headers=s.as_user("manager"),
    )
    assert group.status_code == 201, group.text
    group_id = group.json()["id"]
    assert (
        s.client.delete(f"/api/contacts/{deleted}", headers=s.as_user("manager")).status_code == 204
    )
    url = f"/api/client_groups/{group_id}/newsletter"

    assert s.client.post(url, json={"subject": "x", "body": "y"}).status_code == 401
    assert (
        s.client.post(
            url, json={"subject": "x", "body": "y"}, headers=s.as_user("sales")
        ).status_code
        == 403
    )
    missing = s.client.post(url, json={"subject": "x"}, headers=s.as_user("manager"))
    assert missing.status_code == 422 and "body" in missing.json()["error"]["fields"]
    assert (
        s.client.post(
            "/api/client_groups/999999/newsletter",
            json={"subject": "x", "body": "y"},
            headers=s.as_user("manager"),
        ).status_code
        == 404
    )
    assert s.outbox() == []

    response = s.client.post(
        url,
        json={"subject": "Spring offers", "body": "Twenty percent off until May."},
        headers=s.as_user("manager"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["ok"] is True and response.json()["record"]["id"] == group_id

    rows = s.outbox()
    assert (
        len(rows) == 12
        and {r["kind"] for r in rows} == {"email"}
        and {r["status"] for r in rows} == {"pending"}
    )
    assert sorted(r["payload"]["to"] for r in rows) == sorted(with_mail.values())
    assert {r["payload"]["subject"] for r in rows} == {"Spring offers"}
    for row in rows:
        name = "Member " + row["payload"]["to"][6:8]
        assert row["payload"]["text"] == f"Dear {name},\n\nTwenty percent off until May.\n"
    assert len({r["idempotency_key"] for r in rows}) == 12
    assert outsider not in with_mail

    # Delivered in batches of 5: 5, then 10, then all 12 sent.
    env = s.services_env(smtp)
    for sent in (5, 10, 12):
        s.worker_once("--batch", "5", **env)
        assert by_status(s) == ({"sent": sent, "pending": 12 - sent} if sent < 12 else {"sent": 12})
        assert len(mails(smtp)) == sent
    received = mails(smtp)
    assert sorted(header(m, "To") for m in received) == sorted(
        with_mail.values()
    )  # each exactly once
    assert sorted(header(m, "Message-ID") for m in received) == sorted(
        expected_message_id(r["idempotency_key"]) for r in rows
    )
    assert {r["attempts"] for r in s.outbox()} == {1}


# --- (e) a won deal ----------------------------------------------------------------------------


def test_won_deal_drafts_an_invoice_and_telegrams_the_owner(
    scenario: Scenario, smtp: SmtpServer, http: HttpRecorder
) -> None:
    s, models = scenario, scenario.gen.models
    set_user(s, "manager", telegram_chat="100500")
    deal = create(
        s,
        "deals",
        full=False,
        user="manager",
        name="Big order",
        amount="1500.00",
        owner=s.users["manager"].id,
    )
    task = create(s, "tasks", full=False, user="manager", title="Follow up", deal=deal["id"])
    move(s, "deals", deal["id"], "proposal")
    s.execute(sa.delete(models.CrmOutboxMessage))  # the accounting events of the set-up

    response = s.client.patch(
        f"/api/deals/{deal['id']}", json={"stage": "won"}, headers=s.as_user("manager")
    )
    assert response.status_code == 200, response.text
    number = f"INV-{s.today().year}-{deal['id']}"
    invoices = s.rows(
        sa.select(
            models.Invoice.number,
            models.Invoice.status,
            models.Invoice.owner_id,
            models.Invoice.total,
        )
    )
    assert [(n, st, o) for n, st, o, _ in invoices] == [(number, "draft", s.users["manager"].id)]
    assert str(invoices[0][3]) in ("1500", "1500.00")
    assert s.rows(sa.select(models.Task.status).where(models.Task.id == task["id"])) == [("done",)]

    rows = s.outbox()
    [telegram] = [r for r in rows if r["kind"] == "telegram"]
    assert telegram["payload"]["chat"] == "100500" and telegram["payload"]["integration"] == "bot"
    assert telegram["payload"]["text"].startswith('🎉 Deal "Big order" is won: 1500')
    assert telegram["payload"]["text"].endswith(f"Invoice {number} is drafted.")
    events = [r["payload"]["event"] for r in rows if r["kind"] == "webhook"]
    assert "deal.won" in events
    [document] = [r for r in rows if r["kind"] == "document"]  # the invoice's PDF, made later
    assert document["payload"]["entity"] == "Invoice" and document["payload"]["field"] == "pdf"
    assert {r["kind"] for r in rows} <= {"telegram", "webhook", "document"}

    env = s.services_env(smtp, http)
    s.worker_once("--batch", "50", **env)
    [(method, path, _headers, raw)] = http.received("/telegram/")
    assert (method, path) == ("POST", f"/telegram/bot{TELEGRAM_TOKEN}/sendMessage")
    assert json.loads(raw) == {"chat_id": "100500", "text": telegram["payload"]["text"]}
    hooks = http.received("/accounting/events")
    assert len(hooks) == len(events)
    for _method, _path, headers, raw in hooks:
        signature = hmac.new(ACCOUNTING_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        assert headers["X-Signature"] == f"sha256={signature}"
    won = next(
        json.loads(raw) for _m, _p, _h, raw in hooks if json.loads(raw)["event"] == "deal.won"
    )
    assert won["payload"]["id"] == deal["id"] and won["payload"]["stage"] == "won"
    assert by_status(s) == {"sent": len(rows)}


# --- a process that fails halfway leaves nothing behind ----------------------------------------


def test_failing_after_trigger_rolls_back_the_deal_and_everything_it_wrote(
    scenario: Scenario,
) -> None:
    """deal_won's invoice number is taken: the insert fails after the deal was saved, its
    closing date set and the audit entry written; all of it is rolled back."""
    s, models = scenario, scenario.gen.models
    deal = create(s, "deals", full=False, user="manager", name="Clash", amount="900.00")
    task = create(s, "tasks", full=False, user="manager", title="Open task", deal=deal["id"])
    taken = create(s, "invoices", full=False, user="manager")
    deal = move(s, "deals", deal["id"], "proposal")
    s.execute(sa.update(models.Invoice).values(number=f"INV-{s.today().year}-{deal['id']}"))
    s.execute(sa.delete(models.CrmOutboxMessage))
    audit, outbox_before = s.count(models.CrmAuditEntry), s.outbox()

    response = s.client.patch(
        f"/api/deals/{deal['id']}", json={"stage": "won"}, headers=s.as_user("manager")
    )
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "duplicate"
    stored = s.client.get(f"/api/deals/{deal['id']}", headers=s.as_user("manager")).json()
    assert (
        stored["stage"] == deal["stage"]
        and stored["closed_on"] is None
        and stored["version"] == deal["version"]
    )
    assert s.rows(sa.select(models.Invoice.id)) == [(taken["id"],)]
    assert s.rows(sa.select(models.Task.status).where(models.Task.id == task["id"])) == [
        (task["status"],)
    ]
    assert s.count(models.CrmAuditEntry) == audit
    assert s.outbox() == outbox_before == []


def test_failing_scheduled_run_leaves_no_partial_rows(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """overdue_invoices marks the invoices overdue, then queues a Telegram message per invoice;
    the second message fails: no invoice stays marked, no message stays queued, the run is
    recorded as failed and the tick is not run again."""
    s, models = scenario, scenario.gen.models
    set_user(s, "sales", telegram_chat="7")
    company = create(s, "companies", full=False, user="manager")["id"]
    yesterday = s.today() - dt.timedelta(days=1)
    for i in range(3):
        s.execute(
            sa.insert(models.Invoice).values(
                number=f"INV-2030-{i}",
                company_id=company,
                total=10 + i,
                owner_id=s.users["sales"].id,
                status="sent",
                due_date=yesterday,
            )
        )
    s.execute(sa.delete(models.CrmOutboxMessage))
    outbox = s.processes.outbox
    real, calls = outbox.enqueue, []

    def flaky(session: Any, **kwargs: Any) -> None:
        calls.append(kwargs["kind"])
        if len(calls) == 2:
            raise RuntimeError("simulated failure while queueing")
        real(session, **kwargs)

    monkeypatch.setattr(outbox, "enqueue", flaky)
    zone = ZoneInfo(s.gen.settings.TIMEZONE)
    monday_seven = dt.datetime(2031, 3, 17, 7, 0, tzinfo=zone)  # "0 7 * * 1-5"
    scheduler = scheduler_at(
        s,
        monday_seven + dt.timedelta(seconds=3),
        monday_seven - dt.timedelta(seconds=30),
        "host-a:1",
    )
    assert spec_runs(scheduler.check()) == [("overdue_invoices", monday_seven.astimezone(UTC))]
    assert calls == ["telegram", "telegram"]
    [(process, status, error)] = schedule_runs(s)
    assert (process, status) == ("overdue_invoices", "failed") and "simulated failure" in (
        error or ""
    )
    assert {st for (st,) in s.rows(sa.select(models.Invoice.status))} == {"sent"}
    assert s.outbox() == []
    assert spec_runs(scheduler.check()) == []  # a failed tick is not repeated
