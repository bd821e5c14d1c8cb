"""The reference CRM's processes (examples/crm/processes.yaml) running in the generated app."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crmgen.render.formatting import format_files
from tests.backend.conftest import Backend
from tests.backend.payloads import create, move
from tests.generated_apps import ROOT


def _rows(b: Backend, *columns: Any, where: Any = None) -> list[Any]:
    stmt = sa.select(*columns)
    if where is not None:
        stmt = stmt.where(where)
    with b.database.engine.connect() as connection:
        return connection.execute(stmt).all()


def _count(b: Backend, model: Any) -> int:
    return len(_rows(b, model.id))


def _today(b: Backend) -> dt.date:
    return b.gen.settings.fn.today()


def test_task_rule_status_deadline(crm: Backend) -> None:
    high = create(
        crm, "tasks", full=False, user="sales", title="a", priority="high", status="in_progress"
    )
    assert high["status"] == "new"
    assert high["deadline"] == (_today(crm) + dt.timedelta(days=1)).isoformat()
    normal = create(crm, "tasks", full=False, user="sales", title="b")
    assert normal["deadline"] == (_today(crm) + dt.timedelta(days=3)).isoformat()


def test_task_rule_refuses_giving_tasks_without_the_right(crm: Backend) -> None:
    models = crm.gen.models
    before = _count(crm, models.Task)
    response = crm.client.post(
        "/api/tasks",
        json={"title": "x", "assignee": crm.users["manager"].id},
        headers=crm.as_user("sales"),
    )
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Only a manager may give tasks to other employees"
    assert _count(crm, models.Task) == before
    ok = crm.client.post(
        "/api/tasks",
        json={"title": "y", "assignee": crm.users["sales"].id},
        headers=crm.as_user("manager"),
    )
    assert ok.status_code == 201, ok.text


def test_overloaded_assignee_goes_to_least_busy_colleague(crm: Backend) -> None:
    models = crm.gen.models
    sales, sales2, support = (crm.users[n].id for n in ("sales", "sales2", "support"))
    with crm.database.engine.begin() as connection:
        position = connection.execute(
            sa.insert(models.Position).values(name="Seller").returning(models.Position.id)
        ).scalar_one()
        other = connection.execute(
            sa.insert(models.Position).values(name="Helper").returning(models.Position.id)
        ).scalar_one()
        connection.execute(
            sa.update(models.User)
            .where(models.User.id.in_([sales, sales2]))
            .values(position_id=position)
        )
        connection.execute(
            sa.update(models.User).where(models.User.id == support).values(position_id=other)
        )
        for i in range(11):
            connection.execute(
                sa.insert(models.Task).values(
                    title=f"t{i}", assignee_id=sales, status="new", priority="normal"
                )
            )
        connection.execute(
            sa.insert(models.Task).values(
                title="done", assignee_id=sales2, status="done", priority="normal"
            )
        )
    task = create(crm, "tasks", full=False, user="manager", title="new one", assignee=sales)
    assert task["assignee"]["id"] == sales2  # same position, fewest open tasks
    light = create(crm, "tasks", full=False, user="manager", title="light", assignee=sales2)
    assert light["assignee"]["id"] == sales2  # not overloaded: kept


def test_update_trigger_with_fields_sees_old(crm: Backend) -> None:
    task = create(crm, "tasks", full=False, user="sales", title="a")
    url = f"/api/tasks/{task['id']}"
    done = crm.client.patch(url, json={"status": "done"}, headers=crm.as_user("sales")).json()
    assert done["done_at"] is not None
    # a change of another field does not run the status process (it would clear done_at)
    again = crm.client.patch(url, json={"title": "renamed"}, headers=crm.as_user("sales")).json()
    assert again["done_at"] == done["done_at"]
    reopened = crm.client.patch(
        url, json={"status": "in_progress"}, headers=crm.as_user("sales")
    ).json()
    assert reopened["done_at"] is None


def _deal(crm: Backend, **values: Any) -> dict[str, Any]:
    return create(crm, "deals", full=False, user="manager", amount="1500.00", **values)


def test_deal_won_creates_invoice_and_telegram_row(crm: Backend) -> None:
    models = crm.gen.models
    deal = _deal(crm)
    task = create(crm, "tasks", full=False, user="manager", title="follow up", deal=deal["id"])
    move(crm, "deals", deal["id"], "proposal")
    response = crm.client.patch(
        f"/api/deals/{deal['id']}", json={"stage": "won"}, headers=crm.as_user("manager")
    )
    assert response.status_code == 200, response.text
    assert response.json()["closed_on"] == _today(crm).isoformat()
    invoices = _rows(
        crm,
        models.Invoice.number,
        models.Invoice.total,
        models.Invoice.status,
        where=models.Invoice.deal_id == deal["id"],
    )
    assert invoices == [(f"INV-{_today(crm).year}-{deal['id']}", invoices[0][1], "draft")]
    assert str(invoices[0][1]) in ("1500.00", "1500")
    outbox = _rows(crm, models.CrmOutboxMessage.kind, models.CrmOutboxMessage.payload)
    kinds = sorted(k for k, _ in outbox)
    # the invoice's PDF is made after the commit (attach_document), beside the two messages
    assert kinds == ["document", "telegram", "webhook"]
    telegram = next(p for k, p in outbox if k == "telegram")
    assert "is won" in telegram["text"] and telegram["integration"] == "bot"
    webhook = next(p for k, p in outbox if k == "webhook")
    assert webhook["event"] == "deal.won" and webhook["payload"]["id"] == deal["id"]
    assert _rows(crm, models.Task.status, where=models.Task.id == task["id"]) == [("done",)]
    # saving the won deal again does not make a second invoice
    crm.client.patch(
        f"/api/deals/{deal['id']}", json={"name": "renamed"}, headers=crm.as_user("manager")
    )
    assert _count(crm, models.Invoice) == 1


def test_custom_endpoint_roles_input_and_404(crm: Backend) -> None:
    models = crm.gen.models
    deal = _deal(crm)
    url = f"/api/deals/{deal['id']}/win"
    assert crm.client.post(url, json={}, headers=crm.as_user("support")).status_code == 403
    assert crm.client.post(url, json={}, headers=crm.as_user("sales")).status_code == 403
    # the process's set honours the pipeline: no deal is won from the first contact
    early = crm.client.post(url, json={}, headers=crm.as_user("manager"))
    assert early.status_code == 409, early.text
    assert early.json()["error"]["code"] == "transition_not_allowed"
    move(crm, "deals", deal["id"], "proposal")
    assert (
        crm.client.post(
            "/api/deals/999999/win", json={}, headers=crm.as_user("manager")
        ).status_code
        == 404
    )
    long = crm.client.post(url, json={"comment": "x" * 2001}, headers=crm.as_user("manager"))
    assert long.status_code == 422 and "comment" in long.json()["error"]["fields"]
    response = crm.client.post(url, json={"comment": "great"}, headers=crm.as_user("manager"))
    assert response.status_code == 200, response.text
    assert response.json()["record"]["stage"] == "won"
    assert _rows(
        crm, models.Interaction.summary, where=models.Interaction.deal_id == deal["id"]
    ) == [("great",)]
    assert _count(crm, models.Invoice) == 1  # the set fired the deal's update processes


def test_bulk_endpoint_reassigns(crm: Backend) -> None:
    models = crm.gen.models
    sales, sales2 = crm.users["sales"].id, crm.users["sales2"].id
    for i in range(3):
        create(crm, "tasks", full=False, user="sales", title=f"s{i}")
    url = "/api/tasks/bulk/reassign"
    assert (
        crm.client.post(url, json={"from_user": sales}, headers=crm.as_user("manager")).status_code
        == 422
    )
    missing = crm.client.post(
        url, json={"from_user": sales, "to_user": 999999}, headers=crm.as_user("manager")
    )
    assert missing.status_code == 422
    assert (
        crm.client.post(
            url, json={"from_user": sales, "to_user": sales2}, headers=crm.as_user("sales")
        ).status_code
        == 403
    )
    response = crm.client.post(
        url, json={"from_user": sales, "to_user": sales2}, headers=crm.as_user("manager")
    )
    assert response.status_code == 200, response.text
    assert {a for (a,) in _rows(crm, models.Task.assignee_id)} == {sales2}


def test_action_mark_deal_lost(crm: Backend) -> None:
    models = crm.gen.models
    deal = _deal(crm)
    url = f"/api/deals/{deal['id']}/actions/mark_deal_lost"
    assert crm.client.post(url, headers=crm.as_user("support")).status_code == 403
    response = crm.client.post(url, headers=crm.as_user("manager"))
    assert response.status_code == 200, response.text
    assert response.json()["record"]["stage"] == "lost"
    assert _rows(crm, models.Task.title, where=models.Task.deal_id == deal["id"]) == [
        (f"Find out why we lost {deal['name']}",)
    ]
    won = _deal(crm)
    move(crm, "deals", won["id"], "proposal", "won")
    refused = crm.client.post(
        f"/api/deals/{won['id']}/actions/mark_deal_lost", headers=crm.as_user("manager")
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == "A won deal cannot be marked lost"


def test_scheduled_processes(crm: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    models, processes = crm.gen.models, crm.gen.processes
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        processes.PROCESSES, "call_http", lambda *args: calls.append(args) or {"ok": 1}
    )
    assert processes.EVENTS.schedules["task_reminders"].cron == "0 8 * * *"
    sales = crm.users["sales"].id
    today = _today(crm)
    with crm.database.engine.begin() as connection:
        connection.execute(
            sa.update(models.User).where(models.User.id == sales).values(telegram_chat="77")
        )
        connection.execute(
            sa.insert(models.Task).values(
                title="old",
                assignee_id=sales,
                status="cancelled",
                priority="low",
                deadline=today - dt.timedelta(days=400),
            )
        )
        connection.execute(
            sa.insert(models.Task).values(
                title="due",
                assignee_id=sales,
                status="new",
                priority="high",
                deadline=today + dt.timedelta(days=1),
            )
        )
    deal = _deal(crm)
    company = (
        deal["company"]["id"]
        if deal.get("company")
        else create(crm, "companies", full=False, user="manager")["id"]
    )
    with crm.database.engine.begin() as connection:
        connection.execute(
            sa.insert(models.Invoice).values(
                number="INV-2024-9",
                company_id=company,
                total=10,
                owner_id=sales,
                status="sent",
                due_date=today - dt.timedelta(days=1),
            )
        )
    processes.EVENTS.run_scheduled("cleanup_cancelled_tasks", crm.database)
    assert [t for (t,) in _rows(crm, models.Task.title)] == ["due"]
    processes.EVENTS.run_scheduled("overdue_invoices", crm.database)
    assert _rows(crm, models.Invoice.status) == [("overdue",)]
    processes.EVENTS.run_scheduled("task_reminders", crm.database)
    processes.EVENTS.run_scheduled("monthly_digest", crm.database)
    payloads = _rows(crm, models.CrmOutboxMessage.kind, models.CrmOutboxMessage.payload)
    kinds = sorted(k for k, _ in payloads)
    assert kinds == ["email", "email", "telegram"]  # the http step has into: called at once
    [(method, url, _headers, body, timeout, integration, _process)] = calls
    assert (method, url, body, timeout, integration) == (
        "POST",
        "https://reports.example.com/crm/monthly",
        [None, 0, 0],
        10.0,
        None,
    )
    telegram = next(p for k, p in payloads if k == "telegram")
    assert telegram["chat"] == "77" and "INV-2024-9" in telegram["text"]
    reminder = next(p for k, p in payloads if k == "email" and "due" in p["subject"])
    assert reminder["to"] == "sales@example.com" and reminder["integration"] == "mail"
    with pytest.raises(KeyError):
        processes.EVENTS.run_scheduled("no_such_process", crm.database)


def test_order_line_delete_updates_total(crm: Backend) -> None:
    models = crm.gen.models
    line = create(crm, "order_lines", full=False, user="manager", quantity=2, price="10.00")
    order = line["sales_order"]["id"]
    other = create(
        crm, "order_lines", full=False, user="manager", quantity=1, price="5.00", sales_order=order
    )
    response = crm.client.delete(f"/api/order_lines/{line['id']}", headers=crm.as_user("manager"))
    assert response.status_code == 204
    [(total,)] = _rows(crm, models.Order.total, where=models.Order.id == order)
    assert str(total) in ("5.00", "5") and other["id"]


def test_compiled_code_is_deterministic_and_black_clean(crm: Backend, tmp_path: Path) -> None:
    first = (crm.gen.out / crm.gen.package / "processes.py").read_text()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "crmgen",
            "generate",
            str(ROOT / "examples" / "crm"),
            "-o",
            str(tmp_path / "again"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "again" / crm.gen.package / "processes.py").read_text() == first
    # in a copy of its package, so the imports of the package's modules sort as first-party
    shutil.copytree(crm.gen.out / crm.gen.package, tmp_path / "copy" / crm.gen.package)
    copy = tmp_path / "copy" / crm.gen.package / "processes.py"
    # the formatter the writer uses (ruff's import sorting and format, else black)
    format_files([copy], tmp_path / "copy")
    assert copy.read_text() == first
    assert "eval(" not in first and "exec(" not in first
