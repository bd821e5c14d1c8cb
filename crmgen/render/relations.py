"""Relation facts the backend templates need: join-table columns and the reverse sides.

The spec says each relation once, on the side that holds it; the generated models need both
sides (``back_populates``), and a many-to-many join table needs two distinct column names even
when an entity relates to itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from crmgen.language.model import Entity, Field, Spec
from crmgen.language.names import attribute, snake_case


@dataclass(frozen=True)
class Reverse:
    """The navigable side of a relation on its target: ``name`` on ``target``, from ``source.field``."""

    name: str
    source: Entity
    field: Field

    @property
    def attr(self) -> str:
        """Its attribute on the target's model (``names.attribute``: ``class`` -> ``class_``)."""
        return attribute(self.name)

    @property
    def kind(self) -> str:
        assert self.field.relation is not None
        return self.field.relation.kind


def join_columns(entity: Entity, field: Field) -> tuple[str, str]:
    """The (owner side, target side) key columns of the join table of a many-to-many ``field``."""
    assert field.relation is not None
    left = f"{snake_case(entity.name)}_id"
    right = f"{snake_case(field.relation.target)}_id"
    if right == left:  # a self-reference: name the target side after the field
        right = f"{field.name}_id"
    if right == left:
        left = f"{snake_case(entity.name)}_source_id"
    return left, right


def reverses(spec: Spec, entity: Entity) -> tuple[Reverse, ...]:
    """Every back-reference ``entity`` gets from relations that point at it, in spec order."""
    return tuple(
        Reverse(f.relation.back, source, f)
        for source, f in spec.incoming(entity.name)
        if f.relation is not None and f.relation.back
    )


def is_self(entity: Entity, field: Field) -> bool:
    return field.relation is not None and field.relation.target == entity.name


def dependency_order(spec: Spec, *, required_only: bool = False) -> list[str]:
    """Entity names, each after the entities its references point at (else in spec order).

    Many-to-many lists and self-references do not count; with ``required_only``, neither do
    optional references. A cycle is broken by taking the next entity in spec order.
    """
    needs = {
        e.name: {
            f.relation.target
            for f in e.fields
            if f.relation is not None
            and (f.required or not required_only)
            and f.relation.kind != "many_to_many"
            and f.relation.target != e.name
        }
        for e in spec.entities
    }
    done: list[str] = []
    pending = [e.name for e in spec.entities]
    while pending:
        ready = [n for n in pending if needs[n] <= set(done)] or pending[:1]
        for name in ready:
            done.append(name)
            pending.remove(name)
    return done
