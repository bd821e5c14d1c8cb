"""A small CRM described as an app describes its entities: three models and their resources.

Imported by ``conftest.py`` only; tests get it through the ``crm`` and ``crm_db`` fixtures
(``crm_web`` too: the CRM in a ``Database``, for HTTP tests through ``serve``).

- the system tables (``crmgen_runtime.tables``: sessions, audit log, outbox, ...);
- ``User`` (the User entity: no owner, timestamps, what signing in keeps, roles in
  ``UserRole``, an extra field ``hired_on``), ``Company`` (soft-deleted, owned, no
  timestamps), ``Deal`` (owned, a reference to a company, a list of partner companies, a
  computed ``label``);
- roles: ``admin`` may do all, ``manager`` manages users, ``sales`` reads and updates its own
  records (``Company.secret`` and ``Deal.amount`` hidden, ``Deal.stage`` read-only), ``viewer``
  reads companies named ``A...`` and deals over 100 (``Deal.title`` hidden), ``clerk`` has no
  rule at all.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from crmgen_runtime import tables
from crmgen_runtime.config import AppConfig
from crmgen_runtime.db import Database
from crmgen_runtime.decimals import ExactDecimal
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import Access, Catalog, FieldInfo, Resource, Rule
from sqlalchemy.ext.associationproxy import AssociationProxy, association_proxy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    email: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str | None] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)
    hired_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    role_entries: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="UserRole.role"
    )
    roles: AssociationProxy[list[str]] = association_proxy(
        "role_entries", "role", creator=lambda role: UserRole(role=role)
    )


class UserRole(tables.UserRoleTable, Base):
    user: Mapped[User] = relationship(back_populates="role_entries")


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    name: Mapped[str] = mapped_column(sa.String(50))
    secret: Mapped[str | None] = mapped_column(sa.Text)
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    deleted_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))


class UserSession(tables.UserSessionTable, Base):
    pass


class LoginAttempt(tables.LoginAttemptTable, Base):
    pass


class PasswordReset(tables.PasswordResetTable, Base):
    pass


class EmailChange(tables.EmailChangeTable, Base):
    pass


class RateLimit(tables.RateLimitTable, Base):
    pass


class AuditEntry(tables.AuditEntryTable, Base):
    pass


class OutboxMessage(tables.OutboxMessageTable, Base):
    pass


class ScheduleRun(tables.ScheduleRunTable, Base):
    pass


class ImportUpload(tables.ImportUploadTable, Base):
    pass


class ImportFailure(tables.ImportFailureTable, Base):
    pass


class StoredFile(tables.StoredFileTable, Base):
    pass


class WorkerHeartbeat(tables.WorkerHeartbeatTable, Base):
    pass


class TwoFactor(tables.TwoFactorTable, Base):
    pass


class ApiKey(tables.ApiKeyTable, Base):
    pass


class InboundEvent(tables.InboundEventTable, Base):
    pass


class Notification(tables.NotificationTable, Base):
    pass


class NotificationSetting(tables.NotificationSettingTable, Base):
    pass


class SavedView(tables.SavedViewTable, Base):
    pass


deal_partners = sa.Table(
    "deal_partners",
    Base.metadata,
    sa.Column("deal_id", sa.ForeignKey("deals.id"), primary_key=True),
    sa.Column("company_id", sa.ForeignKey("companies.id"), primary_key=True),
)


class Deal(Base):
    __tablename__ = "deals"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    title: Mapped[str] = mapped_column(sa.String(100))
    amount: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 2))
    stage: Mapped[str] = mapped_column(sa.String(20), default="new")
    label: Mapped[str | None] = mapped_column(sa.String(120))
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    company_id: Mapped[int | None] = mapped_column(sa.ForeignKey("companies.id"))
    created_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))


ACTIONS = frozenset({"list", "read", "create", "update", "delete"})
OWN_READ = {"read": Access("own"), "update": Access("own"), "create": Access("all")}


def starts_with_a(user: CurrentUser) -> sa.ColumnElement[bool]:
    return Company.name.like("A%")


def over_100(user: CurrentUser) -> sa.ColumnElement[bool]:
    return Deal.amount > 100


def owner_field(back: str, target: str = "User") -> FieldInfo:
    return FieldInfo(
        "owner", "ref", column="owner_id", relation="many_to_one", target=target, back=back
    )


users = Resource(
    name="User",
    path="users",
    label="User",
    model=User,
    fields={
        "email": FieldInfo("email", "email", column="email", required=True, unique=True),
        "name": FieldInfo("name", "string", column="name"),
        "active": FieldInfo("active", "boolean", column="active", not_null=True),
        "hired_on": FieldInfo("hired_on", "date", column="hired_on"),
    },
    display="name",
    search=("name", "email"),
    owner=None,
    soft_delete=False,
    timestamps=True,
    actions=ACTIONS,
    rules={"sales": Rule({"read": Access("own"), "update": Access("own")})},
)
companies = Resource(
    name="Company",
    path="companies",
    label="Company",
    model=Company,
    fields={
        "name": FieldInfo(
            "name", "string", column="name", required=True, options={"max_length": 50}
        ),
        "secret": FieldInfo("secret", "text", column="secret"),
        "owner": owner_field("companies"),
    },
    display="name",
    search=("name",),
    owner="owner",
    soft_delete=True,
    timestamps=False,
    actions=ACTIONS,
    rules={
        "sales": Rule(OWN_READ, hidden=frozenset({"secret"})),
        "viewer": Rule({"read": Access("where", starts_with_a)}),
    },
)
deals = Resource(
    name="Deal",
    path="deals",
    label="Deal",
    model=Deal,
    fields={
        "title": FieldInfo("title", "string", column="title", required=True, not_null=True),
        "amount": FieldInfo("amount", "money", column="amount"),
        "stage": FieldInfo("stage", "enum", column="stage", options={"values": ["new", "won"]}),
        "label": FieldInfo(
            "label", "string", column="label", read_only=True, compute=lambda deal: deal.title
        ),
        "owner": owner_field("deals"),
        "company": FieldInfo(
            "company",
            "ref",
            column="company_id",
            relation="many_to_one",
            target="Company",
            back="deals",
        ),
        "partners": FieldInfo(
            "partners",
            "refs",
            relation="many_to_many",
            target="Company",
            back="partner_deals",
            join=deal_partners,
            join_own="deal_id",
            join_target="company_id",
        ),
    },
    display="title",
    search=("title",),
    owner="owner",
    soft_delete=False,
    timestamps=True,
    actions=ACTIONS,
    rules={
        "sales": Rule(
            {**OWN_READ, "delete": Access("none")},
            hidden=frozenset({"amount"}),
            read_only=frozenset({"stage"}),
        ),
        "viewer": Rule({"read": Access("where", over_100)}, hidden=frozenset({"title"})),
    },
)
config = AppConfig(
    "rt_crm",
    title="Small CRM",
    roles=frozenset({"admin", "manager", "sales", "viewer", "clerk"}),
    audit_roles=frozenset({"admin", "manager"}),
)
catalog = Catalog(
    [users, companies, deals],
    superuser_roles=["admin"],
    user_manager_roles=["manager"],
    config=config,
)


def person(user_id: int, *roles: str, superuser: bool = False) -> CurrentUser:
    return CurrentUser(
        user_id, f"u{user_id}@example.com", f"U{user_id}", frozenset(roles), superuser=superuser
    )


class Crm:
    """The CRM's catalog and resources, and the people who use it: ``ann`` and ``bob`` (sales,
    users 1 and 2), ``vic`` (viewer, user 3), ``admin``, ``clerk``; ``engine`` when seeded."""

    catalog = catalog
    users = users
    companies = companies
    deals = deals
    User = User
    Company = Company
    Deal = Deal
    deal_partners = deal_partners
    ann = person(1, "sales")
    bob = person(2, "sales")
    vic = person(3, "viewer")
    admin = person(4, "admin")
    clerk = person(5, "clerk")

    def __init__(self, engine: sa.Engine | None = None, database: Database | None = None) -> None:
        self.engine = engine
        self.database = database

    @staticmethod
    def person(user_id: int, *roles: str, superuser: bool = False) -> CurrentUser:
        return person(user_id, *roles, superuser=superuser)


GONE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def seed(engine: sa.Engine) -> None:
    """The tables, with companies Acme (ann's), Beta (bob's), Apex (bob's, deleted) and Alpha
    (ann's); deals Big (500, ann's, at Acme, partners Beta and Alpha), Small (50, bob's, at
    Beta) and Mid (150, bob's, at Alpha)."""
    Base.metadata.create_all(engine)
    with engine.begin() as db:
        db.execute(sa.insert(User), [{"id": i, "email": f"u{i}@example.com"} for i in range(1, 6)])
        db.execute(
            sa.insert(Company),
            [
                {"id": 1, "name": "Acme", "owner_id": 1, "secret": "s1", "deleted_at": None},
                {"id": 2, "name": "Beta", "owner_id": 2, "secret": None, "deleted_at": None},
                {"id": 3, "name": "Apex", "owner_id": 2, "secret": None, "deleted_at": GONE},
                {"id": 4, "name": "Alpha", "owner_id": 1, "secret": None, "deleted_at": None},
            ],
        )
        db.execute(
            sa.insert(Deal),
            [
                {"id": 1, "title": "Big", "amount": Decimal(500), "owner_id": 1, "company_id": 1},
                {"id": 2, "title": "Small", "amount": Decimal(50), "owner_id": 2, "company_id": 2},
                {"id": 3, "title": "Mid", "amount": Decimal(150), "owner_id": 2, "company_id": 4},
            ],
        )
        db.execute(deal_partners.insert(), [{"deal_id": 1, "company_id": c} for c in (2, 4)])
        if engine.dialect.name == "postgresql":  # the ids given above: new rows come after them
            for table in ("users", "companies", "deals"):
                db.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100)"))


def drop(engine: sa.Engine) -> None:
    Base.metadata.drop_all(engine)
