"""Demo data from an app's catalog: deterministic, within the fields' constraints, linked."""

from __future__ import annotations

import datetime as dt
import random
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from crmgen_runtime import demo_numbers, seeding
from crmgen_runtime.config import AppConfig
from crmgen_runtime.decimals import ExactDecimal
from crmgen_runtime.demo_dates import Dates, when
from crmgen_runtime.demo_text import Texts, entity_kind, kind
from crmgen_runtime.demo_values import Values
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
CATALOG = Catalog([USERS, TAGS, COMPANIES], config=AppConfig("seeded", timezone="Europe/Moscow"))
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


TODAY = dt.date(2026, 12, 4)


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: [
                    tuple(r)
                    for r in connection.execute(sa.select(table).order_by(*table.primary_key))
                ]
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def test_every_entity_gets_records_and_a_demo_user_per_role(tmp_path: Path) -> None:
    url = seeded(tmp_path)
    assert seeding.seed(url, PLAN, TODAY) == {"User": 8, "Tag": 10, "Company": 30}
    assert seeding.seed(url, PLAN, TODAY) == {}  # a database with records is left alone
    engine = sa.create_engine(url)
    with Session(engine) as session:
        users = session.scalars(sa.select(User).order_by(User.id)).all()
        assert [u.email for u in users][:2] == ["admin@demo.example", "sales@demo.example"]
        assert all(u.active and u.password_hash == "hashed:demo-password" for u in users)
        assert users[0].roles == ["admin"] and users[-1].roles == []
        assert all(u.name and u.phone and seeding_phone(u.phone) for u in users)
        companies = session.scalars(sa.select(Company).order_by(Company.id)).all()
        tagged = [len(c.tags) for c in companies]
    engine.dispose()
    assert len({c.name for c in companies}) == 30  # unique, within 12 characters
    assert all(len(c.name) <= 12 and len(c.code or "") == 20 for c in companies)
    assert all(c.site and c.site.startswith("http") for c in companies)
    assert all(
        c.contract == f"https://files.example/demo/company-{i + 1}.txt"
        for i, c in enumerate(companies)
    )
    assert all(3 <= (c.floor or 0) <= 5 for c in companies)
    assert all(Decimal(0) <= (c.share or 0) <= 1 and c.kind in ("retail", "it") for c in companies)
    assert all(TODAY - dt.timedelta(days=366) <= (c.founded or TODAY) <= TODAY for c in companies)
    assert {c.iban for c in companies} == set(IBANS)
    assert all(c.label == f"{c.name}!" for c in companies)  # computed as the API computes it
    assert all(c.owner_id for c in companies) and any(c.parent_id for c in companies)
    assert all(c.parent_id is None or c.parent_id < c.id for c in companies)
    assert 0 < sum(tagged) <= 3 * len(companies)


def seeding_phone(text: str) -> bool:
    from crmgen_runtime.validation import PHONE

    return bool(PHONE.fullmatch(text))


