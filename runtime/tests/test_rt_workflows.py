"""Guarded workflows (``crmgen_runtime.workflows``): the small CRM's ``Deal.stage`` moves
new -> qualified -> won (managers only, with a company, over 100) and into lost from anywhere; through
the API, a kanban move, an import, the detail page's buttons, the forms and inline edits on
SQLite and PostgreSQL, and through the writes of processes (checked as the process's user,
unless the process bypasses the workflow)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from conftest import Serve, WebClient, site_routes
from crmgen_runtime import crud, workflows, writes
from crmgen_runtime.errors import ApiError
from crmgen_runtime.processes import Processes, Record, Run
from crmgen_runtime.web import boards, forms, imports, lists, records
from crmgen_runtime.web.site import Site
from crmgen_runtime.workflows import Workflow
from rt_web import ui_data
from starlette.testclient import TestClient

ADMIN = {"X-User": "admin"}

WORKFLOW = Workflow.of(
    "stage",
    {
        "qualified": {"from": ["new"]},
        "won": {"from": ["qualified"], "roles": ["manager"], "require": ["company"]},
        "lost": {},
    },
    initial="new",
    where={"won": lambda user: rt_crm.Deal.amount > 100},
)
STATES = ["new", "qualified", "won", "lost"]


@pytest.fixture
def guarded(crm: rt_crm.Crm, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``Deal`` with the workflow, four stages, and sellers who may change the stage."""
    deals = crm.deals
    stage = deals.fields["stage"]
    monkeypatch.setitem(deals.fields, "stage", replace(stage, options={"values": STATES}))
    monkeypatch.setitem(deals.rules, "sales", rt_crm.Rule(dict(rt_crm.OWN_READ)))
    object.__setattr__(deals, "workflow", WORKFLOW)
    try:
        yield
    finally:
        object.__setattr__(deals, "workflow", None)


@pytest.fixture
def api(crm_web: rt_crm.Crm, serve: Serve, guarded: None) -> TestClient:
    return serve(crud.routes(crm_web.deals))


def patch(api: TestClient, deal: int, user: str = "admin", **values: Any) -> Any:
    return api.patch(f"/api/deals/{deal}", json=values, headers={"X-User": user})


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    found: dict[str, Any] = response.json()["error"]
    return found


def test_allowed_moves_pass_and_others_are_a_409_naming_the_next_states(api: TestClient) -> None:
    found = error(patch(api, 1, stage="won"), 409)
    assert found["code"] == "transition_not_allowed"
    assert "from 'new' to 'won'" in found["message"]
    assert "qualified, lost" in found["message"]
    assert found["fields"] == {"stage": "Allowed next states: qualified, lost."}
    assert patch(api, 1, stage="qualified").json()["stage"] == "qualified"
    won = patch(api, 1, stage="won")
    assert won.status_code == 200, won.text  # admin: every role
    assert won.json()["stage"] == "won"
    error(patch(api, 1, stage="qualified"), 409)  # won -> qualified: no transition
    found = error(patch(api, 1, stage=None), 409)  # a state is never cleared
    assert "to empty" in found["message"]
    assert patch(api, 1, stage="lost").json()["stage"] == "lost"  # lost: from any state
    assert patch(api, 1, title="Big one", stage="lost").status_code == 200  # no change of stage


def test_a_role_the_transition_does_not_name_is_a_403(api: TestClient) -> None:
    assert patch(api, 1, "ann", stage="qualified").status_code == 200  # ann's own deal
    found = error(patch(api, 1, "ann", stage="won"), 403)
    assert found["message"] == "Only manager may move stage to 'won'."
    assert patch(api, 1, "ann", stage="lost").status_code == 200


def test_entering_a_state_with_a_required_field_empty_is_a_422(api: TestClient) -> None:
    created = api.post("/api/deals", json={"title": "Loose"}, headers={"X-User": "admin"})
    assert created.status_code == 201, created.text
    deal = created.json()
    assert deal["stage"] == "new"  # the default: the initial state
    assert patch(api, deal["id"], stage="qualified").status_code == 200
    found = error(patch(api, deal["id"], stage="won"), 422)
    assert found["fields"] == {"company": "Required to move to won."}
    moved = patch(api, deal["id"], stage="won", company=1, amount="101.00")
    assert moved.json()["stage"] == "won"


