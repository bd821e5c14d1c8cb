"""Processes: the steps of a ``Run`` on SQLite and PostgreSQL, triggers, schedules, and a custom
endpoint and a record action over HTTP."""

from __future__ import annotations

import http.server
import json
import logging
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import rt_crm
from conftest import Serve
from crmgen_runtime import where
from crmgen_runtime.errors import ApiError
from crmgen_runtime.events import Events, endpoint_routes
from crmgen_runtime.processes import (
    Actor,
    Endpoint,
    Processes,
    Record,
    Run,
    call_http,
    plain,
)
from crmgen_runtime.resources import Catalog, FieldInfo, Resource, field_map
from sqlalchemy.orm import Session

Deal, Company, User = rt_crm.Deal, rt_crm.Company, rt_crm.User


class Outbox:
    """Messages kept in memory, in the order they were queued."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def enqueue(self, session: Session, *, kind: str, payload: Any, key: str | None) -> None:
        self.sent.append((kind, payload))


class Backups:
    """Backup files of one line, named after the app as ``crmgen_runtime.backup`` names them."""

    app = "rt_crm"

    def dump(self, url: str, path: Path) -> dict[str, int]:
        path.write_text(url)
        return {}


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> Events:
    """Hooks of this test alone, in place of the CRM's."""
    fresh = Events()
    monkeypatch.setattr(Catalog, "events", property(lambda catalog: fresh))
    return fresh


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def processes(outbox: Outbox) -> Processes:
    integrations = {"api": {"base_url": (None, "http://127.0.0.1:1"), "token": ("RT_TOKEN", "t")}}
    return Processes(
        rt_crm.catalog,
        outbox=outbox,
        backups=Backups(),
        http_integrations=integrations,
        allow_hosts=["127.0.0.1"],  # the loopback test server, allowed by name
    )


@pytest.fixture
def session(crm_db: rt_crm.Crm, events: Events) -> Iterator[Session]:
    with Session(crm_db.engine) as opened, opened.begin():
        yield opened


def run_of(processes: Processes, session: Session, user: Any = rt_crm.Crm.admin) -> Run:
    return Run(processes, session, user, "test")


def test_queries_counts_and_exact_aggregates(processes: Processes, session: Session) -> None:
    run = run_of(processes, session)
    assert [d.title for d in run.query("Deal", [], sort=["-amount"], limit=2)] == ["Big", "Mid"]
    assert [d.title for d in run.query("Deal", [where.gt(Deal.amount, 60)])] == ["Big", "Mid"]
    assert run.count("Company", []) == 3  # Apex is deleted
    assert run.aggregate("Deal", "sum", "amount", []) == Decimal("700.00")
    assert run.aggregate("Deal", "avg", "amount", []) == Decimal("233.33")
    assert run.aggregate("Deal", "max", "amount", []) == Decimal("500.00")
    assert run.aggregate("Deal", "count", None, []) == 3
    by_owner = run.aggregate("Deal", "sum", "amount", [], group_by="owner")
    assert by_owner == {1: Decimal("500.00"), 2: Decimal("200.00")}
    assert run.load("Deal", 1).title == "Big"


def test_writes_go_through_the_audited_writers(processes: Processes, session: Session) -> None:
    run = run_of(processes, session)
    made = run.create("Deal", {"title": "New", "amount": Decimal(5), "owner": 1})
    assert (made.title, made.owner_id, made.label) == ("New", 1, "New")
    assert run.update("Deal", [where.eq(Deal.owner_id, 2)], {"stage": "won"}) == 2
    assert run.count("Deal", [where.eq(Deal.stage, "won")]) == 2
    run.set(made, {"title": "Renamed"})
    run.set(None, {"title": "nothing"})
    assert run.load("Deal", made.id).title == "Renamed"
    stored = Record(session, rt_crm.deals, {"id": made.id, "title": "Renamed"})
    run.set(stored, {"amount": Decimal(7)})
    assert run.load("Deal", made.id).amount == Decimal(7)
    assert run.delete("Deal", [where.eq(Deal.id, made.id)]) == 1
    assert run.count("Deal", []) == 3


