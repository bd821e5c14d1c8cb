"""What the demo-data seeder of the generated app needs from the spec (``seed.py``).

Entities are seeded in an order where every required reference points at an entity seeded
before (``order``); optional references and references that close a cycle are filled in a
second pass by the generated code. ``SeedField`` is one field as plain data; a field of a type
that knows its own sample values (a plugin type) carries ``COUNT`` of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crmgen.language.fields import field_type
from crmgen.language.model import Entity, Spec
from crmgen.render import relations


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


COUNT = 5  # demo records per entity (the seeder's COUNT)


def _samples(type_name: str) -> tuple[Any, ...]:
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