def test_a_record_that_does_not_then_match_the_conditions_is_a_409(api: TestClient) -> None:
    assert patch(api, 3, stage="qualified").status_code == 200
    found = error(patch(api, 3, stage="won", amount="100.00"), 409)
    assert found["code"] == "transition_not_allowed"
    assert found["message"] == "The record does not meet the conditions of moving stage to 'won'."
    deal = api.get("/api/deals/3", headers={"X-User": "admin"}).json()
    assert (deal["stage"], deal["amount"]) == ("qualified", "150.00")  # nothing was written
    assert patch(api, 3, stage="won").json()["stage"] == "won"


def test_a_new_record_starts_in_the_initial_state_or_one_open_from_anywhere(
    api: TestClient,
) -> None:
    def create(**values: Any) -> Any:
        return api.post("/api/deals", json={"title": "N", **values}, headers={"X-User": "admin"})

    found = error(create(stage="won", company=1, amount="500.00"), 409)
    assert "from no state to 'won'" in found["message"]
    assert "new, lost" in found["message"]
    assert create(stage="new").json()["stage"] == "new"
    assert create(stage="lost").json()["stage"] == "lost"


class Outbox:
    def enqueue(self, session: Any, *, kind: str, payload: Any, key: str | None) -> None:
        return None


def test_process_writes_honour_the_workflow_unless_the_process_bypasses_it(
    crm_web: rt_crm.Crm, guarded: None
) -> None:
    """A process writes as its user (none for a scheduled one); ``workflow: bypass`` (the
    process ``closer`` here) passes; the row writers themselves are not guarded."""
    processes = Processes(rt_crm.catalog, outbox=Outbox(), bypass_workflow=["closer"])
    Deal = rt_crm.Deal
    assert crm_web.database is not None
    with crm_web.database.session() as session:
        run = Run(processes, session, crm_web.ann, "mover")

        def refused(status: int, write: Callable[[], Any]) -> None:
            with pytest.raises(ApiError) as caught:
                write()
            assert caught.value.status == status, caught.value.message

        refused(409, lambda: run.update("Deal", [Deal.id == 2], {"stage": "won"}))
        assert run.update("Deal", [Deal.id == 1], {"stage": "qualified"}) == 1
        refused(403, lambda: run.set(run.load("Deal", 1), {"stage": "won"}))  # managers only
        refused(409, lambda: run.create("Deal", {"title": "P", "stage": "won"}))
        assert run.create("Deal", {"title": "P", "stage": "lost"}).stage == "lost"
        # a before trigger's set: from the stored state, or the start states of a new record
        draft = Record(session, crm_web.deals, {"id": 2, "stage": "new"}, {})
        refused(409, lambda: run.set(draft, {"stage": "won"}))
        run.set(draft, {"stage": "qualified"})
        assert draft.changes == {"stage": "qualified"}
        refused(409, lambda: run.set(Record(session, crm_web.deals, {}, {}), {"stage": "won"}))
        scheduled = Run(processes, session, None, "mover")  # no user: no role
        refused(403, lambda: scheduled.update("Deal", [Deal.id == 1], {"stage": "won"}))
        closer = Run(processes, session, None, "closer")
        assert closer.update("Deal", [Deal.id.in_([1, 2])], {"stage": "won"}) == 2
        assert closer.create("Deal", {"title": "Q", "stage": "won"}).stage == "won"
        closer.set(Record(session, crm_web.deals, {"id": 3, "stage": "new"}, {}), {"stage": "won"})
        new_id = writes.insert_row(
            session, crm_web.deals, {"title": "R", "stage": "won"}, None, None
        )
        with pytest.raises(ApiError) as refused_request:  # the request entry point is guarded
            writes.update_in(session, crm_web.deals, crm_web.admin, new_id, {"stage": "new"}, None)
        assert refused_request.value.status == 409