def test_assign_picks_the_least_busy_or_the_next_user(
    processes: Processes, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    run = run_of(processes, session)
    draft = Record(session, rt_crm.deals, {}, {"title": "x"})
    workload = (Deal.owner_id, [where.ne(Deal.stage, "won")])
    run.assign(draft, "owner", "least_busy", [where.in_(User.id, [1, 2, 3])], workload)
    assert draft.changes == {"title": "x", "owner": 3}  # user 3 owns no deal
    run.assign(draft, "owner", "round_robin", [where.in_(User.id, [1, 2, 3])], workload)
    assert draft.changes["owner"] == 3  # the last deal (id 3) is user 2's: the next is 3
    with caplog.at_level(logging.WARNING):
        run.assign(draft, "owner", "least_busy", [where.eq(User.id, 99)], workload)
    assert "no user matches to assign owner" in caplog.text


def test_records_drafts_and_the_actor(processes: Processes, session: Session) -> None:
    run = run_of(processes, session, rt_crm.Crm.ann)
    stored = {"id": 1, "title": "Big", "company": 1, "owner": 1, "version": 1}
    record = Record(session, rt_crm.deals, stored, {"title": "Bigger"})
    assert (record.title, record.company.name, record.company_id, record.version) == (
        "Bigger",
        "Acme",
        1,
        1,
    )
    assert [c.name for c in record.partners] == ["Beta", "Alpha"]  # read from the database
    assert str(record) == "Bigger"
    assert Record(session, rt_crm.deals, {"owner": None}).owner is None
    assert str(Record(session, rt_crm.deals, {})) == ""
    assert str(Record(session, rt_crm.deals, {"id": 7}, {"title": ""})) == "#7"  # empty: the id
    with pytest.raises(AttributeError):
        record.nothing  # noqa: B018
    with pytest.raises(AttributeError):
        record._hidden  # noqa: B018
    user = run.user
    assert isinstance(user, Actor)
    assert (user.id, user.email, user.has_role("sales"), user.has_role("admin")) == (
        1,
        "u1@example.com",
        True,
        False,
    )
    assert user == session.get(User, 1) and user != session.get(User, 2)
    assert user != "someone" and hash(user) == hash(("User", 1))
    assert str(user) == str(session.get(User, 1))
    nobody = Actor(session, rt_crm.person(99), rt_crm.catalog)
    assert str(nobody) == "u99@example.com"
    with pytest.raises(AttributeError):
        nobody.email  # noqa: B018
    company = session.get(Company, 1)
    as_json = plain({"company": company, "who": user, "many": {1, 2}}, rt_crm.catalog)
    assert as_json["company"] == {"id": 1, "name": "Acme", "secret": "s1", "owner": 1}
    assert as_json["who"]["email"] == "u1@example.com" and as_json["many"] == [1, 2]
    assert plain(record, rt_crm.catalog)["title"] == "Bigger"


def test_messages_go_to_the_outbox(
    processes: Processes, session: Session, outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    run = run_of(processes, session)
    deal = session.get(Deal, 1)
    text = run.text("Deal {{ deal.title }}", {"deal": deal})
    run.email(
        to=["a@x", None],
        subject=text,
        text="t",
        html=run.html("<b>{{ v }}</b>", {"v": "<"}),
        integration=None,
    )
    run.email(to=["a@x", "b@x"], subject="two", text="t", html=None, integration="mail")
    run.telegram(chat=77, text="hi", integration=None)
    run.telegram(chat="", text="hi", integration=None)
    run.sms(to="+1", text="hi", integration=None)
    run.webhook("company.won", session.get(Company, 1), integration="hooks")
    assert run.http("POST", "/x", headers={}, json=[deal.id], timeout=1.0, integration=None) is None
    with caplog.at_level(logging.WARNING):
        run.email(to=None, subject="none", text="t", html=None, integration=None)
        run.sms(to="", text="hi", integration=None)
    assert "has no recipient" in caplog.text and "no phone number" in caplog.text
    kinds = [kind for kind, _ in outbox.sent]
    assert kinds == ["email", "email", "telegram", "telegram", "sms", "webhook", "http"]
    first = outbox.sent[0][1]
    assert (
        first["to"] == "a@x" and first["subject"] == "Deal Big" and first["html"] == "<b>&lt;</b>"
    )
    assert outbox.sent[1][1]["to"] == ["a@x", "b@x"]
    assert [outbox.sent[2][1]["chat"], outbox.sent[3][1]["chat"]] == ["77", None]
    assert outbox.sent[5][1]["payload"]["name"] == "Acme"
    assert outbox.sent[6][1] == {
        "method": "POST",
        "url": "/x",
        "headers": {},
        "json": [1],
        "integration": None,
        "timeout": 1.0,
    }
    assert run.sent == 7


class Answer(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        seen = {"auth": self.headers.get("Authorization"), "body": json.loads(body)}
        reply = json.dumps(seen).encode() if self.path == "/json" else b"plain text"
        self.send_response(200)
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def test_http_with_into_calls_at_once(
    processes: Processes, session: Session, server: str, caplog: pytest.LogCaptureFixture
) -> None:
    run = run_of(processes, session)
    answer = run.http(
        "POST", f"{server}/json", headers={}, json={"a": 1}, timeout=5, integration="api", wait=True
    )
    assert answer is not None and answer.status == 200
    assert answer.body == {"auth": "Bearer t", "body": {"a": 1}} and answer.body.body.a == 1
    settings = {"base_url": (None, server)}
    text = call_http("POST", "text", {}, {}, 5, settings, "p", egress=processes.egress)
    assert text is not None and text.body == "plain text"
    with caplog.at_level(logging.WARNING):
        assert call_http("GET", "ftp://x", {}, None, 5, {}, "p") is None
        assert (
            run.http("GET", "/x", headers={}, json=None, timeout=1, integration="api", wait=True)
            is None
        )
    assert "is not an http(s) URL" in caplog.text and "failed" in caplog.text


def test_errors_logs_and_backups(
    processes: Processes, session: Session, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = run_of(processes, session)
    error = run.error(409, "No")
    assert (error.status, error.code, error.message) == (409, "process_error", "No")
    with caplog.at_level(logging.INFO):
        run.log("warning", "careful")
        for _ in range(3):
            run.backup(str(tmp_path / "b"), keep=2)
    assert "test: careful" in caplog.text and "backup written to" in caplog.text
    assert len(list((tmp_path / "b").glob("rt_crm-*.jsonl.gz"))) == 2
    without = Processes(rt_crm.catalog, outbox=Outbox())
    with pytest.raises(LookupError):
        run_of(without, session).backup(str(tmp_path), keep=1)


def test_triggers_run_inside_the_write(
    processes: Processes, events: Events, crm_db: rt_crm.Crm
) -> None:
    seen: list[Any] = []

    def process_stamp(run: Run, record: Any, user: Any) -> None:
        run.set(record, {"title": record.title.upper()})
        seen.append(("stamp", user.id))

    def process_made(run: Run, record: Any, user: Any) -> None:
        seen.append(("made", record.title))

    def process_changing(run: Run, record: Any, old: Any, user: Any) -> None:
        seen.append(("changing", old.stage, record.stage))

    def process_changed(run: Run, record: Any, old: Any, user: Any) -> None:
        seen.append(("changed", old.stage, record.stage))

    def process_gone(run: Run, record: Any, user: Any) -> None:
        seen.append(("gone", record.title))

    triggers = {
        "before_create": {"Deal": ((process_stamp, frozenset()),)},
        "after_create": {"Deal": ((process_made, frozenset()),)},
        "before_update": {"Deal": ((process_changing, frozenset({"stage"})),)},
        "after_update": {"Deal": ((process_changed, frozenset()),)},
        "after_delete": {"Deal": ((process_gone, frozenset()),)},
    }
    processes.register(events, triggers)
    with Session(crm_db.engine) as session, session.begin():
        run = run_of(processes, session)
        made = run.create("Deal", {"title": "new", "owner": 1})
        run.update("Deal", [where.eq(Deal.id, made.id)], {"stage": "won"})
        run.update("Deal", [where.eq(Deal.id, made.id)], {"amount": 3})  # stage unchanged
        run.delete("Deal", [where.eq(Deal.id, made.id)])
    assert seen == [
        ("stamp", 4),
        ("made", "NEW"),
        ("changing", "new", "won"),
        ("changed", "new", "won"),
        ("changed", "won", "won"),
        ("gone", "NEW"),
    ]


def test_processes_that_trigger_each_other_stop(
    processes: Processes, events: Events, crm_db: rt_crm.Crm
) -> None:
    def process_again(run: Run, record: Any, old: Any, user: Any) -> None:
        run.set(record, {"amount": (record.amount or 0) + 1})

    processes.register(events, {"after_update": {"Deal": ((process_again, frozenset()),)}})
    with pytest.raises(ApiError) as raised, Session(crm_db.engine) as session, session.begin():
        run_of(processes, session).update("Deal", [where.eq(Deal.id, 1)], {"stage": "won"})
    assert raised.value.code == "process_loop"
    assert "more than 8 levels deep (at again)" in raised.value.message


def test_scheduled_processes_run_in_a_transaction(
    processes: Processes, events: Events, crm_web: rt_crm.Crm
) -> None:
    seen: list[Any] = []

    def process_nightly(run: Run) -> None:
        seen.append(run.user)
        run.update("Deal", [where.eq(Deal.id, 2)], {"stage": "won"})

    processes.register(events, {}, (), {"nightly": ("0 3 * * *", process_nightly)})
    assert events.schedules["nightly"].cron == "0 3 * * *"
    events.run_scheduled("nightly", crm_web.database)
    assert seen == [None]
    with crm_web.database.session() as session:
        assert session.get(Deal, 2).stage == "won"


# --- endpoints over HTTP ---------------------------------------------------------------------

NOTE = Resource(
    name="input of note",
    path="/notes",
    label="note",
    model=User,
    fields=field_map(
        FieldInfo("text", "string", required=True),
        FieldInfo("times", "integer"),
        FieldInfo("company", "ref", column="company", relation="many_to_one", target="Company"),
    ),
    timestamps=False,
    actions=frozenset(),
)
rt_crm.catalog.adopt(NOTE)


def process_note(run: Run, input: Any, user: Any) -> None:
    if input.text == "refuse":
        raise run.error(409, "Refused")
    company = input.company.name if input.company else None
    run.enqueue("note", {"text": input.text, "times": input.times, "company": company})


def process_win(run: Run, record: Any, user: Any) -> None:
    run.set(record, {"stage": "won"})


@pytest.fixture
def api(processes: Processes, events: Events, serve: Serve) -> Any:
    endpoints: list[Endpoint] = [
        processes.endpoint(
            "note", "POST", "/notes", process_note, roles=("sales",), entity=None, inputs=NOTE
        ),
        processes.endpoint(
            "look", "GET", "/look", process_note, roles=("sales",), entity=None, inputs=NOTE
        ),
        processes.endpoint(
            "win",
            "POST",
            "/deals/{id}/actions/win",
            process_win,
            roles=("sales",),
            entity="Deal",
            inputs=None,
        ),
    ]
    processes.register(events, {}, endpoints)
    return serve(endpoint_routes(events))


def test_a_custom_endpoint_validates_its_input_and_runs(api: Any, outbox: Outbox) -> None:
    sales = {"X-User": "ann"}
    answer = api.post("/api/notes", json={"text": "hi", "times": 2, "company": 1}, headers=sales)
    assert (answer.status_code, answer.json()) == (200, {"ok": True})
    assert outbox.sent == [("note", {"text": "hi", "times": 2, "company": "Acme"})]
    assert api.get("/api/look?text=q&times=3", headers=sales).status_code == 200
    assert outbox.sent[-1] == ("note", {"text": "q", "times": 3, "company": None})
    bad = api.get("/api/look?text=q&times=x", headers=sales)
    assert bad.status_code == 422 and "times" in bad.json()["error"]["fields"]
    assert api.post("/api/notes", json={}, headers=sales).status_code == 422
    hidden = api.post("/api/notes", json={"text": "x", "company": 2}, headers=sales)
    assert hidden.status_code == 422  # Beta is bob's: ann may not read it
    refused = api.post("/api/notes", json={"text": "refuse"}, headers=sales)
    assert refused.status_code == 409 and refused.json()["error"]["message"] == "Refused"
    assert api.post("/api/notes", json={"text": "x"}).status_code == 401
    forbidden = api.post("/api/notes", json={"text": "x"}, headers={"X-User": "vic"})
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["message"] == "Your role may not call note."
    assert (
        api.post("/api/notes", json={"text": "x"}, headers={"X-User": "admin"}).status_code == 200
    )


def test_a_record_action_answers_with_the_record(api: Any) -> None:
    won = api.post("/api/deals/1/actions/win", headers={"X-User": "ann"})
    assert won.status_code == 200 and won.json()["record"]["stage"] == "won"
    assert api.post("/api/deals/2/actions/win", headers={"X-User": "ann"}).status_code == 404
    assert api.post("/api/deals/9/actions/win", headers={"X-User": "admin"}).status_code == 404
    malformed = api.post("/api/deals/1/actions/win", content=b"{", headers={"X-User": "ann"})
    assert malformed.status_code == 400
