"""Rollup fields: ``rollup: {from, op, field, where, order_by}`` checked into ``model.Rollup``.

A rollup stores an aggregate of the records of a reverse relation (``from: deals``, the
records whose reference points at this one): ``count``, the ``sum``, ``min``, ``max`` or ``avg``
of their ``field``, or the ``field`` of the ``last`` record by ``order_by``. The app keeps it
exact on every write of a related record (``crmgen_runtime.rollups``); users never write it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from crmgen.diagnostics import did_you_mean
from crmgen.language import fields as field_types
from crmgen.language.context import Context
from crmgen.language.model import Field, Rollup
from crmgen.language.yaml_loader import Path

# What a rollup field may be declared as, by op (min, max and last: see _fits).
_NOT_STORED = frozenset({"ref", "refs", "json", "file", "image"})
_UNORDERED = frozenset({"boolean"})  # no MIN/MAX on PostgreSQL


def build_rollup(
    ctx: Context, entity: str, f: Field, raw: dict[str, Any] | None, path: Path
) -> Field:
    """``f`` with its checked ``rollup`` (as it was when ``raw`` has none)."""
    if not raw or not isinstance(raw.get("rollup"), dict):
        return f
    spec = raw["rollup"]
    at = path + ("rollup",)
    for key, why in (
        ("computed", "a rollup field is not computed too: keep one of rollup and computed"),
        ("default", "a rollup field has no default: its value comes from the related records"),
        ("required", "a rollup field is never required: users do not write it"),
    ):
        if key in raw and raw[key] is not None and raw[key] is not False:
            ctx.error(path + (key,), "rollup", why, True)
    if f.type in _NOT_STORED:
        ctx.error(
            at, "rollup", f"a rollup field stores a single value; a {f.type} field cannot be one"
        )
    found = _source(ctx, entity, spec["from"], at + ("from",))
    if found is None:
        return replace(f, read_only=True)
    child, link = found
    op = spec["op"]
    value = _value(ctx, child, op, spec.get("field"), at)
    if value is not None:
        _fits(ctx, f, op, value, child, at + ("field",))
    if op == "count" and f.type not in ("integer", "bigint"):
        ctx.error(
            path + ("type",),
            "rollup",
            f"a count rollup is a whole number: declare {f.name} as type: integer",
        )
    order_by = spec.get("order_by") or ()
    order_by = (order_by,) if isinstance(order_by, str) else tuple(order_by)
    if op == "last" and not order_by:
        ctx.error(
            at,
            "rollup",
            f"a last rollup needs order_by: the field of {child} that says which record is last "
            "(e.g. order_by: happened_at)",
        )
    if order_by and op != "last":
        ctx.error(at + ("order_by",), "rollup", f"order_by applies to op: last, not to {op}", True)
    for i, name in enumerate(order_by):
        where = (
            at + ("order_by",) if isinstance(spec.get("order_by"), str) else at + ("order_by", i)
        )
        by = ctx.known_field(child, name.lstrip("-"), where)
        if by is not None and by.encrypted:
            ctx.error(
                where,
                "encrypted",
                f"{child}.{by.name} is encrypted and has no order to sort by; order by another field",
            )
    conditions = ctx.where(spec.get("where"), at + ("where",), child, ctx.scope())
    for c in conditions:
        key = c.field if c.op == "eq" else f"{c.field}__{c.op}"
        if "." in c.field:
            ctx.error(
                at + ("where", key),
                "rollup",
                f"a rollup's where reads the fields of {child} itself, not '{c.field}' through a "
                "reference (a change there would not refresh the rollup)",
                True,
            )
        if c.value.is_expr:
            ctx.error(
                at + ("where", key),
                "rollup",
                "a rollup's where takes literal values (a stored value cannot depend on the "
                "time or the user)",
            )
    rollup = Rollup(
        source=spec["from"],
        entity=child,
        link=link.name,
        op=op,
        field=spec.get("field"),
        where=conditions,
        order_by=order_by,
    )
    return replace(f, rollup=rollup, read_only=True)


def _source(ctx: Context, entity: str, back: str, path: Path) -> tuple[str, Field] | None:
    """The entity and reference field of the reverse relation ``back`` of ``entity``."""
    if entity not in ctx.fields:
        return None
    sources = {
        f.relation.back: (other, f)
        for other, table in ctx.fields.items()
        for f in table.values()
        if f.relation is not None and f.relation.target == entity and f.relation.back
    }
    many = {k: v for k, v in sources.items() if v[1].relation.kind != "many_to_many"}  # type: ignore[union-attr]
    if back in many:
        return many[back]
    if back in sources:
        problem = (
            f"'{back}' is a many-to-many list; a rollup follows the references of related records"
        )
    elif back in ctx.fields[entity]:
        problem = f"'{back}' is a field of {entity}, not a reverse relation; a rollup reads the records that reference {entity}"
    else:
        hint = (
            did_you_mean(back, many)
            or f" (its reverse relations: {', '.join(sorted(many)) or 'none'})"
        )
        problem = f"{entity} has no reverse relation '{back}'{hint}"
    ctx.error(path, "rollup", problem)
    return None


def _value(ctx: Context, child: str, op: str, name: str | None, path: Path) -> Field | None:
    """The related records' field ``op`` aggregates (None for count, or when it is wrong)."""
    if op == "count":
        if name is not None:
            ctx.error(
                path + ("field",),
                "rollup",
                "a count rollup counts records: it takes no field",
                True,
            )
        return None
    if name is None:
        ctx.error(path, "rollup", f"a {op} rollup needs a field: the field of {child} it reads")
        return None
    found = ctx.known_field(child, name, path + ("field",))
    if found is None:
        return None
    if is_rollup(ctx, child, name):
        ctx.error(
            path + ("field",),
            "rollup",
            f"'{name}' is a rollup itself; a rollup reads stored fields only",
        )
        return None
    if found.encrypted:
        ctx.error(
            path + ("field",),
            "encrypted",
            f"{child}.{name} is encrypted: a rollup would store its value (or its order) in "
            "plain text on the parent; roll up another field",
        )
        return None
    return found