def test_the_workflow_lists_next_states() -> None:
    assert WORKFLOW.allowed_from("new") == ["qualified", "lost"]
    assert WORKFLOW.allowed_from("won") == ["lost"]
    assert WORKFLOW.allowed_from(None) == ["lost"]
    assert WORKFLOW.into("won") is not None and WORKFLOW.into("new") is None
    # what a board offers: the next states whose roles the user has
    assert workflows.moves(WORKFLOW, "qualified", rt_crm.Crm.ann, False) == ["lost"]
    assert workflows.moves(WORKFLOW, "qualified", rt_crm.Crm.admin, True) == ["won", "lost"]
    manager = rt_crm.Crm.person(9, "manager")
    assert workflows.moves(WORKFLOW, "qualified", manager, False) == ["won", "lost"]


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """The small CRM's UI with a kanban board of deals by stage, imported by stage value."""
    data = ui_data()
    deals = data["entities"]["deals"]
    deals["boards"] = {"kanban": KANBAN, "calendar": None}
    for entity in data["entities"].values():
        entity.setdefault("boards", {"kanban": None, "calendar": None})
    (tmp_path / "ui.json").write_text(json.dumps(data), encoding="utf-8")
    return Site(rt_crm.catalog, tmp_path)


KANBAN = {
    "by": "stage",
    "title": "title",
    "fields": [],
    "columns": [{"value": s, "label": {"en": s}, "weight": None, "color": None} for s in STATES],
    "nullable": False,
    "sums": {},
}


def test_a_kanban_move_is_checked_like_the_api(
    site: Site, web_client: WebClient, guarded: None
) -> None:
    client = web_client(site_routes(site, boards), site=site)
    page = client.get("/deals/kanban", headers=ADMIN)
    assert page.status_code == 200, page.text
    new = re.search(r'data-value="new"[^>]*data-moves="([^"]*)"', page.text)
    assert new and new.group(1) == "qualified lost"  # the admin: every role
    card = re.search(r'<li class="kanban-card" data-id="2".*?</li>', page.text, re.DOTALL)
    assert card and re.findall(r'name="value" value="(\w*)" role="menuitem"', card.group(0)) == [
        "qualified",
        "lost",
    ]  # the card's menu: the allowed moves, not its own column
    form = {"csrf_token": form_token(page.text), "id": "2", "value": "won", "next": ""}
    refused = client.post("/deals/kanban/move", data=form, headers=ADMIN)
    assert refused.status_code == 409 and "Allowed next states: qualified, lost." in refused.text
    russian = client.post(
        "/deals/kanban/move", data=form, headers={**ADMIN, "Accept-Language": "ru"}
    )
    assert "Допустимые следующие состояния: qualified, lost." in russian.text
    moved = client.post("/deals/kanban/move", data={**form, "value": "qualified"}, headers=ADMIN)
    assert moved.status_code == 303


def test_an_import_is_checked_row_by_row(
    site: Site, web_client: WebClient, guarded: None, crm_web: rt_crm.Crm
) -> None:
    client = web_client(site_routes(site, imports), site=site)
    client.headers.update(ADMIN)
    page = client.get("/deals/import")
    sent = client.post(
        "/deals/import",
        data={"csrf_token": form_token(page.text)},
        files={"file": ("deals.csv", b"id,Stage\n1,won\n2,lost\n", "text/csv")},
    )
    assert sent.status_code == 303, sent.text
    location = sent.headers["location"]
    mapping = {"c0": "id", "c1": "stage", "match": "id"}
    preview = client.get(f"{location}/preview", params=mapping)
    done = client.post(f"{location}/run", data={"csrf_token": form_token(preview.text), **mapping})
    assert done.status_code == 303
    result = client.get(f"{location}/result").text
    assert 'id="import-updated">1<' in result
    failed = client.get(f"{location}/failed.csv").content.decode("utf-8-sig")
    assert "Allowed next states: qualified, lost." in failed
    assert crm_web.engine is not None
    with crm_web.engine.connect() as connection:
        table = rt_crm.Deal.__table__
        stages = dict(connection.execute(sa.select(table.c.id, table.c.stage)).all())
    assert (stages[1], stages[2]) == ("new", "lost")


@pytest.fixture
def detail(site: Site, web_client: WebClient, guarded: None) -> WebClient:
    """The detail pages of the small CRM, the deal's stage labelled by state."""
    meta = site.entities["deals"]["fields"]["stage"]
    meta["choices"] = [[s, {"en": s.title(), "ru": f"ru-{s}"}] for s in STATES]
    client: WebClient = web_client(site_routes(site, records), site=site)
    return client


def buttons(html: str) -> list[str]:
    return re.findall(r'data-transition="(\w+)"', html)


