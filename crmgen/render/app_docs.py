"""The generated app's ``docs/``: its data model, entity reference, access matrix and processes.

Everything here is read from the typed model (never from the YAML) and every text from the
spec goes through ``crmgen.render.markdown`` (``md`` for prose, ``code`` for names and
expressions) before it reaches a template, so a label cannot become Markdown or HTML. The
sentences describing processes, rules and workflows are made here; the templates in
``templates/docs/`` lay them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crmgen.language.model import (
    Access,
    Condition,
    Entity,
    Field,
    Process,
    Rollup,
    Spec,
    Transition,
    Value,
)
from crmgen.language.text import Text
from crmgen.render import er_diagram
from crmgen.render.markdown import code, md

ACTIONS = ("list", "read", "create", "update", "delete")
SVG_PATH = "docs/data-model.svg"

_OPERATORS = {
    "eq": "is",
    "ne": "is not",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "in": "is one of",
    "contains": "contains",
}
_FUNCTIONS = {"count": "the number", "sum": "the sum", "avg": "the average"}
_FUNCTIONS |= {"min": "the smallest", "max": "the largest", "last": "the latest"}


def docs_context(spec: Spec) -> dict[str, Any]:
    """What the ``templates/docs/`` templates see besides the base context."""
    locale = spec.app.default_locale
    return {
        "md": md,
        "code": code,
        "label": lambda text: md(text.get(locale, locale)) if text else "",
        "mermaid": er_diagram.mermaid(spec),
        "actions": ACTIONS,
        "superusers": tuple(r.name for r in spec.roles if r.superuser),
        "matrix": lambda role: matrix(spec, role),
        "access_rows": lambda entity: access_rows(spec, entity),
        "field_rows": lambda entity: [field_row(spec, f) for f in entity.fields],
        "enum_rows": lambda f: enum_rows(spec, f),
        "relations_of": lambda entity: relation_lines(spec, entity),
        "workflow_lines": lambda entity: workflow_lines(entity),
        "process_trigger": lambda p: trigger_text(spec, p),
        "process_steps": lambda p: step_lines(spec, p.steps),
        "processes_of": lambda entity: [
            p for p in spec.processes if p.trigger.entity == entity.name
        ],
    }


def svg_bytes(spec: Spec) -> bytes:
    return er_diagram.svg(spec, spec.app.default_locale)


# -- values and conditions --------------------------------------------------------------------


def value_text(value: Value | None) -> str:
    """A literal or an expression as Markdown (a code span)."""
    if value is None:
        return ""
    if value.expr is not None:
        return code(f"= {value.expr.source}", cell=True)
    return code(_short(literal(value.literal)), cell=True)


def _short(text: str, limit: int = 160) -> str:
    """Long literals (a default text of a page) cut, with an ellipsis, to keep tables readable."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def literal(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    return repr(str(value))


def condition_text(condition: Condition) -> str:
    name = code(condition.field, cell=True)
    if condition.op == "isnull":
        empty = condition.value.expr is not None or bool(condition.value.literal)
        if condition.value.expr is not None:
            return f"{name} is empty when {value_text(condition.value)}"
        return f"{name} is {'empty' if empty else 'filled'}"
    return f"{name} {_OPERATORS.get(condition.op, md(condition.op))} {value_text(condition.value)}"


def conditions_text(conditions: tuple[Condition, ...]) -> str:
    return " and ".join(condition_text(c) for c in conditions)


def _where(conditions: tuple[Condition, ...]) -> str:
    return f" where {conditions_text(conditions)}" if conditions else ""


# -- entities ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRow:
    name: str
    type: str
    required: str
    default: str
    notes: str


def field_row(spec: Spec, f: Field) -> FieldRow:
    locale = spec.app.default_locale
    notes = []
    label = f.label.get(locale, locale)
    if label:
        notes.append(md(label))
    if f.help:
        notes.append(f"help: {md(f.help.get(locale, locale))}")
    if f.relation is not None:
        notes.append(relation_text(f))
    for flag in ("unique", "index", "searchable", "read_only", "consent"):
        if getattr(f, flag):
            notes.append(flag.replace("_", " "))
    for bound in ("min", "max", "min_length", "max_length", "precision", "scale", "max_size_mb"):
        number = getattr(f, bound)
        if number is not None:
            notes.append(f"{bound.replace('_', ' ')} {code(str(number), cell=True)}")
    if f.currency:
        notes.append(f"currency {code(f.currency, cell=True)}")
    if f.pattern:
        notes.append(f"pattern {code(f.pattern, cell=True)}")
    if f.accept:
        notes.append("accepts " + ", ".join(code(a, cell=True) for a in f.accept))
    if f.computed is not None:
        notes.append(f"computed: {code('= ' + f.computed.source, cell=True)}")
    if f.rollup is not None:
        notes.append(f"kept by the app: {rollup_text(f.rollup)}")
    if f.values:
        notes.append("values: " + ", ".join(code(v.name, cell=True) for v in f.values))
    if f.renamed_from:
        notes.append(f"renamed from {code(f.renamed_from, cell=True)}")
    return FieldRow(
        name=code(f.name, cell=True),
        type=code(f.type, cell=True),
        required="yes" if f.required else "",
        default=value_text(f.default),
        notes="; ".join(notes),
    )


