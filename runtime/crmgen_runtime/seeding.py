"""Demo data: a few records of every entity and a demo user per role (the ``seed`` command).

Deterministic: the same app gives the same records. Values respect the fields' constraints as
the app's catalog describes them (lengths, ranges, enum values, uniqueness) and every relation
is filled: entities are seeded in the app's ``order`` (each after the entities its required
references point at), and references that close a cycle or are optional are set in a second
pass. A database that has records of any entity already is left alone, so seeding twice is
harmless. Demo users are ``ROLE@demo.example``, all with the password ``DEMO_PASSWORD``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crmgen_runtime.db import Database
from crmgen_runtime.resources import Catalog, FieldInfo

DEMO_PASSWORD = "demo-password"
DEMO_DOMAIN = "demo.example"
COUNT = 5  # records per entity (the user entity: at least one per role)
USER = "User"
USER_OWN = ("email", "name", "active")  # set by the demo user itself
INT32_MIN = -(2**31)  # the bound every integer has (a 32-bit column), not one the spec set
TEXT_LIMITS = {"phone": 32, "file": 1024}
TEXT_TYPES = frozenset({"string", "text", "email", "phone", "url", "file"})
NUMBER_TYPES = frozenset({"integer", "bigint", "float", "decimal", "money"})

# A field type's own demo values, by (entity, field): what a plugin type's samples gave.
Samples = Mapping[tuple[str, str], Sequence[Any]]


@dataclass(frozen=True)
class Field:
    """What the seeder reads of one field."""

    name: str
    column: str
    type: str
    required: bool = False
    unique: bool = False
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    scale: int | None = None
    values: tuple[str, ...] = ()
    target: str | None = None
    kind: str | None = None  # the relation: many_to_one, one_to_one or many_to_many
    samples: tuple[Any, ...] = ()

    @classmethod
    def of(cls, info: FieldInfo, samples: Sequence[Any] = ()) -> Field:
        """The seeder's view of a catalog field."""
        options = info.options
        low = options.get("min")
        return cls(
            name=info.name,
            column=info.column,
            type=info.type,
            required=info.required,
            unique=info.unique or info.relation == "one_to_one",
            min=None if info.type == "integer" and low == INT32_MIN else low,
            max=options.get("max"),
            min_length=options.get("min_length"),
            max_length=options.get("max_length"),
            scale=options.get("scale"),
            values=tuple(options.get("values", ())),
            target=info.target or None,
            kind=info.relation or None,
            samples=tuple(samples),
        )


def fields(catalog: Catalog, entity: str, samples: Samples) -> tuple[Field, ...]:
    """The fields of ``entity`` the seeder fills (computed fields are computed, not filled)."""
    resource = catalog.by_name[entity]
    return tuple(
        Field.of(info, samples.get((entity, info.name), ()))
        for info in resource.fields.values()
        if info.compute is None
    )


def _text(entity: str, f: Field, i: int) -> str:
    text = f"{entity} {f.name.replace('_', ' ')} {i + 1}"
    if f.type == "email":
        text = f"{entity.lower()}.{f.name}.{i + 1}@{DEMO_DOMAIN}"
    elif f.type == "phone":
        text = f"+1555{i + 1:07d}"
    elif f.type == "url":
        text = f"https://{DEMO_DOMAIN}/{entity.lower()}/{i + 1}"
    elif f.type == "file":
        text = f"demo/{entity.lower()}-{i + 1}.txt"
    if f.min_length and len(text) < f.min_length:
        text = text + "x" * (f.min_length - len(text))
    limit = f.max_length or TEXT_LIMITS.get(f.type)
    if limit and len(text) > limit:
        suffix = str(i + 1)
        text = text[: max(limit - len(suffix), 0)] + suffix
        text = text[-limit:]
    return text


