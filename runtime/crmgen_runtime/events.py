"""The event registry: code that runs inside the transaction of a write.

Every write of a record fires two events, *before* and *after* the row is written: ``create``,
``update`` and ``delete``. The spec's processes register on them (the generated ``processes``
module), and so may an app's own code (``custom/``), through the same ``Events.on``; hooks run
in the order they were registered, the spec's first. A hook gets one ``Event`` and may change
``event.values`` before a create or update, or raise ``ApiError`` to refuse the write (the
transaction is rolled back). Hooks are synchronous: the write runs in a worker thread with its
own database session (``event.session``), which the hook uses as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from crmgen_runtime.principal import CurrentUser

MOMENTS = (
    "before_create",
    "after_create",
    "before_update",
    "after_update",
    "before_delete",
    "after_delete",
)


@dataclass
class Event:
    """One write, as its hooks see it.

    ``values``: the fields being written (before a create or update: change them here);
    ``stored``: the record as it was (update, delete), by field name; ``changed``: the fields
    whose value an update changes; ``record_id``: the record's id (after a create, and for an
    update or delete).
    """

    moment: str
    session: Any
    resource: Any  # crmgen_runtime.resources.Resource
    user: CurrentUser | None
    values: dict[str, Any] = field(default_factory=dict)
    stored: dict[str, Any] = field(default_factory=dict)
    changed: frozenset[str] = frozenset()
    record_id: int | None = None

    @property
    def entity(self) -> str:
        return str(self.resource.name)

    def record(self) -> Any:
        """The stored record as a model object, read afresh (after a create or update)."""
        if self.record_id is None:
            raise LookupError("this event has no stored record")
        return self.session.get(self.resource.model, self.record_id, populate_existing=True)


Hook = Callable[[Event], None]


@dataclass(frozen=True)
class Registration:
    hook: Hook
    fields: frozenset[str] = frozenset()  # update events: run only when one of them changed


class Events:
    """The hooks of one app, by moment and entity name."""

    def __init__(self) -> None:
        self._hooks: dict[tuple[str, str], list[Registration]] = {}

    def on(self, moment: str, entity: str, hook: Hook, *, fields: Iterable[str] = ()) -> Hook:
        """Run ``hook`` at ``moment`` (one of ``MOMENTS``) of every write of ``entity``; an
        update hook with ``fields`` runs only when one of them changes. Returns ``hook``."""
        if moment not in MOMENTS:
            raise ValueError(f"unknown moment {moment!r}: one of {', '.join(MOMENTS)}")
        self._hooks.setdefault((moment, entity), []).append(Registration(hook, frozenset(fields)))
        return hook

    def hook(
        self, moment: str, entity: str, *, fields: Iterable[str] = ()
    ) -> Callable[[Hook], Hook]:
        """``on`` as a decorator: ``@events.hook("before_create", "Deal")``."""

        def register(hook: Hook) -> Hook:
            return self.on(moment, entity, hook, fields=fields)

        return register

    def watches(self, moment: str, entity: str) -> bool:
        """Whether any hook runs at ``moment`` of ``entity`` (a write skips work when none)."""
        return bool(self._hooks.get((moment, entity)))

    def fire(self, event: Event) -> None:
        """Run the hooks of ``event``'s moment and entity, in the order they were registered."""
        for registration in self._hooks.get((event.moment, event.entity), ()):
            if registration.fields and not registration.fields & event.changed:
                continue
            registration.hook(event)