def enum_rows(spec: Spec, f: Field) -> list[list[str]]:
    """One row per value: its name, then its label in each of the app's locales."""
    rows = []
    for value in f.values:
        rows.append(
            [code(value.name, cell=True)]
            + [md(value.label.get(loc, spec.app.default_locale)) for loc in spec.app.locales]
        )
    return rows


def relation_text(f: Field) -> str:
    relation = f.relation
    assert relation is not None
    kind = {
        "many_to_one": "many-to-one reference to",
        "one_to_one": "one-to-one reference to",
        "many_to_many": "many-to-many link to",
    }[relation.kind]
    text = f"{kind} {code(relation.target, cell=True)}"
    if relation.back:
        text += f" (back: {code(relation.back, cell=True)})"
    if relation.on_delete:
        text += {
            "cascade": ", deleted with it",
            "set_null": ", emptied when it is deleted",
            "restrict": ", which cannot be deleted while referenced",
        }[relation.on_delete]
    return text


def relation_lines(spec: Spec, entity: Entity) -> list[str]:
    """Each relation of the entity in words: those it holds and those pointing at it."""
    lines = []
    for f in entity.fields:
        if f.relation is None:
            continue
        at_holder, at_target = er_diagram.cardinality(f)
        lines.append(
            f"{code(f.name)}: {relation_text(f)}; each {code(entity.name)} has "
            f"{_count(at_target)} {code(f.relation.target)}, each {code(f.relation.target)} "
            f"{_count(at_holder)} {code(entity.name)}"
        )
    for source, f in spec.incoming(entity.name):
        if f.relation is None or not f.relation.back:
            continue  # a relation without a back name is not navigable from here
        which = "record" if f.relation.kind == "one_to_one" else "records"
        how = "lists" if f.relation.kind == "many_to_many" else "is"
        lines.append(
            f"{code(f.relation.back)}: the {code(source.name)} {which} whose {code(f.name)} "
            f"{how} this one"
        )
    return lines


def _count(cardinality: str) -> str:
    return {"1": "exactly one", "0..1": "at most one", "*": "any number of"}[cardinality]


def rollup_text(rollup: Rollup) -> str:
    what = _FUNCTIONS[rollup.op]
    over = f" of {code(rollup.field, cell=True)}" if rollup.field else ""
    if rollup.op == "count":
        over = ""
    text = (
        f"{what}{over} of the {code(rollup.entity, cell=True)} records whose "
        f"{code(rollup.link, cell=True)} is this record ({code(rollup.source, cell=True)})"
    )
    text += _where(rollup.where)
    if rollup.order_by:
        text += ", by " + ", ".join(code(o, cell=True) for o in rollup.order_by)
    return text


def access_text(entity: Entity, access: Access, action: str = "read") -> str:
    if access.mode == "all":
        return "yes" if action == "create" else "all records"
    if access.mode == "own":
        owner = f" ({code(entity.owner, cell=True)} is the user)" if entity.owner else ""
        return f"own records{owner}"
    if access.mode == "where" and access.where is not None:
        return f"records where {code(access.where.source, cell=True)}"
    return "no"


def access_rows(spec: Spec, entity: Entity) -> list[list[str]]:
    """Per role: the role, what it may do per action, the fields it cannot read or write."""
    rows = []
    for role in spec.roles:
        cells = matrix_cells(spec, role.name, entity)
        permission = entity.permission(role.name)
        hidden = ", ".join(code(h, cell=True) for h in permission.hidden) if permission else ""
        fixed = ", ".join(code(r, cell=True) for r in permission.read_only) if permission else ""
        rows.append([code(role.name, cell=True), *cells, hidden, fixed])
    return rows


