"""Demo data from an app's catalog: deterministic, within the fields' constraints, linked."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from crmgen_runtime import seeding
from crmgen_runtime.config import AppConfig
from crmgen_runtime.decimals import ExactDecimal
from crmgen_runtime.resources import Catalog, FieldInfo, Resource, field_map
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


class Base(DeclarativeBase):
    pass


tags = sa.Table(
    "company_tags",
    Base.metadata,
    sa.Column("company_id", sa.ForeignKey("companies.id"), primary_key=True),
    sa.Column("tag_id", sa.ForeignKey("tags.id"), primary_key=True),
)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    name: Mapped[str | None] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=False)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    roles: Mapped[list[str]] = mapped_column(sa.JSON(), default=list)
    phone: Mapped[str | None] = mapped_column(sa.String(32))


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    word: Mapped[str] = mapped_column(sa.String(3))


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(12), unique=True)
    code: Mapped[str | None] = mapped_column(sa.String(20))
    site: Mapped[str | None] = mapped_column(sa.String(2048))
    contract: Mapped[str | None] = mapped_column(sa.String(1024))
    staff: Mapped[int | None]
    floor: Mapped[int | None]
    revenue: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 2))
    share: Mapped[Decimal | None] = mapped_column(ExactDecimal(5, 3))
    kind: Mapped[str | None] = mapped_column(sa.String(10))
    vip: Mapped[bool | None]
    founded: Mapped[dt.date | None]
    called: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    extra: Mapped[Any] = mapped_column(sa.JSON(), nullable=True)
    iban: Mapped[str | None] = mapped_column(sa.String(34))
    label: Mapped[str | None] = mapped_column(sa.String(40))
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("companies.id"))
    tags: Mapped[list[Tag]] = relationship(secondary=tags)


USERS = Resource(
    name="User",
    path="users",
    label="User",
    model=User,
    fields=field_map(
        FieldInfo("email", "email", required=True),
        FieldInfo("name", "string"),
        FieldInfo("active", "boolean"),
        FieldInfo("phone", "phone", options={"max_length": 32}),
    ),
)
TAGS = Resource(
    name="Tag",
    path="tags",
    label="Tag",
    model=Tag,
    fields=field_map(FieldInfo("word", "string", required=True, options={"max_length": 3})),
)
COMPANIES = Resource(
    name="Company",
    path="companies",
    label="Company",
    model=Company,
    fields=field_map(
        FieldInfo("name", "string", unique=True, options={"max_length": 12}),
        FieldInfo("code", "string", options={"min_length": 20, "max_length": 20}),
        FieldInfo("site", "url"),
        FieldInfo("contract", "file", required=True),
        FieldInfo("staff", "integer", options={"min": -(2**31), "max": 2**31 - 1}),
        FieldInfo("floor", "integer", options={"min": 3, "max": 5}),
        FieldInfo("revenue", "money", options={"min": 0, "precision": 12, "scale": 2}),
        FieldInfo("share", "decimal", options={"min": 0, "max": 1, "scale": 3}),
        FieldInfo("kind", "enum", options={"values": ("retail", "it")}),
        FieldInfo("vip", "boolean"),
        FieldInfo("founded", "date"),
        FieldInfo("called", "datetime"),
        FieldInfo("extra", "json"),
        FieldInfo("iban", "iban"),
        FieldInfo("label", "string", compute=lambda record: f"{record.name}!"),
        FieldInfo("owner", "ref", required=True, relation="many_to_one", target="User"),
        FieldInfo("parent", "ref", relation="many_to_one", target="Company"),
        FieldInfo("tags", "refs", relation="many_to_many", target="Tag", join=tags),
    ),
)
CATALOG = Catalog([USERS, TAGS, COMPANIES], config=AppConfig("seeded"))
IBANS = ("DE89370400440532013000", "GB82WEST12345698765432")
PLAN = seeding.Plan(
    CATALOG,
    ("User", "Tag", "Company"),
    ("admin", "sales", "support", "viewer", "clerk", "auditor"),
    lambda password: f"hashed:{password}",
    {("Company", "iban"): IBANS},
)


def seeded(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    engine = sa.create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return url


def test_every_entity_gets_records_and_a_demo_user_per_role(tmp_path: Path) -> None:
    url = seeded(tmp_path)
    assert seeding.seed(url, PLAN) == {"User": 6, "Tag": 5, "Company": 5}
    assert seeding.seed(url, PLAN) == {}  # a database with records is left alone
    engine = sa.create_engine(url)
    with Session(engine) as session:
        users = session.scalars(sa.select(User).order_by(User.id)).all()
        assert [u.email for u in users][:2] == ["admin@demo.example", "sales@demo.example"]
        assert all(u.active and u.password_hash == "hashed:demo-password" for u in users)
        assert users[0].roles == ["admin"] and users[0].phone == "+15550000001"
        companies = session.scalars(sa.select(Company).order_by(Company.id)).all()
        tagged = {tag.id for tag in companies[0].tags}
    engine.dispose()
    first, second = companies[0], companies[1]
    assert (first.name, len(first.code or ""), first.site) == (
        "Company nam1",
        20,
        "https://demo.example/company/1",
    )
    assert first.contract == "demo/company-1.txt"
    assert (first.staff, second.staff, first.floor, companies[4].floor) == (0, 1, 3, 5)
    assert first.revenue == Decimal("0.00") and second.revenue == Decimal("1.00")
    assert second.share == Decimal("0.200") and first.kind == "retail" and second.kind == "it"
    assert first.vip is True and second.vip is False
    assert first.founded == dt.date(2024, 1, 1) and first.extra == {"demo": 1}
    assert [c.iban for c in companies[:3]] == [IBANS[0], IBANS[1], IBANS[0]]
    assert first.label == "Company nam1!"  # computed as the API computes it
    assert first.owner_id == 1 and first.parent_id is None and second.parent_id == first.id
    assert len(tagged) == 2


def test_a_field_reads_its_constraints_from_the_catalog() -> None:
    staff, floor = COMPANIES.fields["staff"], COMPANIES.fields["floor"]
    assert seeding.Field.of(staff).min is None  # the 32-bit bound is not the spec's
    assert seeding.Field.of(floor).min == 3
    assert [f.name for f in seeding.fields(CATALOG, "Company", {})][-3:] == [
        "owner",
        "parent",
        "tags",
    ]
    optional_file = seeding.Field("scan", "scan", "file")
    assert seeding.value("Deal", optional_file, 0) is None
    views = seeding.Field("views", "views", "bigint", min=3_000_000_000)
    assert [seeding.value("Deal", views, i) for i in (0, 1)] == [3_000_000_000, 3_000_000_001]
    weight = seeding.Field("weight", "weight", "float", max=2.0)
    assert [seeding.value("Deal", weight, i) for i in (0, 1, 2)] == [0.0, 1.5, 2.0]
    opens = seeding.Field("opens", "opens", "time")
    assert [seeding.value("Deal", opens, i) for i in (0, 5)] == [dt.time(8), dt.time(13, 15)]
    assert seeding.value("Deal", seeding.Field("geo", "geo", "point"), 0) is None
