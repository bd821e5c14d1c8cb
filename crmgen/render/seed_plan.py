"""What the demo-data seeder of the generated app needs from the spec (``seed.py``).

Entities are seeded in an order where every required reference points at an entity seeded
before (``order``); optional references and references that close a cycle are filled in a
second pass by the generated code. ``SeedField`` is one field as plain data; a field of a type
that knows its own sample values (a plugin type) carries ``COUNT`` of them. What the spec says
of the data shapes it too: an entity's kanban enum is a funnel (``funnels``), its calendar
date lies around today (``calendars``), a total kept equal to the sum of lines by a process
(an ``aggregate`` of the lines followed by an ``update`` of the document) or printed as the
total of a document's lines is that sum (``rollups``), a text with a ``pattern`` has
samples that match it, should the seeder draw none (``patterned``), and a field that belongs
to a state of its record holds a value only in records in that state (``only``: a deal's
``closed_on`` once it is won or lost, as a process sets it; its ``lost_reason`` when lost).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from crmgen.language.fields import field_type
from crmgen.language.model import Entity, Spec
from crmgen.render import relations
from crmgen.render.samples import pattern_sample


@dataclass(frozen=True)
class SeedField:
    name: str
    column: str
    type: str
    required: bool
    unique: bool
    min: float | None
    max: float | None
    min_length: int | None
    max_length: int | None
    scale: int | None
    values: tuple[str, ...]
    target: str | None
    kind: str | None
    samples: tuple[Any, ...] = ()


COUNT = 30  # sample values of a plugin type or a pattern (the seeder's ROWS)
PATTERN_TRIES = 200  # variants tried for COUNT distinct samples of a pattern


@dataclass(frozen=True)
class Rollup:
    """``entity.field`` = the sum of ``lines.total`` over the lines whose ``link`` points at
    the record reached through ``via`` (the seeder's ``Rollup``)."""

    entity: str
    field: str
    lines: str
    link: str
    total: str
    via: tuple[str, ...] = ()


@dataclass(frozen=True)
class Only:
    """``entity.field`` holds a value only in records whose enum ``by`` is one of ``values``
    (the seeder's ``Only``)."""

    entity: str
    field: str
    by: str
    values: tuple[str, ...]


def _samples(type_name: str) -> tuple[Any, ...]:
    """A plugin type's own demo values (none for a built-in type)."""
    sample = field_type(type_name).sample
    return () if sample is None else tuple(sample(i) for i in range(COUNT))


def fields(entity: Entity) -> list[SeedField]:
    """The fields the seeder fills (computed fields are left to the app)."""
    return [
        SeedField(
            name=f.name,
            column=f.column,
            type=f.type,
            required=f.required,
            unique=f.unique or (f.relation is not None and f.relation.kind == "one_to_one"),
            min=f.min,
            max=f.max,
            min_length=f.min_length,
            max_length=f.max_length,
            scale=f.scale,
            values=tuple(v.name for v in f.values),
            target=f.relation.target if f.relation else None,
            kind=f.relation.kind if f.relation else None,
            samples=_samples(f.type),
        )
        for f in entity.fields
        if f.computed is None
    ]


def order(spec: Spec) -> list[str]:
    """Entity names, each after the entities its required references point at (spec order)."""
    return relations.dependency_order(spec, required_only=True)


def funnels(spec: Spec) -> dict[str, str]:
    """The enum each entity's kanban board is grouped by (a sales funnel, a task board)."""
    return {
        e.name: e.ui.kanban.by
        for e in spec.entities
        if e.ui.kanban is not None and getattr(e.field(e.ui.kanban.by), "type", "") == "enum"
    }


def calendars(spec: Spec) -> dict[str, str]:
    """The date field each entity's calendar shows."""
    return {e.name: e.ui.calendar.date for e in spec.entities if e.ui.calendar is not None}


def _process_rollups(spec: Spec) -> list[Rollup]:
    """Totals a process keeps: on a change of a line, the sum of the lines of its document
    (``aggregate``, fn ``sum``, where ``LINK: record.LINK``) written to the document
    (``update`` of the link's target, a value reading the sum)."""
    by_name = {e.name: e for e in spec.entities}
    found = []
    for process in spec.processes:
        lines = by_name.get(process.trigger.entity or "")
        if lines is None:
            continue
        sums = {}
        for step in process.steps:
            if step.kind == "aggregate" and step.fn == "sum" and step.entity == lines.name:
                for c in step.where:
                    relation = getattr(lines.field(c.field), "relation", None)
                    source = c.value.expr.source if c.value.expr is not None else ""
                    if relation and c.op == "eq" and source == f"record.{c.field}":
                        sums[step.into] = (c.field, relation.target, step.field)
            elif step.kind == "update":
                for name, value in step.values:
                    reads = value.expr.names if value.expr is not None else ()
                    for into, (link, target, total) in sums.items():
                        if into in reads and step.entity == target:
                            found.append(Rollup(target, name, lines.name, link, total))
    return found


def _document_rollups(spec: Spec, known: list[Rollup]) -> list[Rollup]:
    """Totals a document prints as a field of its record over lines it lists: the sum of the
    column a process sums for those lines, else of the lines' last computed number column."""
    found = []
    for e in spec.entities:
        for document in e.documents:
            lines, total = document.lines, document.total
            if lines is None or total is None or total.field is None:
                continue
            summed = [r.total for r in known if r.lines == lines.entity]
            entity = next(x for x in spec.entities if x.name == lines.entity)
            fields = [entity.field(c) for c in lines.columns]
            computed = [
                f.name
                for f in fields
                if f is not None and f.computed is not None and field_type(f.type).numeric
            ]
            column = (summed or computed[-1:] or [None])[0]
            if column is not None:
                via = tuple(lines.path.split(".")[:-1])
                found.append(Rollup(e.name, total.field, lines.entity, lines.link, column, via))
    return found


def rollups(spec: Spec) -> list[Rollup]:
    """Totals that equal the sum of lines, each once (processes first, then documents)."""
    found = _process_rollups(spec)
    found += _document_rollups(spec, found)
    unique: dict[tuple[str, str], Rollup] = {}
    for rollup in found:
        unique.setdefault((rollup.entity, rollup.field), rollup)
    return list(unique.values())


def patterned(spec: Spec) -> dict[tuple[str, str], tuple[str, ...]]:
    """Distinct samples of every text field with a pattern (the seeder's fallback)."""
    found = {}
    for e in spec.entities:
        for f in e.fields:
            if f.pattern is None or f.computed is not None:
                continue
            low, high = f.min_length or 0, f.max_length or 200
            values = (pattern_sample(f.pattern, i, low, high) for i in range(PATTERN_TRIES))
            distinct = tuple(dict.fromkeys(v for v in values if v is not None))[:COUNT]
            if distinct:
                found[(e.name, f.name)] = distinct
    return found


def only(spec: Spec) -> list[Only]:
    """Fields that belong to a state of their record, each once (processes first):

    - a ``before`` create or update process that sets the field under ``if:`` comparing an
      enum of the record with constants (``record.stage in ['won', 'lost']``, ``record.status
      == 'done' and old.status != 'done'``): the field is set only in those states;
    - an optional field whose name begins with a value of one of its entity's enums
      (``lost_reason``, ``paid_at``): it is set only in that state.
    """
    found: dict[tuple[str, str], Only] = {}
    for process in spec.processes:
        trigger = process.trigger
        entity = next((e for e in spec.entities if e.name == trigger.entity), None)
        if entity is None or trigger.kind not in ("create", "update") or trigger.when != "before":
            continue
        for step in process.steps:
            if step.kind != "if":
                continue
            state = _state(entity, step.condition.source)
            if state is None:
                continue
            for inner in step.then:
                for name, value in getattr(inner, "values", ()) if inner.kind == "set" else ():
                    if value.expr is not None or value.literal is not None:
                        found.setdefault((entity.name, name), Only(entity.name, name, *state))
    for e in spec.entities:
        enums = [f for f in e.fields if f.type == "enum" and f.computed is None]
        for f in e.fields:
            head = f.name.split("_", 1)[0]
            if f.required or f.computed is not None or f.type == "enum" or head == f.name:
                continue
            by = next((g for g in enums if head in (v.name for v in g.values)), None)
            if by is not None:
                found.setdefault((e.name, f.name), Only(e.name, f.name, by.name, (head,)))
    return list(found.values())


def _state(entity: Entity, source: str) -> tuple[str, tuple[str, ...]] | None:
    """``(enum, values)`` when ``source`` requires ``record.ENUM`` to be one of constant values
    (alone or as a term of ``and``); parsed, never evaluated."""
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError:
        return None
    terms = tree.values if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And) else [tree]
    for term in terms:
        if not (isinstance(term, ast.Compare) and len(term.ops) == 1):
            continue
        left, op, right = term.left, term.ops[0], term.comparators[0]
        if not (
            isinstance(left, ast.Attribute)
            and isinstance(left.value, ast.Name)
            and left.value.id == "record"
        ):
            continue
        f = entity.field(left.attr)
        if f is None or f.type != "enum":
            continue
        if isinstance(op, ast.Eq) and isinstance(right, ast.Constant):
            values: list[Any] = [right.value]
        elif isinstance(op, ast.In) and isinstance(right, (ast.List, ast.Tuple, ast.Set)):
            values = [v.value for v in right.elts if isinstance(v, ast.Constant)]
        else:
            continue
        known = {v.name for v in f.values}
        if values and all(isinstance(v, str) and v in known for v in values):
            return f.name, tuple(values)
    return None