def matrix_cells(spec: Spec, role: str, entity: Entity) -> list[str]:
    superuser = any(r.name == role and r.superuser for r in spec.roles)
    permission = entity.permission(role)
    cells = []
    for action in ACTIONS:
        if action not in entity.api:
            cells.append("not offered")
        elif superuser:
            cells.append("yes" if action == "create" else "all records")
        elif permission is None:
            cells.append("no")
        else:
            cells.append(access_text(entity, permission.access(action), action))
    return cells


def matrix(spec: Spec, role: str) -> list[list[str]]:
    """The rows of one role's table: each entity and what the role may do with it."""
    return [[code(e.name, cell=True), *matrix_cells(spec, role, e)] for e in spec.entities]


def workflow_lines(entity: Entity) -> list[str]:
    workflow = entity.workflow
    if workflow is None:
        return []
    return [transition_text(t) for t in workflow.transitions]


def transition_text(t: Transition) -> str:
    origins = ", ".join(code(o) for o in t.origins) if t.origins else "any state"
    text = f"to {code(t.to)} from {origins}"
    text += (
        f", by {', '.join(code(r) for r in t.roles)}"
        if t.roles
        else ", by whoever may update the record"
    )
    if t.require:
        text += f", with {', '.join(code(r) for r in t.require)} filled"
    if t.where:
        text += f", when afterwards {conditions_text(t.where)}"
    return text


# -- processes --------------------------------------------------------------------------------


def trigger_text(spec: Spec, process: Process) -> str:
    t = process.trigger
    entity = code(t.entity) if t.entity else ""
    when = (
        "before the change is saved (in its transaction: an error rejects it)"
        if t.when == "before"
        else "after the change is committed"
    )
    if t.kind in ("create", "update", "delete"):
        verb = {"create": "created", "update": "updated", "delete": "deleted"}[t.kind]
        text = f"When a record of {entity} is {verb}, {when}"
        if t.fields:
            text += f", if one of {', '.join(code(f) for f in t.fields)} changed"
        return text + "."
    if t.kind == "schedule":
        return (
            f"On the schedule {code(t.cron or '')} (cron: minute hour day month weekday, "
            f"in the time zone {code(spec.app.timezone)}), run by the worker."
        )
    if t.kind == "endpoint":
        endpoint = next((e for e in spec.endpoints if e.name == t.endpoint), None)
        if endpoint is None:
            return f"When the endpoint {code(t.endpoint or '')} is called."
        roles = ", ".join(code(r) for r in endpoint.roles) or "any signed-in user"
        text = f"When {code(f'{endpoint.method} /api{endpoint.path}')} is called (by {roles})"
        if endpoint.input:
            text += "; its input: " + ", ".join(
                f"{code(f.name)} ({code(f.type)}{', required' if f.required else ''})"
                for f in endpoint.input
            )
        return text + "."
    if t.kind == "action":
        roles = ", ".join(code(r) for r in t.roles) or "whoever may update the record"
        label = _label(spec, t.label) or _label(spec, process.label)
        return (
            f"When a user presses the button «{label}» on a record of {entity} (allowed: {roles})."
        )
    if t.kind == "inbound":
        return (
            f"When the inbound webhook {code(t.inbound or '')} receives an event "
            f"({code(f'POST /hooks/{t.inbound}')})."
        )
    return f"On {md(t.kind)}."


def _label(spec: Spec, text: Text) -> str:
    return md(text.get(spec.app.default_locale, spec.app.default_locale)) if text else ""


def step_lines(spec: Spec, steps: tuple[Any, ...], pad: str = "") -> list[str]:
    """The steps as a nested Markdown list (one item per step, nested steps indented under
    their item's text)."""
    lines = []
    for number, step in enumerate(steps, 1):
        text, nested = _step(spec, step)
        marker = f"{number}. "
        lines.append(f"{pad}{marker}{text}")
        inside = pad + " " * len(marker)
        for heading, inner in nested:
            if heading:
                lines += ["", f"{inside}{heading}", ""]
            lines += step_lines(spec, inner, inside) if inner else [f"{inside}1. Nothing."]
    return lines


def _values(values: tuple[tuple[str, Value], ...]) -> str:
    return ", ".join(f"{code(name)} to {value_text(value)}" for name, value in values)


def _template(template: Any) -> str:
    return code(getattr(template, "source", template))


def _via(step: Any) -> str:
    via = getattr(step, "via", None)
    return f" through {code(via)}" if via else ""


