"""Guarded workflows: the allowed changes of an enum field (the spec's ``workflow:``).

A ``Workflow`` names the field and, per state a record may be moved into, a ``Transition``:
the states it may come from (none: any), the roles that may make it (none: whoever may update
the record; superusers have every role) and the fields that must be filled on entering it.

The request entry points (``writes.create_in`` and ``writes.update_in``: the API, the web forms,
the kanban, inline edits and imports) check every change of the field here and refuse:

- a move no transition allows from the record's current state: 409 ``transition_not_allowed``,
  naming the states it may move to;
- a move by a user without one of the transition's roles: 403 ``forbidden``;
- entering a state with a required field empty: 422 ``validation_error`` naming each field.

A new record starts in the field's default (``initial``), or in a state whose transition has no
``from`` (then its roles and required fields apply), or with the field empty. Clearing the field
of a record that has a state is refused (409).

The writes of process steps (``processes.Run``: create, update, set; and so inbound webhooks,
custom endpoints and record actions) are checked the same way, as the process's user (the
user whose request triggered it, the hook's user, none for a scheduled process: then a
transition with roles refuses), unless the spec's process says ``workflow: bypass``. The row
writers themselves (``writes.insert_row``, ``writes.update_row``) check only when ``guarded``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crmgen_runtime import validation
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser

Condition = Callable[[Any], sa.ColumnElement[bool]]


@dataclass(frozen=True)
class Transition:
    """A move into ``to`` from one of ``origins`` (empty: any state), by one of ``roles``
    (empty: anyone who may update), with the fields ``require`` filled, when the record then
    matches ``where(user)`` (the spec's where-conditions, over the signed-in user)."""

    to: str
    origins: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    require: tuple[str, ...] = ()
    where: Condition | None = None


@dataclass(frozen=True)
class Workflow:
    """The transitions of the enum field ``field``; ``initial``: its default state, if any."""

    field: str
    transitions: tuple[Transition, ...]
    initial: str | None = None

    @classmethod
    def of(
        cls,
        field: str,
        transitions: Mapping[str, Mapping[str, Any]],
        initial: str | None = None,
        where: Mapping[str, Condition] | None = None,
    ) -> Workflow:
        """A workflow from plain data: ``{state: {"from": [...], "roles": [...], "require": [...]}}``
        and the conditions of the states that have some (``where``)."""
        conditions = dict(where or {})
        return cls(
            field,
            tuple(
                Transition(
                    to,
                    tuple(spec.get("from", ())),
                    tuple(spec.get("roles", ())),
                    tuple(spec.get("require", ())),
                    conditions.get(to),
                )
                for to, spec in transitions.items()
            ),
            initial,
        )

    def into(self, state: str) -> Transition | None:
        """The transition that enters ``state`` (None: no change may enter it)."""
        return next((t for t in self.transitions if t.to == state), None)

    def allowed_from(self, state: str | None) -> list[str]:
        """The states a record in ``state`` may move to (None: a record without a state)."""
        return [
            t.to
            for t in self.transitions
            if t.to != state and (not t.origins or (state is not None and state in t.origins))
        ]


def moves(
    workflow: Workflow, state: str | None, user: CurrentUser | None, superuser: bool
) -> list[str]:
    """The states ``user`` may move a record in ``state`` to, as far as the states and the
    roles tell (required fields and conditions are checked on the move)."""
    found = []
    for t in workflow.transitions:
        if t.to not in workflow.allowed_from(state):
            continue
        if superuser or not t.roles or (user is not None and user.has_role(*t.roles)):
            found.append(t.to)
    return found


def starts(workflow: Workflow, user: CurrentUser | None, superuser: bool) -> list[str]:
    """The states ``user`` may create a record in: the initial state, then those a transition
    with no ``from`` enters whose roles the user has."""
    first = [workflow.initial] if workflow.initial is not None else []
    return first + [s for s in moves(workflow, None, user, superuser) if s not in first]


def offered(
    workflow: Workflow, state: str | None, user: CurrentUser | None, superuser: bool
) -> list[str]:
    """The values a form or an inline edit offers for the field: a record in ``state`` keeps
    it or moves on (``moves``); a record without a state (or a new one) gets the start states."""
    if state is None:
        return starts(workflow, user, superuser)
    return [state, *moves(workflow, state, user, superuser)]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


def _not_allowed(label: str, field: str, old: str | None, new: Any, allowed: list[str]) -> ApiError:
    now = "no state" if old is None else f"'{old}'"
    into = "empty" if new is None else f"'{new}'"
    states = ", ".join(allowed) if allowed else "none"
    return ApiError(
        409,
        "transition_not_allowed",
        f"{label} {field} cannot change from {now} to {into}. From {now} it may move to: {states}.",
        {field: validation.message("next_states", states=states)},
    )


def _enter(
    workflow: Workflow,
    transition: Transition,
    user: CurrentUser | None,
    superuser: bool,
    record: Mapping[str, Any],
) -> None:
    """The role (403) and required fields (422) of entering ``transition.to``."""
    if (
        transition.roles
        and not superuser
        and (user is None or not user.has_role(*transition.roles))
    ):
        raise ApiError(
            403,
            "forbidden",
            f"Only {', '.join(transition.roles)} may move {workflow.field} to '{transition.to}'.",
        )
    missing = {
        name: validation.message("state_required", state=transition.to)
        for name in transition.require
        if _empty(record.get(name))
    }
    if missing:
        raise ApiError(422, "validation_error", "Some fields are invalid.", missing)


def check_create(
    workflow: Workflow,
    label: str,
    user: CurrentUser | None,
    superuser: bool,
    asked: Any,
    record: Mapping[str, Any],
) -> None:
    """A new record with ``asked`` in the workflow's field (None: not given, so the default
    applies) and the values ``record``; ``superuser``: whether ``user`` is one (every role)."""
    if asked is None or asked == workflow.initial:
        return
    transition = workflow.into(str(asked))
    if transition is None or transition.origins:
        raise _not_allowed(label, workflow.field, None, asked, _starts(workflow))
    _enter(workflow, transition, user, superuser, record)


def _starts(workflow: Workflow) -> list[str]:
    first = [workflow.initial] if workflow.initial is not None else []
    return first + [s for s in workflow.allowed_from(None) if s not in first]


def check_update(
    workflow: Workflow,
    label: str,
    user: CurrentUser | None,
    superuser: bool,
    stored: Mapping[str, Any],
    values: Mapping[str, Any],
) -> None:
    """A change of a record from ``stored`` by ``values`` (its changed fields)."""
    name = workflow.field
    if name not in values or values[name] == stored.get(name):
        return
    old, new = stored.get(name), values[name]
    if new is None:
        raise _not_allowed(label, name, old, None, workflow.allowed_from(old))
    if old is None:
        check_create(workflow, label, user, superuser, new, {**stored, **values})
        return
    transition = workflow.into(str(new))
    if transition is None or (transition.origins and old not in transition.origins):
        raise _not_allowed(label, name, old, new, workflow.allowed_from(old))
    _enter(workflow, transition, user, superuser, {**stored, **values})


def entered(workflow: Workflow, before: Any, after: Any) -> Transition | None:
    """The transition a write that moved the field from ``before`` to ``after`` made."""
    if after is None or after == before:
        return None
    return workflow.into(str(after))


def check_conditions(
    session: Session,
    resource_model: Any,
    record_id: int,
    transition: Transition | None,
    user: CurrentUser | None,
    field: str,
) -> None:
    """After the write: the record matches the ``where`` of the transition it made (409)."""
    if transition is None or transition.where is None:
        return
    model = resource_model
    found = session.execute(
        sa.select(model.id).where(model.id == record_id, transition.where(user))
    ).first()
    if found is None:
        raise ApiError(
            409,
            "transition_not_allowed",
            f"The record does not meet the conditions of moving {field} to '{transition.to}'.",
            {field: validation.message("state_conditions", state=transition.to)},
        )
