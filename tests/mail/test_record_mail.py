"""E-mail from a record (issue 14 item 6), over HTTP on SQLite and PostgreSQL.

A seller writes to a contact from the spec's template: the e-mail goes through the outbox, the
worker delivers it to aiosmtpd once, and it is on the contact's timeline (API and detail page).
An e-mail from a deal is on the deal and on its contact; a process's e-mail to a contact (the
newsletter) is on the contact's. A message placed in the IMAP mailbox (a private dovecot) from
a contact's address is logged on the contact's timeline once, however often the job runs.
Who may send, who may read, and bad input are checked like the record's other sub-resources.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from email.message import Message
from typing import Any

import pytest

from tests.mail.dovecot import Dovecot
from tests.security.crm import Crm, app_cli, app_env, crm_out
from tests.worker.conftest import SmtpServer

ENGLISH = {"Accept-Language": "en"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@client.example"


def create(crm: Crm, user: str, path: str, data: dict[str, Any]) -> dict[str, Any]:
    with crm.client(crm.token(user)) as client:  # names repeat: past the duplicate warning
        response = client.post(f"/api/{path}?confirm_duplicate=true", json=data)
    assert response.status_code == 201, response.text
    return dict(response.json())


def send(crm: Crm, user: str, path: str, record_id: int, data: dict[str, Any]) -> Any:
    with crm.client(crm.token(user)) as client:
        return client.post(f"/api/{path}/{record_id}/emails", json=data)


def emails(crm: Crm, user: str, path: str, record_id: int) -> Any:
    with crm.client(crm.token(user)) as client:
        return client.get(f"/api/{path}/{record_id}/emails")


def deliver(crm: Crm, smtp: SmtpServer, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("worker")
    out = crm_out(tmp_path_factory)
    args = ("worker", "--once", "--no-scheduler", "--batch", "100")
    app_cli(out, crm.database_url, folder, *args, SMTP_URL=smtp.url, PUBLIC_URL=crm.base)


def delivered(smtp: SmtpServer, to: str) -> list[Message]:
    return [m for m in smtp.handler.messages if m["To"] == to]


def page(crm: Crm, user: str, url: str) -> Any:
    with crm.client(headers=ENGLISH) as client:
        client.post(
            "/api/auth/login", json={"email": f"{user}@demo.example", "password": "demo-password"}
        )
        return client.get(url)


JOB = """
import json, os, sys
from crmgen_runtime.db import Database
from reference_crm.resources import CATALOG
database = Database(os.environ["DATABASE_URL"])
CATALOG.events.run_scheduled("imap.inbox", database)
database.dispose()
print(json.dumps("done"))
"""


def run_imap_job(crm: Crm, tmp_path_factory: pytest.TempPathFactory) -> None:
    out = crm_out(tmp_path_factory)
    env = app_env(out, crm.database_url, {"IMAP_URL": crm.env["IMAP_URL"]})
    done = subprocess.run(
        [sys.executable, "-c", JOB],
        env=env,
        cwd=out,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_an_email_sent_from_a_contact_arrives_once_and_is_on_the_timeline(
    crm: Crm, smtp: SmtpServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    to = unique("anna")
    contact = create(crm, "sales", "contacts", {"full_name": "Anna Client", "email": to})
    response = send(
        crm, "sales", "contacts", contact["id"], {"template": "contact_follow_up", "locale": "en"}
    )
    assert response.status_code == 201, response.text
    sent = response.json()
    assert sent["to"] == to and sent["direction"] == "out" and sent["status"] == "pending"
    assert sent["subject"] == "Following up, Anna Client"
    [(name,)] = crm.sql("SELECT name FROM users WHERE email = 'sales@demo.example'")
    assert "Dear Anna Client" in sent["body"] and sent["body"].endswith(f"\n{name}\n")  # user

    deliver(crm, smtp, tmp_path_factory)
    deliver(crm, smtp, tmp_path_factory)  # nothing goes twice
    [mail] = delivered(smtp, to)
    assert mail["Subject"] == "Following up, Anna Client"

    listed = emails(crm, "sales", "contacts", contact["id"]).json()
    assert listed["total"] == 1
    [item] = listed["items"]
    assert item["status"] == "sent" and item["user_email"] == "sales@demo.example"
    detail = page(crm, "sales", f"/contacts/{contact['id']}")
    assert detail.status_code == 200
    timeline = detail.text.split('id="timeline-title"')[1]
    assert "Following up, Anna Client" in timeline and "E-mail sent" in timeline
    assert f'href="/contacts/{contact["id"]}/emails/new"' in detail.text


def test_an_email_from_a_deal_is_on_the_deal_and_its_contact(crm: Crm) -> None:
    to = unique("boris")
    contact = create(crm, "sales", "contacts", {"full_name": "Boris Buyer", "email": to.upper()})
    deal = create(
        crm, "sales", "deals", {"name": "Boris deal", "contact": contact["id"], "amount": "1500"}
    )
    response = send(
        crm, "sales", "deals", deal["id"], {"template": "deal_proposal", "locale": "en"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["to"] == to.upper()  # the deal's contact's address
    assert emails(crm, "sales", "deals", deal["id"]).json()["total"] == 1
    [on_contact] = emails(crm, "sales", "contacts", contact["id"]).json()["items"]
    assert on_contact["subject"] == "Our proposal: Boris deal"


def test_a_process_email_to_a_contact_is_on_its_timeline(crm: Crm) -> None:
    to = unique("news")
    contact = create(crm, "manager", "contacts", {"full_name": "Nina News", "email": to})
    group = create(
        crm,
        "manager",
        "client_groups",
        {"name": f"Group {uuid.uuid4().hex[:6]}", "members": [contact["id"]]},
    )
    with crm.client(crm.token("manager")) as client:
        done = client.post(
            f"/api/client_groups/{group['id']}/newsletter",
            json={"subject": "Spring news", "body": "Hello!"},
        )
    assert done.status_code in (200, 201, 204), done.text
    [item] = emails(crm, "manager", "contacts", contact["id"]).json()["items"]
    assert item["subject"] == "Spring news" and "Hello!" in item["body"]
    assert item["process"] == "newsletter" and item["user_email"] is None


def test_a_message_in_the_mailbox_is_on_the_contact_timeline_once(
    crm: Crm, dovecot: Dovecot, tmp_path_factory: pytest.TempPathFactory
) -> None:
    address = unique("reply")
    contact = create(crm, "sales", "contacts", {"full_name": "Rita Reply", "email": address})
    message_id = f"<{uuid.uuid4().hex}@client.example>"
    raw = (
        f"From: Rita Reply <{address.upper()}>\r\n"
        "To: crm@inbox.example\r\n"
        f"Subject: Re: our offer ({crm.kind})\r\n"
        f"Message-ID: {message_id}\r\n"
        "Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Sounds good, let us talk on Monday.\r\n"
    ).encode()
    dovecot.append(raw)
    run_imap_job(crm, tmp_path_factory)
    run_imap_job(crm, tmp_path_factory)
    crm.sql("DELETE FROM crm_mailboxes")  # even reading the mailbox from its start again ...
    run_imap_job(crm, tmp_path_factory)  # ... logs it once: by its Message-ID
    listed = emails(crm, "sales", "contacts", contact["id"]).json()
    [item] = [i for i in listed["items"] if i["message_id"] == message_id]
    assert item["direction"] == "in" and item["status"] == "received"
    assert item["subject"] == f"Re: our offer ({crm.kind})"
    assert "Monday" in item["body"]
    assert listed["total"] == 1
    detail = page(crm, "sales", f"/contacts/{contact['id']}")
    assert "E-mail received" in detail.text and f"Re: our offer ({crm.kind})" in detail.text


def test_who_may_send_and_read(crm: Crm) -> None:
    contact = create(
        crm, "sales", "contacts", {"full_name": "Carl Careful", "email": unique("carl")}
    )
    data = {"template": "contact_follow_up"}
    assert send(crm, "sales2", "contacts", contact["id"], data).status_code == 404  # not theirs
    assert emails(crm, "sales2", "contacts", contact["id"]).status_code == 404
    refused = send(crm, "support", "contacts", contact["id"], data)  # reads, may not send
    assert refused.status_code == 403
    assert send(crm, "manager", "contacts", contact["id"], data).status_code == 201
    assert emails(crm, "support", "contacts", contact["id"]).json()["total"] == 1  # every reader
    with crm.client() as client:
        assert client.get(f"/api/contacts/{contact['id']}/emails").status_code == 401
    assert send(crm, "sales", "contacts", 99_999_999, data).status_code == 404
    assert page(crm, "support", f"/contacts/{contact['id']}/emails/new").status_code == 403
    assert page(crm, "sales2", f"/contacts/{contact['id']}/emails/new").status_code == 404


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"template": "deal_proposal"}, "template"),  # a Deal's template
        ({"template": "nope"}, "template"),
        ({"subject": "Hi\r\nBcc: x@evil.example", "body": "text"}, "subject"),
        ({"subject": "Hi", "body": ""}, "body"),
        ({"subject": "Hi", "body": "text", "to": "not an address"}, "to"),
        ({"subject": "Hi", "body": "text", "to": 42}, "to"),
        ({"subject": "Hi", "body": "text", "to": ["a@b.example", "x\r\nBcc: c@d.example"]}, "to"),
        ({"subject": "Hi", "body": "text", "cc": "a@b.example"}, "cc"),
        ({"subject": ["Hi"], "body": "text"}, "subject"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(crm: Crm, data: dict[str, Any], field: str) -> None:
    contact = create(crm, "sales", "contacts", {"full_name": "Bad Input", "email": unique("bad")})
    response = send(crm, "sales", "contacts", contact["id"], data)
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["fields"]
    assert emails(crm, "sales", "contacts", contact["id"]).json()["total"] == 0


def test_no_address_is_a_422_and_not_json_is_a_400(crm: Crm) -> None:
    contact = create(crm, "sales", "contacts", {"full_name": "No Mail"})
    response = send(crm, "sales", "contacts", contact["id"], {"template": "contact_follow_up"})
    assert response.status_code == 422 and "to" in response.json()["error"]["fields"]
    with crm.client(crm.token("sales")) as client:
        broken = client.post(
            f"/api/contacts/{contact['id']}/emails",
            content=b"{",
            headers={"Content-Type": "application/json"},
        )
    assert broken.status_code == 400


def test_the_compose_form_sends_with_its_csrf_token(crm: Crm) -> None:
    to = unique("form")
    contact = create(crm, "sales", "contacts", {"full_name": "Fiona Form", "email": to})
    base = f"/contacts/{contact['id']}"
    with crm.client(headers=ENGLISH) as client:
        client.post(
            "/api/auth/login", json={"email": "sales@demo.example", "password": "demo-password"}
        )
        form = client.get(f"{base}/emails/new?template=contact_follow_up")
        assert form.status_code == 200
        assert "Following up, Fiona Form" in form.text and to in form.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        data = {"template": "contact_follow_up", "to": to, "subject": "Hello Fiona", "body": "Text"}
        forged = client.post(f"{base}/emails", data=data, follow_redirects=False)
        assert forged.status_code == 403
        done = client.post(
            f"{base}/emails", data={**data, "csrf_token": token.group(1)}, follow_redirects=False
        )
        assert done.status_code == 303 and done.headers["location"] == f"{base}?sent=email"
        shown = client.get(done.headers["location"])
        assert "The e-mail is on its way." in shown.text and "Hello Fiona" in shown.text
        empty = client.post(
            f"{base}/emails",
            data={**data, "subject": "", "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert empty.status_code == 422 and 'aria-invalid="true"' in empty.text