def test_the_detail_page_shows_the_allowed_moves_as_buttons(
    detail: WebClient, crm_web: rt_crm.Crm
) -> None:
    ann = {"X-User": "ann"}  # a seller: deal 1 is hers
    page = detail.get("/deals/1", headers=ann)
    assert buttons(page.text) == ["qualified", "lost"]
    assert ">→ Qualified</button>" in page.text
    form = {"csrf_token": form_token(page.text), "version": "1", "state": "qualified"}
    moved = detail.post("/deals/1/transition", data=form, headers=ann)
    assert moved.status_code == 303 and moved.headers["location"] == "/deals/1?moved=qualified"
    page = detail.get(moved.headers["location"], headers=ann)
    assert "Moved to Qualified." in page.text
    assert buttons(page.text) == ["lost"]  # won: managers only
    # a move the page did not offer: refused on the page, with the reason, not an error page
    token = form_token(page.text)
    refused = detail.post(
        "/deals/1/transition", data={"csrf_token": token, "state": "won"}, headers=ann
    )
    assert refused.status_code == 403
    assert 'role="alert">Your role may not move this record to Won.<' in refused.text
    assert buttons(refused.text) == ["lost"]  # the detail page, shown again
    back = detail.post(
        "/deals/1/transition", data={"csrf_token": token, "state": "new"}, headers=ann
    )
    assert back.status_code == 409
    assert "Not moved to New: Stage: Allowed next states: won, lost." in back.text
    stale = {"csrf_token": token, "state": "lost", "version": "1"}
    assert (
        "Someone changed this record"
        in detail.post("/deals/1/transition", data=stale, headers=ann).text
    )
    forged = detail.post("/deals/1/transition", data={"state": "lost"}, headers=ann)
    assert forged.status_code == 403
    assert crm_web.database is not None
    with crm_web.database.session() as session:  # a qualified deal without a company, for 10
        loose = writes.insert_row(
            session, crm_web.deals, {"title": "L", "stage": "qualified", "amount": 10}, None, None
        )
    russian = {**ADMIN, "Accept-Language": "ru"}
    won = {"csrf_token": token, "state": "won"}
    missing = detail.post(f"/deals/{loose}/transition", data=won, headers=russian)
    assert missing.status_code == 422
    assert "Не переведено в «ru-won»:" in missing.text
    found = detail.post(f"/deals/{loose}/transition", data=won, headers=ADMIN)
    assert "Company: Required to move to won." in found.text
    patched = crud.update_record(
        crm_web.database, crm_web.deals, crm_web.admin, loose, {"company": 1}, None
    )
    assert patched["company"] is not None
    unmet = detail.post(f"/deals/{loose}/transition", data=won, headers=ADMIN)
    assert unmet.status_code == 409
    assert "The record does not meet the conditions of won." in unmet.text
    assert detail.get("/deals/2", headers={"X-User": "viewer"}).text.count("data-transition") == 0


def options(html: str, name: str) -> list[str]:
    found = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.DOTALL)
    assert found, html
    return [v for v in re.findall(r'<option value="(\w*)"', found.group(1)) if v]


def test_forms_and_inline_edits_offer_only_the_allowed_states(
    site: Site, web_client: WebClient, guarded: None, crm_web: rt_crm.Crm
) -> None:
    site.entities["deals"]["fields"]["stage"]["choices"] = [[s, {"en": s}] for s in STATES]
    site.entities["deals"]["lists"]["inline_edit"] = True
    client = web_client(site_routes(site, forms, lists), site=site)
    ann = {"X-User": "ann"}
    assert options(client.get("/deals/new", headers=ann).text, "stage") == ["new", "lost"]
    assert options(client.get("/deals/1/edit", headers=ann).text, "stage") == [
        "new",
        "qualified",
        "lost",
    ]
    assert crm_web.database is not None
    crud.update_record(
        crm_web.database, crm_web.deals, crm_web.admin, 1, {"stage": "qualified"}, None
    )
    edit = client.get("/deals/1/edit", headers=ann).text
    assert options(edit, "stage") == ["qualified", "lost"]  # won: managers only
    assert options(client.get("/deals/1/edit", headers=ADMIN).text, "stage") == [
        "qualified",
        "won",
        "lost",
    ]
    listed = client.get("/deals/", headers=ADMIN).text
    cell = re.search(
        r'<tr data-id="1".*?data-field="stage"[^>]*data-states="([^"]*)"', listed, re.DOTALL
    )
    assert cell and cell.group(1) == "qualified won lost"
