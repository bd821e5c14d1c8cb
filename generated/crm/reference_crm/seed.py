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

from reference_crm import models
from reference_crm.resources import BY_NAME
from reference_crm.settings import fn

DEMO_PASSWORD = "demo-password"
DEMO_DOMAIN = "demo.example"
COUNT = 5
ROLES = ["admin", "manager", "sales", "support"]


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


ORDER = [
    "Position",
    "User",
    "Company",
    "Contact",
    "Lead",
    "Deal",
    "Interaction",
    "Product",
    "Invoice",
    "ClientGroup",
    "Task",
    "Order",
    "OrderLine",
]
FIELDS: dict[str, tuple[Field, ...]] = {
    "Position": (
        Field("name", "name", "string", required=True, unique=True, max_length=120),
        Field("description", "description", "text"),
    ),
    "User": (
        Field("email", "email", "email", required=True, unique=True, max_length=254),
        Field("name", "name", "string", max_length=200),
        Field("active", "active", "boolean"),
        Field("position", "position_id", "ref", target="Position", kind="many_to_one"),
        Field("phone", "phone", "phone"),
        Field("telegram_chat", "telegram_chat", "string", max_length=64),
        Field("hired_on", "hired_on", "date"),
    ),
    "Company": (
        Field("name", "name", "string", required=True, max_length=200),
        Field("website", "website", "url"),
        Field("phone", "phone", "phone"),
        Field("email", "email", "email"),
        Field("address", "address", "text"),
        Field("owner", "owner_id", "ref", target="User", kind="many_to_one"),
        Field("parent", "parent_id", "ref", target="Company", kind="many_to_one"),
        Field(
            "industry",
            "industry",
            "enum",
            values=("retail", "manufacturing", "services", "it", "other"),
        ),
        Field("employees", "employees", "integer", min=0, max=10000000),
        Field("annual_revenue", "annual_revenue", "money", min=0, scale=2),
        Field("tax_id", "tax_id", "string", unique=True, min_length=10, max_length=12),
        Field("extra", "extra", "json"),
    ),
    "Contact": (
        Field("full_name", "full_name", "string", required=True, max_length=200),
        Field("phone", "phone", "phone"),
        Field("email", "email", "email"),
        Field("company", "company_id", "ref", target="Company", kind="many_to_one"),
        Field("position_title", "position_title", "string", max_length=120),
        Field("birthday", "birthday", "date"),
        Field("owner", "owner_id", "ref", target="User", kind="many_to_one"),
        Field("is_key", "is_key", "boolean"),
        Field("discount", "discount", "decimal", min=0, max=100, scale=2),
        Field("photo", "photo", "file"),
        Field(
            "portal_user",
            "portal_user_id",
            "ref",
            unique=True,
            target="User",
            kind="one_to_one",
        ),
        Field("notes", "notes", "text", max_length=5000),
    ),
    "Lead": (
        Field("name", "name", "string", required=True, max_length=200),
        Field("company_name", "company_name", "string", max_length=200),
        Field("email", "email", "email"),
        Field("phone", "phone", "phone"),
        Field(
            "source",
            "source",
            "enum",
            values=(
                "website",
                "referral",
                "cold_call",
                "exhibition",
                "social",
                "other",
            ),
        ),
        Field(
            "status",
            "status",
            "enum",
            values=("new", "contacted", "qualified", "converted", "lost"),
        ),
        Field("notes", "notes", "text"),
        Field("owner", "owner_id", "ref", target="User", kind="many_to_one"),
        Field("utm", "utm", "json"),
        Field("landing_page", "landing_page", "url", max_length=500),
    ),
    "Deal": (
        Field("name", "name", "string", required=True, max_length=200),
        Field(
            "stage",
            "stage",
            "enum",
            required=True,
            values=("lead", "qualification", "proposal", "negotiation", "won", "lost"),
        ),
        Field("amount", "amount", "money", min=0, scale=2),
        Field("company", "company_id", "ref", target="Company", kind="many_to_one"),
        Field("contact", "contact_id", "ref", target="Contact", kind="many_to_one"),
        Field("expected_close", "expected_close", "date"),
        Field("closed_on", "closed_on", "date"),
        Field("owner", "owner_id", "ref", target="User", kind="many_to_one"),
        Field("lost_reason", "lost_reason", "text"),
    ),
    "Task": (
        Field("title", "title", "string", required=True, max_length=200),
        Field("description", "description", "text"),
        Field(
            "assignee",
            "assignee_id",
            "ref",
            required=True,
            target="User",
            kind="many_to_one",
        ),
        Field("deadline", "deadline", "date"),
        Field("priority", "priority", "enum", values=("low", "normal", "high")),
        Field(
            "status",
            "status",
            "enum",
            values=("new", "in_progress", "done", "cancelled"),
        ),
        Field("deal", "deal_id", "ref", target="Deal", kind="many_to_one"),
        Field("contact", "contact_id", "ref", target="Contact", kind="many_to_one"),
        Field("done_at", "done_at", "datetime"),
    ),
    "Interaction": (
        Field(
            "kind", "kind", "enum", required=True, values=("call", "meeting", "note")
        ),
        Field("happened_at", "happened_at", "datetime", required=True),
        Field("gist", "gist", "string", required=True, max_length=200),
        Field("summary", "summary", "text"),
        Field("contact", "contact_id", "ref", target="Contact", kind="many_to_one"),
        Field("company", "company_id", "ref", target="Company", kind="many_to_one"),
        Field("deal", "deal_id", "ref", target="Deal", kind="many_to_one"),
        Field("owner", "owner_id", "ref", target="User", kind="many_to_one"),
    ),
    "Product": (
        Field("name", "name", "string", required=True, max_length=200),
        Field("sku", "sku", "string", required=True, unique=True, max_length=40),
        Field("price", "price", "money", required=True, min=0, scale=2),
        Field("active", "active", "boolean"),
        Field("description", "description", "text"),
    ),
    "Order": (
        Field("number", "number", "string", required=True, unique=True, max_length=40),
        Field(
            "company",
            "company_id",
            "ref",
            required=True,
            target="Company",
            kind="many_to_one",
        ),
        Field("contact", "contact_id", "ref", target="Contact", kind="many_to_one"),
        Field("deal", "deal_id", "ref", target="Deal", kind="many_to_one"),
        Field(
            "status",
            "status",
            "enum",
            values=("draft", "confirmed", "shipped", "cancelled"),
        ),
        Field("ordered_on", "ordered_on", "date"),
        Field("total", "total", "money", scale=2),
        Field("owner", "owner_id", "ref", target="User", kind="many_to_one"),
    ),
    "OrderLine": (
        Field(
            "sales_order",
            "sales_order_id",
            "ref",
            required=True,
            target="Order",
            kind="many_to_one",
        ),
        Field(
            "product",
            "product_id",
            "ref",
            required=True,
            target="Product",
            kind="many_to_one",
        ),
        Field("quantity", "quantity", "integer", required=True, min=1, max=100000),
        Field("price", "price", "money", required=True, min=0, scale=2),
    ),
    "Invoice": (
        Field("number", "number", "string", required=True, unique=True, max_length=40),
        Field("company", "company_id", "ref", target="Company", kind="many_to_one"),
        Field("deal", "deal_id", "ref", target="Deal", kind="many_to_one"),
        Field(
            "sales_order",
            "sales_order_id",
            "ref",
            unique=True,
            target="Order",
            kind="one_to_one",
        ),
        Field(
            "status",
            "status",
            "enum",
            values=("draft", "sent", "paid", "overdue", "cancelled"),
        ),
        Field("issued_on", "issued_on", "date"),
        Field("due_date", "due_date", "date"),
        Field("total", "total", "money", required=True, min=0, scale=2),
        Field("owner", "owner_id", "ref", target="User", kind="many_to_one"),
        Field("pdf", "pdf", "file"),
        Field("paid_at", "paid_at", "datetime"),
    ),
    "ClientGroup": (
        Field(
            "name",
            "name",
            "string",
            required=True,
            unique=True,
            min_length=2,
            max_length=100,
        ),
        Field("description", "description", "text"),
        Field("members", "", "refs", target="Contact", kind="many_to_many"),
        Field("owner", "owner_id", "ref", target="User", kind="many_to_one"),
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
