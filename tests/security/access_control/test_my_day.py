"""The home page, "my day" (issue 14 item 3), over HTTP on both databases.

A seller's home shows their open tasks due today and overdue, their meetings of the next days,
the records they touched recently and the KPIs of the dashboards their role opens; never
another seller's task, a task done or due later, a call (not a meeting), a record they touched
that is out of their reach now, nor a KPI of a dashboard for managers.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from zoneinfo import ZoneInfo

import httpx2 as httpx

from tests.security.access_control.test_users_admin import browser
from tests.security.crm import Crm

ZONE = ZoneInfo("Europe/Moscow")  # examples/crm's app.timezone


def create(crm: Crm, token: str, path: str, **fields: object) -> int:
    with crm.client(token) as api:
        made = api.post(f"/api/{path}", json=fields)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def task(crm: Crm, token: str, title: str, deadline: str, status: str = "new") -> int:
    """A task of the token's user (the spec's task rule sets the deadline on create: the
    test's comes after)."""
    task_id = create(crm, token, "tasks", title=title)
    with crm.client(token) as api:
        changed = api.patch(f"/api/tasks/{task_id}", json={"deadline": deadline, "status": status})
    assert changed.status_code == 200, changed.text
    return task_id


def home(client: httpx.Client) -> str:
    page = client.get("/")
    assert page.status_code == 200, page.text
    return page.text


def section(text: str, name: str) -> str:
    found = re.search(rf'<section class="day-card {name}".*?</section>', text, re.DOTALL)
    assert found is not None, text
    return found.group(0)


def test_a_sellers_day_shows_their_own_work_only(crm: Crm) -> None:
    mark = uuid.uuid4().hex[:6]
    today = dt.datetime.now(ZONE).date()
    sales, sales2 = crm.token("sales"), crm.token("sales2")
    day = lambda n: (today + dt.timedelta(days=n)).isoformat()
    task(crm, sales, f"Due today {mark}", day(0))
    task(crm, sales, f"Overdue {mark}", day(-3))
    task(crm, sales, f"Later {mark}", day(5))
    task(crm, sales, f"Finished {mark}", day(0), "done")
    task(crm, sales2, f"Not mine {mark}", day(0))
    moved = task(crm, sales, f"Handed over {mark}", day(-1))
    soon = (dt.datetime.now(ZONE) + dt.timedelta(days=1)).isoformat()
    create(crm, sales, "interactions", kind="meeting", gist=f"Meeting {mark}", happened_at=soon)
    create(crm, sales, "interactions", kind="call", gist=f"Call {mark}", happened_at=soon)
    with crm.client(crm.token("manager")) as api:  # the task goes to the other seller
        handed = api.patch(f"/api/tasks/{moved}", json={"assignee": crm.user_id("sales2")})
        assert handed.status_code == 200, handed.text

    with browser(crm, "sales") as seller:
        text = home(seller)
    tasks = section(text, "tasks")
    assert f"Due today {mark}" in tasks and f"Overdue {mark}" in tasks
    assert re.search(rf'class="overdue"><a href="/tasks/\d+">Overdue {mark}', tasks)
    assert f"Later {mark}" not in tasks and f"Finished {mark}" not in tasks
    for absent in ("Not mine", "Handed over"):  # nowhere: another seller's now
        assert f"{absent} {mark}" not in text, absent
    meetings = section(text, "meetings")
    assert f"Meeting {mark}" in meetings and f"Call {mark}" not in meetings
    recent = section(text, "recent")
    assert f"Due today {mark}" in recent and f"Meeting {mark}" in recent
    assert f"Handed over {mark}" not in recent  # touched, but no longer theirs to read
    kpis = section(text, "kpis")
    assert "Open deals" in kpis and "My open tasks" not in kpis  # team: managers only
    assert 'class="tiles"' not in text  # the menu is in the header and the sidebar

    with browser(crm, "manager") as manager:
        text = home(manager)
    assert "My open tasks" in section(text, "kpis")
    assert f"Due today {mark}" not in section(text, "tasks")  # the seller's, not the manager's


def test_the_day_of_a_user_without_a_page_right(crm: Crm) -> None:
    """Support may not list meetings of others, nor open the sales dashboard: their home
    still answers, without those parts."""
    with browser(crm, "support") as support:
        text = home(support)
    assert 'class="day-card kpis"' not in text or "Open deals" not in text
    assert "<h1>" in text