def _step(spec: Spec, step: Any) -> tuple[str, list[tuple[str, tuple[Any, ...]]]]:
    """One step in words, and its nested step lists with a heading for each."""
    kind = getattr(step, "kind", "")
    into = getattr(step, "into", None)
    keep = f", kept as {code(into)}" if into else ""
    if kind == "set":
        return f"Set {_values(step.values)} on the record.", []
    if kind == "compute":
        parts = ", ".join(f"{code(n)} = {code(e.source)}" for n, e in step.assignments)
        return f"Compute {parts}.", []
    if kind == "if":
        nested = [("Then:", step.then)]
        if step.otherwise:
            nested.append(("Otherwise:", step.otherwise))
        return f"If {code(step.condition.source)}:", nested
    if kind == "for_each":
        return f"For each {code(step.var)} in {code(step.items.source)}:", [("", step.steps)]
    if kind == "query":
        what = (
            f"the first record of {code(step.entity)}"
            if step.first
            else f"the {code(step.entity)} records"
        )
        text = f"Find {what}{_where(step.where)}"
        if step.sort:
            text += ", sorted by " + ", ".join(code(s) for s in step.sort)
        if step.limit:
            text += f", at most {step.limit}"
        return f"{text}{keep}.", []
    if kind == "count":
        return f"Count the {code(step.entity)} records{_where(step.where)}{keep}.", []
    if kind == "aggregate":
        over = f" of {code(step.field)}" if step.field else ""
        text = f"Compute {_FUNCTIONS.get(step.fn, md(step.fn))}{over} over the "
        text += f"{code(step.entity)} records{_where(step.where)}"
        if step.group_by:
            text += f", per {code(step.group_by)}"
        return f"{text}{keep}.", []
    if kind == "create":
        values = f" with {_values(step.values)}" if step.values else ""
        return f"Create a record of {code(step.entity)}{values}{keep}.", []
    if kind == "update":
        return (
            (
                f"Update the {code(step.entity)} records{_where(step.where)}: set "
                f"{_values(step.values)}."
            ),
            [],
        )
    if kind == "delete":
        return f"Delete the {code(step.entity)} records{_where(step.where)}.", []
    if kind == "assign":
        strategy = "the least busy" if step.strategy == "least_busy" else "in turn (round robin)"
        text = f"Assign {code(step.field)} to {strategy} user"
        if step.among:
            text += f" among those where {conditions_text(step.among)}"
        text += (
            f", counting their {code(step.workload_entity)} records{_where(step.workload_where)}"
        )
        return text + ".", []
    if kind == "email":
        return (
            (
                f"Send an e-mail to {value_text(step.to)}{_via(step)} with the subject "
                f"{_template(step.subject)}."
            ),
            [],
        )
    if kind == "notify":
        if step.owner:
            whom = "the record's owner"
        elif step.role:
            whom = f"every user with the role {code(step.role)}"
        else:
            whom = value_text(step.to)
        return f"Notify {whom} in the app: {_template(step.message)}.", []
    if kind == "telegram":
        chat = f" to the chat {value_text(step.chat)}" if step.chat else ""
        return f"Send a Telegram message{chat}{_via(step)}: {_template(step.text)}.", []
    if kind == "sms":
        return f"Send an SMS to {value_text(step.to)}{_via(step)}: {_template(step.text)}.", []
    if kind == "http":
        body = " with a JSON body" if step.json is not None else ""
        return (
            (
                f"Send an HTTP {code(step.method)} request to {_template(step.url)}{_via(step)}"
                f"{body} (timeout {step.timeout:g} s){keep}."
            ),
            [],
        )
    if kind == "webhook":
        return f"Send the webhook event {code(step.event)}{_via(step)}.", []
    if kind == "error":
        return f"Stop and reject with {_template(step.message)} (HTTP {step.status}).", []
    if kind == "log":
        return f"Log ({md(step.level)}): {_template(step.message)}.", []
    if kind == "backup":
        return f"Back up the database into {code(step.folder)}, keeping the last {step.keep}.", []
    if kind == "attach_document":
        where = f"in {code(step.field)}" if step.field else "among its attachments"
        return (
            (
                f"Render the document {code(step.document)} of {value_text(step.record)} "
                f"({code(step.entity)}) as {md(step.format.upper())} and keep it {where}."
            ),
            [],
        )
    if kind == "call":
        args = f" with {_values(step.arguments)}" if step.arguments else ""
        target = code(f"custom.{step.module}.{step.function}")
        return f"Call {target}{args}{keep}.", []
    from crmgen.language.steps import REGISTRY

    summary = REGISTRY[kind].summary if kind in REGISTRY else ""
    return f"A {code(kind or type(step).__name__)} step{': ' + md(summary) if summary else ''}.", []
