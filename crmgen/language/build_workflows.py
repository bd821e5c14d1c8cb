"""Guarded workflows: ``workflow: {field, transitions}`` on an entity, checked into
``model.Workflow``.

The workflow's ``field`` is an enum field of the entity; its values are the states. Each key of
``transitions`` is a state a record may be moved into, with the states it may come ``from``
(none: from any state), the ``roles`` that may make the move (none: whoever may update the
record), the fields it ``require``s filled on entering the state and the where-conditions
(``where``) the record must then match. A state no transition names
is entered only by creating a record in it as the field's default. The app refuses every other
change of the field (``crmgen_runtime.workflows``).
"""

from __future__ import annotations

from typing import Any

from crmgen.diagnostics import did_you_mean
from crmgen.language.context import USER, Context
from crmgen.language.expressions import EntityValue
from crmgen.language.model import Transition, Workflow
from crmgen.language.yaml_loader import Path


def build_workflow(ctx: Context, entity: str, raw: Any, path: Path) -> Workflow | None:
    """The checked ``workflow:`` of ``entity`` (None when it has none or its field is wrong)."""
    if not isinstance(raw, dict):
        return None
    name = raw["field"]
    f = ctx.known_field(entity, name, path + ("field",))
    if f is None:
        return None
    if f.type != "enum":
        ctx.error(
            path + ("field",),
            "workflow",
            f"a workflow moves an enum field through its values; '{name}' is a {f.type} field",
        )
        return None
    if f.read_only or f.computed is not None or f.rollup is not None:
        ctx.error(
            path + ("field",),
            "workflow",
            f"'{name}' is not written by users (read-only, computed or a rollup); a workflow "
            "guards a field users change",
        )
    states = tuple(v.name for v in f.values)
    transitions = []
    for to, spec in (raw.get("transitions") or {}).items():
        at = path + ("transitions", to)
        if not _state(ctx, entity, name, to, states, at, at_key=True):
            continue
        spec = spec or {}
        origins = spec.get("from") or ()
        origins = (origins,) if isinstance(origins, str) else tuple(origins)
        for i, origin in enumerate(origins):
            where = at + ("from",) if isinstance(spec.get("from"), str) else at + ("from", i)
            _state(ctx, entity, name, origin, states, where)
        roles = tuple(spec.get("roles") or ())
        for i, role in enumerate(roles):
            ctx.known_role(role, at + ("roles", i))
        require = tuple(spec.get("require") or ())
        for i, needed in enumerate(require):
            found = ctx.known_field(entity, needed, at + ("require", i))
            if found is not None and (needed == name or found.read_only):
                ctx.error(
                    at + ("require", i),
                    "workflow",
                    f"'{needed}' cannot be required on entering {to}: users do not write it",
                )
        where = ctx.where(
            spec.get("where"), at + ("where",), entity, ctx.scope(user=EntityValue(USER))
        )
        transitions.append(Transition(to, origins, roles, require, where))
    return Workflow(name, tuple(transitions), ctx.pos(path, at_key=True))


def _state(
    ctx: Context,
    entity: str,
    field: str,
    state: Any,
    states: tuple[str, ...],
    path: Path,
    at_key: bool = False,
) -> bool:
    """Whether ``state`` is a value of the workflow's enum field (a located error if not)."""
    if state in states:
        return True
    hint = did_you_mean(str(state), states) or f" (its states: {', '.join(states)})"
    ctx.error(path, "workflow", f"'{state}' is no value of {entity}.{field}{hint}", at_key)
    return False
