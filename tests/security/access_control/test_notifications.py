"""Notifications and comments with mentions (issue 14 items 2 and 4), over HTTP on both databases.

The reference CRM behind a real uvicorn: a seller comments on their own deal and mentions the
manager (who may read it) and another seller (who may not): exactly the manager is told, the
other seller's comments of that deal are a 404 and the compose box never offers them. A task
given to someone tells them (not when one takes it oneself); notifications are one's own (read,
read-all; another's id is a 404); each user chooses per kind: off stores nothing, digest mails
the unread ones once through the outbox to aiosmtpd.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.security.crm import Crm, app_cli, app_env, crm_out, email
from tests.worker.conftest import SmtpServer

NOTES = "/api/notifications"


@pytest.fixture(scope="module")
def tokens(crm: Crm) -> dict[str, str]:
    return {name: crm.token(name) for name in ("admin", "manager", "sales", "sales2", "support")}


def call(crm: Crm, token: str, method: str, path: str, **kwargs: Any) -> Any:
    with crm.client(token) as client:
        return client.request(method, path, **kwargs)


def mine(crm: Crm, token: str, **params: str) -> dict[str, Any]:
    response = call(crm, token, "GET", NOTES, params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def new_deal(crm: Crm, token: str, name: str) -> int:
    response = call(crm, token, "POST", "/api/deals", json={"name": name, "stage": "lead"})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_a_mention_tells_exactly_the_mentioned_reader(crm: Crm, tokens: dict[str, str]) -> None:
    deal = new_deal(crm, tokens["sales"], "Mentioned deal")
    base = f"/api/deals/{deal}/comments"
    before_manager = mine(crm, tokens["manager"])["total"]
    before_other = mine(crm, tokens["sales2"])["total"]

    # the compose box offers who may read the deal: the manager, never the other seller
    offered = call(crm, tokens["sales"], "GET", f"{base}/mentions", params={"q": "ma"}).json()
    assert [u["email"] for u in offered["items"]] == [email("manager")]
    offered = call(crm, tokens["sales"], "GET", f"{base}/mentions", params={"q": "sales"}).json()
    assert email("sales2") not in [u["email"] for u in offered["items"]]
    assert email("sales") in [u["email"] for u in offered["items"]]

    text = f"Please look, @{email('manager')} and @{email('sales2')}."
    posted = call(crm, tokens["sales"], "POST", base, json={"body": text})
    assert posted.status_code == 201, posted.text
    comment = posted.json()
    assert (
        comment["body"] == text
        and comment["may_edit"]
        and comment["author_id"] == crm.user_id("sales")
    )
    assert set(comment["mentions"]) == {crm.user_id("manager"), crm.user_id("sales2")}

    told = mine(crm, tokens["manager"], unread="true")
    assert told["total"] - before_manager >= 1
    [note] = [n for n in told["items"] if n["kind"] == "mention" and n["record_id"] == deal]
    assert (
        note["url"] == f"/deals/{deal}"
        and note["actor_id"] == crm.user_id("sales")
        and "Please look" in note["message"]
    )
    assert mine(crm, tokens["sales2"])["total"] == before_other  # may not read the deal: not told
    assert not [n for n in mine(crm, tokens["sales"])["items"] if n["kind"] == "mention"]

    # who may read a comment follows the record
    assert call(crm, tokens["sales2"], "GET", base).status_code == 404
    assert call(crm, tokens["sales2"], "POST", base, json={"body": "hi"}).status_code == 404
    assert call(crm, tokens["sales2"], "GET", f"{base}/mentions").status_code == 404
    listed = call(crm, tokens["manager"], "GET", base).json()
    assert [c["body"] for c in listed["items"]] == [text]
    assert call(crm, tokens["sales"], "POST", base, json={"body": "  "}).status_code == 422
    assert call(crm, tokens["sales"], "POST", base, content=b"{").status_code == 400


def test_editing_is_the_authors_for_a_while_and_deleting_leaves_a_trace(
    crm: Crm, tokens: dict[str, str]
) -> None:
    deal = new_deal(crm, tokens["sales"], "Edited deal")
    base = f"/api/deals/{deal}/comments"
    cid = call(crm, tokens["sales"], "POST", base, json={"body": "first"}).json()["id"]
    assert (
        call(crm, tokens["manager"], "PATCH", f"{base}/{cid}", json={"body": "x"}).status_code
        == 403
    )
    edited = call(crm, tokens["sales"], "PATCH", f"{base}/{cid}", json={"body": "second"})
    assert (
        edited.status_code == 200
        and edited.json()["body"] == "second"
        and edited.json()["edited_at"]
    )
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)
    crm.sql("UPDATE crm_comments SET created_at = :at WHERE id = :id", at=old, id=cid)
    late = call(crm, tokens["sales"], "PATCH", f"{base}/{cid}", json={"body": "third"})
    assert late.status_code == 403 and "15 minutes" in late.text
    assert call(crm, tokens["sales2"], "DELETE", f"{base}/{cid}").status_code == 404
    assert call(crm, tokens["sales"], "DELETE", f"{base}/{cid}").status_code == 204
    [trace] = call(crm, tokens["manager"], "GET", base).json()["items"]
    assert (
        trace["deleted"]
        and trace["body"] is None
        and trace["deleted_by_id"] == crm.user_id("sales")
    )
    assert call(crm, tokens["sales"], "DELETE", f"{base}/{cid}").status_code == 404
    audit = call(
        crm,
        tokens["manager"],
        "GET",
        "/api/audit",
        params={"entity": "crm_comments", "record_id": str(cid)},
    ).json()
    assert [e["action"] for e in audit["items"]] == ["delete", "update", "create"]


def test_a_record_given_to_someone_tells_them(crm: Crm, tokens: dict[str, str]) -> None:
    sales = crm.user_id("sales")
    before = mine(crm, tokens["sales"])["total"]
    call(crm, tokens["sales"], "POST", "/api/tasks", json={"title": "Mine", "assignee": sales})
    assert mine(crm, tokens["sales"])["total"] == before  # took it oneself: nobody is told
    given = call(
        crm,
        tokens["manager"],
        "POST",
        "/api/tasks",
        json={"title": "Call the client", "assignee": sales},
    )
    assert given.status_code == 201, given.text
    task = given.json()["id"]
    [note] = [n for n in mine(crm, tokens["sales"])["items"] if n["record_id"] == task]
    assert note["kind"] == "assignment" and note["message"] == "Call the client"
    assert note["entity"] == "Task" and note["url"] == f"/tasks/{task}" and not note["read"]
    # an owner changed by someone else
    deal = new_deal(crm, tokens["manager"], "Handed over")
    moved = call(
        crm, tokens["manager"], "PATCH", f"/api/deals/{deal}", json={"owner": crm.user_id("sales2")}
    )
    assert moved.status_code == 200, moved.text
    assert [n["kind"] for n in mine(crm, tokens["sales2"])["items"] if n["record_id"] == deal] == [
        "assignment"
    ]


def test_read_and_read_all_touch_only_ones_own(crm: Crm, tokens: dict[str, str]) -> None:
    support = crm.user_id("support")
    for title in ("One", "Two", "Three"):
        call(
            crm, tokens["manager"], "POST", "/api/tasks", json={"title": title, "assignee": support}
        )
    unread = mine(crm, tokens["support"], unread="true")
    assert unread["unread"] >= 3 and unread["total"] == unread["unread"]
    first = unread["items"][0]["id"]
    count = call(crm, tokens["support"], "GET", f"{NOTES}/count").json()["unread"]
    assert call(crm, tokens["manager"], "POST", f"{NOTES}/{first}/read").status_code == 404
    assert call(crm, tokens["support"], "POST", f"{NOTES}/{first}/read").status_code == 200
    assert call(crm, tokens["support"], "GET", f"{NOTES}/count").json()["unread"] == count - 1
    assert call(crm, tokens["support"], "POST", f"{NOTES}/999999/read").status_code == 404
    page = mine(crm, tokens["support"], limit="1")
    assert len(page["items"]) == 1 and page["next_offset"] == 1
    assert call(crm, tokens["support"], "POST", f"{NOTES}/read-all").json()["read"] == count - 1
    assert mine(crm, tokens["support"], unread="true")["items"] == []
    assert call(crm, "", "GET", NOTES).status_code == 401
    assert call(crm, tokens["support"], "GET", NOTES, params={"limit": "x"}).status_code == 422


def test_the_reference_crms_processes_notify_in_the_app(
    crm: Crm, tokens: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The task reminders tell the assignee in the app as well as by mail; a task of a deal
    done tells the deal's owner (``notify`` steps, kind ``process``)."""
    sales = crm.user_id("sales")
    deal = new_deal(crm, tokens["manager"], "Deal with a task")
    created = call(
        crm,
        tokens["manager"],
        "POST",
        "/api/tasks",
        json={"title": "Due soon", "assignee": sales, "priority": "high", "deal": deal},
    )
    assert created.status_code == 201, created.text
    task = created.json()["id"]
    run_digest(crm, tmp_path_factory, "task_reminders")
    reminders = [n for n in mine(crm, tokens["sales"])["items"] if n["kind"] == "process"]
    assert [(n["message"], n["url"]) for n in reminders if n["record_id"] == task] == [
        ('"Due soon" is due tomorrow', f"/tasks/{task}")
    ]
    assert [m for m in crm.mails(email("sales")) if "Due soon" in m["subject"]]  # and by mail

    done = call(crm, tokens["sales"], "PATCH", f"/api/tasks/{task}", json={"status": "done"})
    assert done.status_code == 200, done.text
    told = [n for n in mine(crm, tokens["manager"])["items"] if n["record_id"] == task]
    assert [(n["kind"], n["message"], n["actor_id"]) for n in told] == [
        ("process", "Task done: Due soon", sales)
    ]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def run_digest(
    crm: Crm, tmp_path_factory: pytest.TempPathFactory, job: str = "crm:notification_digest"
) -> None:
    """Run a scheduled job of the app now, in a process of its own (as the scheduler would)."""
    import subprocess

    out = crm_out(tmp_path_factory)
    code = (
        "from crmgen_runtime.db import Database; import os;"
        "from reference_crm.processes import EVENTS;"
        f"EVENTS.run_scheduled({job!r}, Database(os.environ['DATABASE_URL']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=app_env(out, crm.database_url, {"PUBLIC_URL": crm.base}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_preferences_off_in_app_and_digest(
    crm: Crm, tokens: dict[str, str], smtp: SmtpServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    token, sales2 = tokens["sales2"], crm.user_id("sales2")
    prefs = f"{NOTES}/preferences"
    assert call(crm, token, "GET", prefs).json() == {
        "assignment": "app",
        "mention": "app",
        "process": "app",
    }
    bad = call(crm, token, "PUT", prefs, json={"assignment": "pigeon", "gossip": "app"})
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) == {"assignment", "gossip"}
    assert call(crm, token, "PUT", prefs, json={"assignment": "off"}).json()["assignment"] == "off"
    before = mine(crm, token)["total"]
    call(
        crm, tokens["manager"], "POST", "/api/tasks", json={"title": "Unheard", "assignee": sales2}
    )
    assert mine(crm, token)["total"] == before  # off: nothing stored

    assert (
        call(crm, token, "PUT", prefs, json={"assignment": "digest"}).json()["assignment"]
        == "digest"
    )
    for title in ("Digest one", "Digest two"):
        call(
            crm, tokens["manager"], "POST", "/api/tasks", json={"title": title, "assignee": sales2}
        )
    assert mine(crm, token)["total"] == before + 2  # digest: in the app too
    run_digest(crm, tmp_path_factory)
    run_digest(crm, tmp_path_factory)  # nothing new: no second mail
    [queued] = [m for m in crm.mails(email("sales2")) if m.get("template") == "notification_digest"]
    assert "Digest one" in queued["text"] and "Digest two" in queued["text"]
    assert f"{crm.base}/tasks/" in queued["text"]
    folder = tmp_path_factory.mktemp("worker")
    args = ("worker", "--once", "--no-scheduler", "--batch", "100")
    app_cli(
        crm_out(tmp_path_factory),
        crm.database_url,
        folder,
        *args,
        SMTP_URL=smtp.url,
        PUBLIC_URL=crm.base,
    )
    [mail] = [m for m in smtp.handler.messages if m["To"] == email("sales2")]
    body = mail.get_payload(decode=True)
    assert isinstance(body, bytes) and "Digest two" in body.decode("utf-8")
    assert call(crm, token, "PUT", prefs, json={"assignment": "app"}).status_code == 200
