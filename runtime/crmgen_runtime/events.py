"""The event registry: code that runs inside the transaction of a write.

Every write of a record fires two events, *before* and *after* the row is written: ``create``,
``update`` and ``delete``. The spec's processes register on them (the generated ``processes``
module), and so may an app's own code (``custom/``), through the same ``Events.on``; hooks run
in the order they were registered, the spec's first. A hook gets one ``Event`` and may change
``event.values`` before a create or update, or raise ``ApiError`` to refuse the write (the
transaction is rolled back). Hooks are synchronous: the write runs in a worker thread with its
own database session (``event.session``), which the hook uses as it is.

The same registry holds what the app runs on request or on a clock: its custom endpoints and
record actions (``endpoint``: each has a name, an HTTP method and path, and ``run``; the app
serves them below ``/api`` and the web UI's action buttons call them) and its scheduled
processes (``schedule``: a name, a five-field cron and the function the scheduler runs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

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


class Endpoint(Protocol):
    """A custom endpoint or a record action, as the app registers it."""

    name: str
    method: str  # GET, POST, ...
    path: str  # below /api, e.g. /deals/{id}/win

    async def endpoint(self, request: Request) -> Response:
        """The HTTP handler."""
        ...

    def run(
        self,
        database: Any,
        user: Any,
        record_id: int | None,
        body: bytes = b"",
        params: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        """Check who calls, validate the input, run the process (blocking)."""
        ...


@dataclass(frozen=True)
class Schedule:
    """A process the scheduler runs on ``cron`` (five fields, in the app's time zone)."""

    name: str
    cron: str
    run: Callable[[Any], None]  # run(database): the process, in a transaction of its own


class Events:
    """The hooks of one app, by moment and entity name; its endpoints and schedules by name."""

    def __init__(self) -> None:
        self._hooks: dict[tuple[str, str], list[Registration]] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._schedules: dict[str, Schedule] = {}

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

    def endpoint(self, endpoint: Endpoint) -> Endpoint:
        """Serve ``endpoint`` (a custom endpoint or a record action); returns it."""
        if endpoint.name in self._endpoints:
            raise ValueError(f"the endpoint {endpoint.name!r} is registered already")
        self._endpoints[endpoint.name] = endpoint
        return endpoint

    @property
    def endpoints(self) -> Mapping[str, Endpoint]:
        """The registered endpoints and actions by name, in registration order."""
        return self._endpoints

    def schedule(self, name: str, cron: str, run: Callable[[Any], None]) -> Schedule:
        """Run ``run(database)`` on ``cron``; returns the schedule."""
        if name in self._schedules:
            raise ValueError(f"the scheduled process {name!r} is registered already")
        registered = self._schedules[name] = Schedule(name, cron, run)
        return registered

    @property
    def schedules(self) -> Mapping[str, Schedule]:
        """The scheduled processes by name, in registration order."""
        return self._schedules

    def run_scheduled(self, name: str, database: Any) -> None:
        """Run the scheduled process ``name`` now; a KeyError names the known ones."""
        found = self._schedules.get(name)
        if found is None:
            known = ", ".join(sorted(self._schedules)) or "none"
            raise KeyError(f"no scheduled process {name!r} (known: {known})")
        found.run(database)


def endpoint_routes(events: Events) -> list[BaseRoute]:
    """The registered endpoints and actions as routes (the app mounts them below ``/api``)."""
    return [
        Route(e.path, e.endpoint, methods=[e.method], name=f"process_{e.name}")
        for e in events.endpoints.values()
    ]
