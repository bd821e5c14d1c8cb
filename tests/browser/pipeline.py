"""Deals of the reference CRM in a given stage, reached the pipeline's way: created as a lead by
a seller, then moved one allowed step at a time (``won`` by the admin: only managers win)."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Server

# the moves from a new lead to each stage (examples/crm/entities.yaml, Deal's workflow)
ROUTE = {
    "lead": (),
    "qualification": ("qualification",),
    "proposal": ("proposal",),
    "negotiation": ("proposal", "negotiation"),
    "won": ("proposal", "won"),
    "lost": ("lost",),
}


def deal_in(live: Server, who: str, stage: str, **values: Any) -> dict[str, Any]:
    """A deal created by ``who`` and moved to ``stage`` (the last move to ``won`` as admin)."""
    with live.client(live.token(who)) as client:
        response = client.post("/api/deals", json=values)
        assert response.status_code == 201, response.text
        record = dict(response.json())
    for step in ROUTE[stage]:
        mover = "admin" if step == "won" else who
        with live.client(live.token(mover)) as client:
            moved = client.patch(f"/api/deals/{record['id']}", json={"stage": step})
            assert moved.status_code == 200, moved.text
            record = dict(moved.json())
    return record