def is_rollup(ctx: Context, entity: str, name: str) -> bool:
    """Whether the spec declares field ``name`` of ``entity`` a rollup."""
    raw = ((ctx.data.get("entities") or {}).get(entity) or {}).get("fields") or {}
    spec = raw.get(name)
    return isinstance(spec, dict) and "rollup" in spec


def _fits(ctx: Context, f: Field, op: str, value: Field, child: str, path: Path) -> None:
    """Whether ``f`` (the rollup field) can store ``op`` of ``value`` (a field of ``child``)."""
    numeric = field_types.numeric_types()
    if value.type in _NOT_STORED:
        ctx.error(
            path, "rollup", f"'{value.name}' is a {value.type} field; a rollup reads single values"
        )
        return
    if op in ("sum", "avg"):
        if value.type not in numeric:
            ctx.error(
                path,
                "rollup",
                f"a {op} rollup reads a number; {child}'s '{value.name}' is a {value.type} field "
                f"(number types: {', '.join(numeric)})",
            )
            return
    elif op in ("min", "max") and value.type in _UNORDERED:
        ctx.error(
            path, "rollup", f"{op} needs values in an order; '{value.name}' is a boolean field"
        )
        return
    if value.type in numeric and f.type in numeric:
        whole = ("integer", "bigint")
        if (op == "avg" or value.type not in whole) and f.type in whole:
            ctx.error(
                path,
                "rollup",
                f"the {op} of '{value.name}' ({value.type}) is not a whole number: declare "
                f"{f.name} as decimal or money",
            )
        return
    if value.type != f.type:
        ctx.error(
            path,
            "rollup",
            f"the {op} of '{value.name}' is a {value.type} value; declare {f.name} as type: {value.type}",
        )
