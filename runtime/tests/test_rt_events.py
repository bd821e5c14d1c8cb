"""``crmgen_runtime.events``: hooks by moment and entity, in registration order, with the
``fields`` filter of update hooks; an ``Event`` reads its stored record afresh."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from crmgen_runtime.events import MOMENTS, Event, Events
from sqlalchemy.orm import Session


def test_hooks_run_in_order_for_their_moment_and_entity_only(crm: Any) -> None:
    events, seen = Events(), []
    deals = crm.catalog.by_name["Deal"]
    events.on("before_create", "Deal", lambda e: seen.append(("first", e.entity)))

    @events.hook("before_create", "Deal")
    def second(event: Event) -> None:
        seen.append(("second", event.values.get("title")))
        event.values["title"] = "changed"

    events.on("after_create", "Deal", lambda e: seen.append(("after", e.record_id)))
    events.on("before_create", "Company", lambda e: seen.append(("company", None)))
    assert events.watches("before_create", "Deal") and not events.watches("before_delete", "Deal")
    draft = {"title": "Big"}
    events.fire(Event("before_create", None, deals, crm.ann, values=draft))
    assert seen == [("first", "Deal"), ("second", "Big")] and draft["title"] == "changed"
    assert second.__name__ == "second"  # the decorator gives the function back


def test_an_update_hook_with_fields_runs_only_when_one_of_them_changed(crm: Any) -> None:
    events, seen = Events(), []
    deals = crm.catalog.by_name["Deal"]
    events.on("after_update", "Deal", lambda e: seen.append("amount"), fields=["amount"])
    events.on("after_update", "Deal", lambda e: seen.append("any"))
    events.fire(Event("after_update", None, deals, None, changed=frozenset({"title"})))
    events.fire(Event("after_update", None, deals, None, changed=frozenset({"amount"})))
    assert seen == ["any", "amount", "any"]


def test_unknown_moments_are_refused() -> None:
    assert "before_delete" in MOMENTS
    with pytest.raises(ValueError, match="unknown moment 'on_save'"):
        Events().on("on_save", "Deal", lambda e: None)


def test_an_event_reads_its_record_afresh(crm_db: Any) -> None:
    deals = crm_db.catalog.by_name["Deal"]
    with Session(crm_db.engine) as session:
        event = Event("after_update", session, deals, None, record_id=1)
        session.execute(sa.update(crm_db.Deal).where(crm_db.Deal.id == 1).values(title="Bigger"))
        assert event.record().title == "Bigger"
        with pytest.raises(LookupError):
            Event("before_create", session, deals, None).record()


class Ping:
    """An endpoint as an app registers one."""

    name, method, path = "ping", "GET", "/ping"

    async def endpoint(self, request: Any) -> Any:  # pragma: no cover - not served here
        raise NotImplementedError

    def run(
        self,
        database: Any,
        user: Any,
        record_id: int | None,
        body: bytes = b"",
        params: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        return {"pong": record_id}


def test_endpoints_and_schedules_are_registered_once_by_name() -> None:
    events = Events()
    ran: list[Any] = []
    assert events.endpoint(Ping()).name == "ping"
    events.schedule("nightly", "30 2 * * *", ran.append)
    assert list(events.endpoints) == ["ping"]
    assert events.endpoints["ping"].run(None, None, 7) == {"pong": 7}
    with pytest.raises(ValueError, match="registered already"):
        events.endpoint(Ping())
    with pytest.raises(ValueError, match="registered already"):
        events.schedule("nightly", "* * * * *", ran.append)
    assert [(s.name, s.cron) for s in events.schedules.values()] == [("nightly", "30 2 * * *")]
    events.run_scheduled("nightly", "the database")
    assert ran == ["the database"]
    with pytest.raises(KeyError, match=r"known: nightly"):
        events.run_scheduled("weekly", None)
