"""Demo data: a few records of every entity and a demo user per role (``seed`` command).

Deterministic: the same spec gives the same records. Values respect the fields' constraints
(lengths, ranges, enum values, uniqueness) and every relation is filled. A database that has
records of any entity already is left alone, so running ``seed`` twice is harmless.

Demo users: ``ROLE@demo.example`` for each role, all with the password ``DEMO_PASSWORD``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, NamedTuple

import sqlalchemy as sa
from crmgen_runtime.db import Database
from crmgen_runtime.passwords import hash_password
from sqlalchemy.orm import Session

from minimal import models
from minimal.resources import BY_NAME
from minimal.settings import fn

DEMO_PASSWORD = "demo-password"
DEMO_DOMAIN = "demo.example"
COUNT = 5
ROLES = ["admin", "staff"]


class Field(NamedTuple):
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
    kind: str | None = None
    samples: tuple[Any, ...] = ()  # a plugin type's own demo values


ORDER = ["User", "Contact"]
FIELDS: dict[str, tuple[Field, ...]] = {
    "User": (
        Field("email", "email", "email", required=True, unique=True, max_length=254),
        Field("name", "name", "string", max_length=200),
        Field("active", "active", "boolean"),
    ),
    "Contact": (
        Field("name", "name", "string", required=True, max_length=120),
        Field("email", "email", "email", unique=True),
        Field("phone", "phone", "phone"),
        Field("notes", "notes", "text"),
    ),
}
USER_ENTITY = "User"


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
    limit = f.max_length or {"phone": 32, "file": 1024}.get(f.type)
    if limit and len(text) > limit:
        suffix = str(i + 1)
        text = text[: max(limit - len(suffix), 0)] + suffix
        text = text[-limit:]
    return text


def _number(f: Field, i: int) -> Any:
    low = f.min if f.min is not None else 0
    high = f.max if f.max is not None else low + 1000
    if f.type == "integer":
        value = min(int(-(-low // 1)) + i, int(high // 1))
        return value
    step = Decimal(1).scaleb(-(f.scale if f.scale is not None else 2))
    span = Decimal(str(high)) - Decimal(str(low))
    stride = Decimal(1) if span >= COUNT else span / COUNT
    return min(Decimal(str(low)) + i * stride, Decimal(str(high))).quantize(
        step, "ROUND_DOWN"
    )


def value(entity: str, f: Field, i: int) -> Any:
    """A demo value of field ``f`` for the ``i``-th record (deterministic)."""
    if f.samples:
        return f.samples[i % len(f.samples)]
    if f.type in ("string", "text", "email", "phone", "url", "file"):
        if f.type == "file" and not f.required:
            return None
        return _text(entity, f, i)
    if f.type in ("integer", "decimal", "money"):
        return _number(f, i)
    if f.type == "boolean":
        return i % 2 == 0
    if f.type == "date":
        return dt.date(2024, 1, 1) + dt.timedelta(days=7 * i)
    if f.type == "datetime":
        return dt.datetime(2024, 1, 1, 9, 0, tzinfo=dt.UTC) + dt.timedelta(
            days=i, hours=i
        )
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


def _count(session: Session, model: type) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def _new_user(i: int) -> Any:
    role = ROLES[i] if i < len(ROLES) else None
    email = f"{role or f'user{i + 1}'}@{DEMO_DOMAIN}"
    user = models.User(email=email, name=f"Demo {role or f'user {i + 1}'}")
    user.password_hash = hash_password(DEMO_PASSWORD)
    user.active = True  # every demo user can sign in
    user.roles = [role] if role else []
    return user


def seed(url: str) -> dict[str, int]:
    """Fill the database at ``url``; returns records per entity ({} when it had records)."""
    db = Database(url)
    try:
        with db.session() as session:
            if any(_count(session, getattr(models, name)) for name in ORDER):
                return {}
            return _seed(session)
    finally:
        db.dispose()


def _seed(session: Session) -> dict[str, int]:
    records: dict[str, list[Any]] = {}
    for name in ORDER:
        model = getattr(models, name)
        count = max(COUNT, len(ROLES)) if name == USER_ENTITY else COUNT
        rows = []
        for i in range(count):
            row = _new_user(i) if name == USER_ENTITY else model()
            for f in FIELDS[name]:
                if f.kind is None and not (
                    name == USER_ENTITY and f.name in ("email", "name", "active")
                ):
                    setattr(row, f.name, value(name, f, i))
                elif f.kind in ("many_to_one", "one_to_one") and f.target in records:
                    targets = records[f.target]
                    if f.kind == "one_to_one" and i >= len(targets):
                        continue
                    setattr(row, f.column, targets[i % len(targets)].id)
            for info in BY_NAME[
                name
            ].computed:  # stored values, computed as the API does
                setattr(row, info.column, fn.evaluate(info.compute, _columns(row)))
            session.add(row)
            rows.append(row)
        session.flush()
        records[name] = rows
    for name in ORDER:  # references that could not be set on the first pass
        for i, row in enumerate(records[name]):
            for f in FIELDS[name]:
                targets = records.get(f.target or "", [])
                if not targets:
                    continue
                if f.kind == "many_to_many":
                    picks = {targets[i % len(targets)].id: targets[i % len(targets)]}
                    other = targets[(i + 1) % len(targets)]
                    picks.setdefault(other.id, other)
                    getattr(row, f.name).extend(
                        t for t in picks.values() if t is not row or f.target != name
                    )
                elif (
                    f.kind in ("many_to_one", "one_to_one")
                    and getattr(row, f.column) is None
                ):
                    if (
                        f.target == name
                    ):  # a self-reference: point at the previous record
                        if i > 0 or f.required:
                            setattr(row, f.column, records[name][max(i - 1, 0)].id)
                    elif f.kind == "many_to_one" or i < len(targets):
                        setattr(row, f.column, targets[i % len(targets)].id)
    session.flush()
    return {name: len(rows) for name, rows in records.items()}