def _number(f: Field, i: int) -> int | float | Decimal:
    low = f.min if f.min is not None else 0
    high = f.max if f.max is not None else low + 1000
    if f.type in ("integer", "bigint"):
        return min(int(-(-low // 1)) + i, int(high // 1))
    if f.type == "float":
        return min(low + i * 1.5, high)
    step = Decimal(1).scaleb(-(f.scale if f.scale is not None else 2))
    span = Decimal(str(high)) - Decimal(str(low))
    stride = Decimal(1) if span >= COUNT else span / COUNT
    return min(Decimal(str(low)) + i * stride, Decimal(str(high))).quantize(step, "ROUND_DOWN")


def value(entity: str, f: Field, i: int) -> Any:
    """A demo value of field ``f`` for the ``i``-th record (deterministic)."""
    if f.samples:
        return f.samples[i % len(f.samples)]
    if f.type in TEXT_TYPES:
        if f.type == "file" and not f.required:
            return None
        return _text(entity, f, i)
    if f.type in NUMBER_TYPES:
        return _number(f, i)
    if f.type == "boolean":
        return i % 2 == 0
    if f.type == "date":
        return dt.date(2024, 1, 1) + dt.timedelta(days=7 * i)
    if f.type == "datetime":
        return dt.datetime(2024, 1, 1, 9, 0, tzinfo=dt.UTC) + dt.timedelta(days=i, hours=i)
    if f.type == "time":
        return dt.time(8 + i % 10, 15 * (i % 4))
    if f.type == "enum":
        return f.values[i % len(f.values)]
    if f.type == "json":
        return {"demo": i + 1}
    return None


def _columns(row: Any) -> SimpleNamespace:
    """The row's own column values, as computed fields read them (``record.amount``)."""
    return SimpleNamespace(
        **{a.key: getattr(row, a.key) for a in sa.inspect(type(row)).column_attrs}
    )


def _count(session: Session, model: type[Any]) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


@dataclass(frozen=True)
class Plan:
    """What to seed: the app's catalog, its entities in seeding order, its roles in the spec's
    order (a demo user each), how passwords are hashed and the plugin types' samples."""

    catalog: Catalog
    order: Sequence[str]
    roles: Sequence[str]
    password_hash: Callable[[str], str]
    samples: Samples

    def new_user(self, i: int) -> Any:
        role = self.roles[i] if i < len(self.roles) else None
        email = f"{role or f'user{i + 1}'}@{DEMO_DOMAIN}"
        user = self.catalog.by_name[USER].model(email=email, name=f"Demo {role or f'user {i + 1}'}")
        user.password_hash = self.password_hash(DEMO_PASSWORD)
        user.active = True  # every demo user can sign in
        user.roles = [role] if role else []
        return user


def seed(url: str, plan: Plan) -> dict[str, int]:
    """Fill the database at ``url``; returns records per entity ({} when it had records)."""
    db = Database(url)
    try:
        with db.session() as session:
            models = [plan.catalog.by_name[name].model for name in plan.order]
            if any(_count(session, model) for model in models):
                return {}
            return fill(session, plan)
    finally:
        db.dispose()


def fill(session: Session, plan: Plan) -> dict[str, int]:
    """Add the demo records in ``session``; returns records per entity."""
    functions = plan.catalog.config.functions
    every = {name: fields(plan.catalog, name, plan.samples) for name in plan.order}
    records: dict[str, list[Any]] = {}
    for name in plan.order:
        resource = plan.catalog.by_name[name]
        count = max(COUNT, len(plan.roles)) if name == USER else COUNT
        rows = []
        for i in range(count):
            row = plan.new_user(i) if name == USER else resource.model()
            for f in every[name]:
                if f.kind is None and not (name == USER and f.name in USER_OWN):
                    setattr(row, f.name, value(name, f, i))
                elif f.kind in ("many_to_one", "one_to_one") and f.target in records:
                    targets = records[f.target]
                    if f.kind == "one_to_one" and i >= len(targets):
                        continue
                    setattr(row, f.column, targets[i % len(targets)].id)
            for info in resource.computed:  # stored values, computed as the API does
                compute = info.compute
                assert compute is not None
                setattr(row, info.column, functions.evaluate(compute, _columns(row)))
            session.add(row)
            rows.append(row)
        session.flush()
        records[name] = rows
    for name in plan.order:  # references that could not be set on the first pass
        for i, row in enumerate(records[name]):
            for f in every[name]:
                _link(row, f, i, name, records)
    session.flush()
    return {name: len(rows) for name, rows in records.items()}


def _link(row: Any, f: Field, i: int, name: str, records: dict[str, list[Any]]) -> None:
    targets = records.get(f.target or "", [])
    if not targets:
        return
    if f.kind == "many_to_many":
        picks = {targets[i % len(targets)].id: targets[i % len(targets)]}
        other = targets[(i + 1) % len(targets)]
        picks.setdefault(other.id, other)
        getattr(row, f.name).extend(t for t in picks.values() if t is not row or f.target != name)
    elif f.kind in ("many_to_one", "one_to_one") and getattr(row, f.column) is None:
        if f.target == name:  # a self-reference: point at the previous record
            if i > 0 or f.required:
                setattr(row, f.column, records[name][max(i - 1, 0)].id)
        elif f.kind == "many_to_one" or i < len(targets):
            setattr(row, f.column, targets[i % len(targets)].id)