def test_the_same_seed_and_today_give_the_same_data(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    first, second, other = seeded(tmp_path / "a"), seeded(tmp_path / "b"), seeded(tmp_path / "c")
    seeding.seed(first, PLAN, TODAY)
    seeding.seed(second, PLAN, TODAY)
    seeding.seed(other, PLAN, TODAY, random_seed=1)
    assert dump(first) == dump(second)
    assert dump(first)["companies"] != dump(other)["companies"]


def test_a_funnel_narrows_and_keeps_its_last_stage() -> None:
    stages = seeding.funnel(["lead", "qualified", "proposal", "won", "lost"], 30)
    counts = [stages.count(s) for s in ("lead", "qualified", "proposal", "won", "lost")]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[3] and counts[4] > 0
    assert stages[:5] == ["lead", "qualified", "proposal", "won", "lost"]  # one of each first
    assert seeding.funnel(["only"], 3) == ["only"] * 3


def test_amounts_fit_the_currency_and_the_field() -> None:
    rng = random.Random(1)
    roubles = [demo_numbers.number("amount", "money", rng, "RUB") for _ in range(50)]
    dollars = [demo_numbers.number("amount", "money", rng, "USD") for _ in range(50)]
    assert min(roubles) >= 10_000 and max(dollars) <= 50_000 and max(roubles) > max(dollars)
    prices = [demo_numbers.number("price", "money", rng, "USD") for _ in range(50)]
    assert max(prices) <= 2_000 and all(p == p.quantize(Decimal("0.01")) for p in prices)
    capped = demo_numbers.number("amount", "decimal", rng, "USD", 0, 100, 3, 5)
    assert 0 <= capped <= 100 and capped == capped.quantize(Decimal("0.001"))
    narrow = [demo_numbers.number("price", "money", rng, "RUB", 500, None, 2, 5) for _ in range(9)]
    assert all(500 <= n <= Decimal("999.99") for n in narrow)  # the min and the precision
    assert 1 <= demo_numbers.number("quantity", "integer", rng) <= 20
    assert demo_numbers.number("views", "bigint", rng, low=3_000_000_000) >= 3_000_000_000
    assert isinstance(demo_numbers.number("weight", "float", rng, high=2.0), float)


def test_dates_lie_around_today() -> None:
    dates = Dates(TODAY, "Europe/Moscow")
    rng = random.Random(2)
    past = [dates.day("past", rng, i) for i in range(200)]
    around = [dates.day("around", rng, i) for i in range(200)]
    assert TODAY - dt.timedelta(days=366) <= min(past) and max(past) <= TODAY
    assert dates.day("past", rng, 0, recent=True).month == TODAY.month
    assert TODAY in around and min(around) < TODAY < max(around) <= dates.latest
    assert dates.day("birth", rng, 0).year < TODAY.year - 20
    moment = dates.moment(TODAY, rng)
    local = moment.astimezone(dates.zone)
    assert moment.tzinfo is dt.UTC and 9 <= local.hour < 18 and local.minute % 15 == 0
    assert (when("birthday"), when("deadline"), when("ordered_on"), when("x", True)) == (
        "birth",
        "around",
        "past",
        "around",
    )


def test_texts_speak_the_locale() -> None:
    assert re.fullmatch(r"[А-Яа-яЁё .-]+", Texts("ru").make("person", "Contact.full_name:0"))
    assert re.search(r"[\u4e00-\u9fff]", Texts("zh").make("company", "Company.name:0"))
    assert Texts("bs").locales == ("bs_BA", "hr_HR", "en_US")
    assert Texts("pt-BR").locales == ("pt_BR", "en_US") and Texts("xx").locales == ("en_US",)
    assert Texts("en").make("phone", "k") == Texts("en").make("phone", "k")  # seeded per value
    assert [
        kind(entity_kind(e), n, t)
        for e, n, t in (
            ("Contact", "name", "string"),
            ("Company", "name", "string"),
            ("Product", "name", "string"),
            ("Deal", "name", "string"),
            ("Lead", "company_name", "string"),
            ("Task", "description", "text"),
            ("Office", "city", "string"),
            ("Office", "mail", "email"),
        )
    ] == ["person", "company", "product", "label", "company", "paragraph", "city", "email"]


def test_a_field_reads_its_constraints_from_the_catalog() -> None:
    staff, floor = COMPANIES.fields["staff"], COMPANIES.fields["floor"]
    assert seeding.Field.of(staff).min is None  # the 32-bit bound is not the spec's
    assert seeding.Field.of(floor).min == 3
    assert [f.name for f in seeding.fields(CATALOG, "Company", {})][-3:] == [
        "owner",
        "parent",
        "tags",
    ]
    values = Values(Texts("en"), Dates(TODAY), "USD")
    assert values.value("Deal", seeding.Field("scan", "scan", "file"), 0) is None
    assert values.value("Deal", seeding.Field("geo", "geo", "point"), 0) is None
    opens = values.value("Deal", seeding.Field("opens", "opens", "time"), 0)
    assert dt.time(9) <= opens < dt.time(18)
    tax = seeding.Field("tax_id", "tax_id", "string", pattern="^[0-9]{10}([0-9]{2})?$", unique=True)
    numbers = {values.value("Company", tax, i) for i in range(20)}
    assert len(numbers) == 20 and all(re.fullmatch(tax.pattern or "", n) for n in numbers)
    invoice = seeding.Field("number", "number", "string", pattern="^INV-[0-9]{4}-[0-9]+$")
    assert values.value("Invoice", invoice, 6) == "INV-2026-0007"
    odd = seeding.Field("code", "code", "string", pattern="^Q[xyz]{3}$")
    patterned = Values(Texts("en"), Dates(TODAY), patterned={("Deal", "code"): ("Qxyz",)})
    assert patterned.value("Deal", odd, 0) == "Qxyz"  # crmgen's sample of the pattern
