"""Hooks on the writes of any entity: ``register(events)`` is called after the spec's processes
registered theirs, so these run after them."""

from typing import Any

from crmgen_runtime.errors import ApiError
from crmgen_runtime.events import Event


def register(events: Any) -> None:
    events.on("before_create", "Deal", stamp)

    @events.hook("before_update", "Deal", fields=["title"])
    def no_shouting(event: Event) -> None:
        if str(event.values.get("title", "")).isupper():
            raise ApiError(422, "validation", "No shouting in titles.")


def stamp(event: Event) -> None:
    """Runs after the spec's price_deal process: the discount is already set."""
    event.values["note"] = f"discount {event.values.get('discount')}"
