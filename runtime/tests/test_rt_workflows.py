"""Guarded workflows (``crmgen_runtime.workflows``): the small CRM's ``Deal.stage`` moves
new -> qualified -> won (managers only, with a company, over 100) and into lost from anywhere; through
the API on SQLite and PostgreSQL, and through the row writers processes use."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import rt_crm
from conftest import Serve
from crmgen_runtime import crud, writes
from crmgen_runtime.errors import ApiError
from crmgen_runtime.workflows import Workflow
from starlette.testclient import TestClient

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
    assert found["fields"] == {"company": "Required to move stage to 'won'."}
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


def test_process_writes_are_not_guarded(crm_web: rt_crm.Crm, guarded: None) -> None:
    assert crm_web.database is not None
    with crm_web.database.session() as session:
        writes.update_row(session, crm_web.deals, 2, {"stage": "won"}, crm_web.ann, None)
        new_id = writes.insert_row(
            session, crm_web.deals, {"title": "P", "stage": "won"}, None, None
        )
        with pytest.raises(ApiError) as refused:  # the request entry point is
            writes.update_in(session, crm_web.deals, crm_web.admin, new_id, {"stage": "new"}, None)
        assert refused.value.status == 409


def test_the_workflow_lists_next_states() -> None:
    assert WORKFLOW.allowed_from("new") == ["qualified", "lost"]
    assert WORKFLOW.allowed_from("won") == ["lost"]
    assert WORKFLOW.allowed_from(None) == ["lost"]
    assert WORKFLOW.into("won") is not None and WORKFLOW.into("new") is None
