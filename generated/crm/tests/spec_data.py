"""The spec of reference_crm as test data, written by crmgen 0.1.0.

For each entity: the API actions it enables, a few valid records (distinct in every unique
field), the links a record needs (``Ref``), one invalid value per constraint (``Invalid``),
the unique field groups and the rules of each role. The tests read nothing else about the
spec, so they hold for whatever the spec says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MISSING = "<missing>"  # an invalid case that leaves the field out
# API path -> fields the spec's processes may write (set, assign, create, update steps).
PROCESS_WRITTEN: dict[str, frozenset[str]] = {
    "companies": frozenset(["employees", "extra"]),
    "deals": frozenset(["closed_on", "stage"]),
    "interactions": frozenset(
        [
            "company",
            "contact",
            "deal",
            "direction",
            "duration",
            "gist",
            "happened_at",
            "kind",
            "owner",
            "phone",
            "recording",
            "summary",
        ]
    ),
    "invoices": frozenset(["company", "deal", "number", "owner", "status", "total"]),
    "leads": frozenset(["name", "notes", "phone", "source"]),
    "orders": frozenset(["total"]),
    "tasks": frozenset(
        ["assignee", "deadline", "deal", "done_at", "priority", "status", "title"]
    ),
}
ACTIONS = ("list", "read", "create", "update", "delete")
ROLES = ("admin", "manager", "sales", "support")
SUPERUSER_ROLES = ("admin",)
# Roles that may create and delete users and change their e-mail, active flag and roles.
USER_MANAGER_ROLES = ("admin", "manager")
LOCKOUT_ATTEMPTS = 5
USER_PATH = "users"
USER_TABLE = "users"
# The data tables, each before the tables it points at: deleting in this order is safe.
CLEAN_ORDER = (
    "client_group_members",
    "invoices",
    "order_lines",
    "orders",
    "interactions",
    "tasks",
    "deals",
    "contacts",
    "client_groups",
    "leads",
    "companies",
    "users",
    "products",
    "positions",
)


@dataclass(frozen=True)
class Ref:
    """A link a record needs: ``field`` gets the id of a record at ``/api/<target>``.

    ``per_record``: every record needs its own target (the link is unique); ``user``: the
    target is a user (the test's users are used); ``many``: the field holds a list of ids.
    """

    field: str
    target: str
    per_record: bool = False
    user: bool = False
    many: bool = False


@dataclass(frozen=True)
class Invalid:
    """``field`` set to ``value`` (or left out when it is MISSING) -> ``status``."""

    id: str
    field: str
    value: Any
    status: int


@dataclass(frozen=True)
class Rule:
    """What a role may do: the access of each action (all, own, where, none)."""

    actions: dict[str, str]
    wheres: dict[str, str] = field(
        default_factory=dict
    )  # action -> the spec's condition
    hidden: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entity:
    name: str
    path: str
    table: str
    actions: tuple[str, ...]
    owner_column: str | None
    records: tuple[dict[str, Any], ...]
    refs: tuple[Ref, ...] = ()
    invalid: tuple[Invalid, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()
    patch: tuple[str, Any] | None = None
    filter: tuple[str, str] | None = None
    rules: dict[str, Rule] = field(default_factory=dict)
    unsampleable: str = ""

    def rule(self, role: str) -> Rule:
        """The rule of ``role``; a role the spec does not name may do nothing."""
        return self.rules.get(role, Rule(actions=dict.fromkeys(ACTIONS, "none")))


ENTITIES: dict[str, Entity] = {
    "positions": Entity(
        name="Position",
        path="positions",
        table="positions",
        actions=("list", "read", "create", "update", "delete"),
        owner_column=None,
        records=(
            {"name": "0 name sample", "description": "0 description sample"},
            {"name": "1 name sample", "description": "1 description sample"},
            {"name": "2 name sample", "description": "2 description sample"},
        ),
        invalid=(
            Invalid("name-required", "name", "<missing>", 422),
            Invalid("name-not-text", "name", 12345, 422),
            Invalid(
                "name-too-long",
                "name",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("description-not-text", "description", 12345, 422),
        ),
        unique=(("name",),),
        patch=("name", "1 name sample"),
        filter=("name", "0 name sample"),
        rules={
            "manager": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "all",
                    "update": "all",
                    "delete": "all",
                },
            ),
            "sales": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "none",
                    "update": "none",
                    "delete": "none",
                },
            ),
            "support": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "none",
                    "update": "none",
                    "delete": "none",
                },
            ),
        },
    ),
    "users": Entity(
        name="User",
        path="users",
        table="users",
        actions=("list", "read", "create", "update", "delete"),
        owner_column=None,
        records=(
            {
                "email": "s0.users@example.com",
                "name": "0 name sample",
                "active": False,
                "phone": "+15550100",
                "telegram_chat": "0",
                "hired_on": "2024-03-10",
            },
            {
                "email": "s1.users@example.com",
                "name": "1 name sample",
                "active": True,
                "phone": "+15550101",
                "telegram_chat": "1",
                "hired_on": "2024-03-11",
            },
            {
                "email": "s2.users@example.com",
                "name": "2 name sample",
                "active": False,
                "phone": "+15550102",
                "telegram_chat": "2",
                "hired_on": "2024-03-12",
            },
        ),
        invalid=(
            Invalid("email-required", "email", "<missing>", 422),
            Invalid("email-not-text", "email", 12345, 422),
            Invalid(
                "email-too-long",
                "email",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("email-bad-email", "email", "not-an-email", 422),
            Invalid("name-not-text", "name", 12345, 422),
            Invalid(
                "name-too-long",
                "name",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("active-not-boolean", "active", "maybe", 422),
            Invalid("position-unknown-record", "position", 2000000000, 422),
            Invalid("phone-not-text", "phone", 12345, 422),
            Invalid(
                "phone-too-long", "phone", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 422
            ),
            Invalid("phone-bad-phone", "phone", "call me maybe", 422),
            Invalid("telegram_chat-not-text", "telegram_chat", 12345, 422),
            Invalid(
                "telegram_chat-too-long",
                "telegram_chat",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("telegram_chat-pattern", "telegram_chat", "!", 422),
            Invalid("hired_on-bad-date", "hired_on", "2024-13-45", 422),
        ),
        unique=(("email",),),
        patch=("email", "s1.users@example.com"),
        filter=("email", "s0.users@example.com"),
        rules={
            "manager": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "all",
                    "update": "all",
                    "delete": "all",
                },
            ),
            "sales": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "none",
                    "update": "none",
                    "delete": "none",
                },
            ),
            "support": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "none",
                    "update": "none",
                    "delete": "none",
                },
            ),
        },
    ),
    "companies": Entity(
        name="Company",
        path="companies",
        table="companies",
        actions=("list", "read", "create", "update", "delete"),
        owner_column="owner_id",
        records=(
            {
                "name": "0 name sample",
                "website": "https://example.com/companies/0",
                "phone": "+15550100",
                "email": "s0.companies@example.com",
                "address": "0 address sample",
                "industry": "retail",
                "employees": 1,
                "annual_revenue": 1,
                "tax_id": "0000000000",
                "extra": {"sample": 0, "tags": ["a", "b"]},
            },
            {
                "name": "1 name sample",
                "website": "https://example.com/companies/1",
                "phone": "+15550101",
                "email": "s1.companies@example.com",
                "address": "1 address sample",
                "industry": "manufacturing",
                "employees": 2,
                "annual_revenue": 2,
                "tax_id": "1111111111",
                "extra": {"sample": 1, "tags": ["a", "b"]},
            },
            {
                "name": "2 name sample",
                "website": "https://example.com/companies/2",
                "phone": "+15550102",
                "email": "s2.companies@example.com",
                "address": "2 address sample",
                "industry": "services",
                "employees": 3,
                "annual_revenue": 3,
                "tax_id": "2222222222",
                "extra": {"sample": 2, "tags": ["a", "b"]},
            },
        ),
        invalid=(
            Invalid("name-required", "name", "<missing>", 422),
            Invalid("name-not-text", "name", 12345, 422),
            Invalid(
                "name-too-long",
                "name",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("website-not-text", "website", 12345, 422),
            Invalid(
                "website-too-long",
                "website",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("website-bad-url", "website", "not a web address", 422),
            Invalid("phone-not-text", "phone", 12345, 422),
            Invalid(
                "phone-too-long", "phone", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 422
            ),
            Invalid("phone-bad-phone", "phone", "call me maybe", 422),
            Invalid("email-not-text", "email", 12345, 422),
            Invalid(
                "email-too-long",
                "email",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("email-bad-email", "email", "not-an-email", 422),
            Invalid("address-not-text", "address", 12345, 422),
            Invalid("owner-unknown-record", "owner", 2000000000, 422),
            Invalid("parent-unknown-record", "parent", 2000000000, 422),
            Invalid("industry-bad-enum", "industry", "NOT-A-VALUE", 422),
            Invalid("employees-not-a-number", "employees", "many", 422),
            Invalid("employees-below-min", "employees", -1, 422),
            Invalid("employees-above-max", "employees", 10000001, 422),
            Invalid("employees-not-whole", "employees", 1.5, 422),
            Invalid("annual_revenue-not-a-number", "annual_revenue", "many", 422),
            Invalid("annual_revenue-below-min", "annual_revenue", -1, 422),
            Invalid("tax_id-not-text", "tax_id", 12345, 422),
            Invalid("tax_id-too-long", "tax_id", "xxxxxxxxxxxxx", 422),
            Invalid("tax_id-too-short", "tax_id", "xxxxxxxxx", 422),
            Invalid("tax_id-pattern", "tax_id", "!!!!!!!!!!", 422),
        ),
        unique=(("tax_id",),),
        patch=("name", "1 name sample"),
        filter=("name", "0 name sample"),
        rules={
            "manager": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "all",
                    "update": "all",
                    "delete": "all",
                },
            ),
            "sales": Rule(
                actions={
                    "list": "own",
                    "read": "own",
                    "create": "all",
                    "update": "own",
                    "delete": "own",
                },
            ),
            "support": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "none",
                    "update": "none",
                    "delete": "none",
                },
                hidden=("won_total",),
            ),
        },
    ),
    "contacts": Entity(
        name="Contact",
        path="contacts",
        table="contacts",
        actions=("list", "read", "create", "update", "delete"),
        owner_column="owner_id",
        records=(
            {
                "full_name": "0 full_name sample",
                "phone": "+15550100",
                "email": "s0.contacts@example.com",
                "position_title": "0 position_title sample",
                "birthday": "2024-03-10",
                "is_key": False,
                "discount": 1,
                "notes": "0 notes sample",
                "marketing_consent": False,
                "passport_number": "0 passport_number sample",
                "private_note": "0 private_note sample",
            },
            {
                "full_name": "1 full_name sample",
                "phone": "+15550101",
                "email": "s1.contacts@example.com",
                "position_title": "1 position_title sample",
                "birthday": "2024-03-11",
                "is_key": True,
                "discount": 2,
                "notes": "1 notes sample",
                "marketing_consent": True,
                "passport_number": "1 passport_number sample",
                "private_note": "1 private_note sample",
            },
            {
                "full_name": "2 full_name sample",
                "phone": "+15550102",
                "email": "s2.contacts@example.com",
                "position_title": "2 position_title sample",
                "birthday": "2024-03-12",
                "is_key": False,
                "discount": 3,
                "notes": "2 notes sample",
                "marketing_consent": False,
                "passport_number": "2 passport_number sample",
                "private_note": "2 private_note sample",
            },
        ),
        refs=(
            Ref("company", "companies", per_record=True),
            Ref("portal_user", "users", per_record=True, user=True),
        ),
        invalid=(
            Invalid("full_name-required", "full_name", "<missing>", 422),
            Invalid("full_name-not-text", "full_name", 12345, 422),
            Invalid(
                "full_name-too-long",
                "full_name",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("phone-not-text", "phone", 12345, 422),
            Invalid(
                "phone-too-long", "phone", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 422
            ),
            Invalid("phone-bad-phone", "phone", "call me maybe", 422),
            Invalid("email-not-text", "email", 12345, 422),
            Invalid(
                "email-too-long",
                "email",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("email-bad-email", "email", "not-an-email", 422),
            Invalid("company-unknown-record", "company", 2000000000, 422),
            Invalid("position_title-not-text", "position_title", 12345, 422),
            Invalid(
                "position_title-too-long",
                "position_title",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("birthday-bad-date", "birthday", "2024-13-45", 422),
            Invalid("owner-unknown-record", "owner", 2000000000, 422),
            Invalid("is_key-not-boolean", "is_key", "maybe", 422),
            Invalid("discount-not-a-number", "discount", "many", 422),
            Invalid("discount-below-min", "discount", -1, 422),
            Invalid("discount-above-max", "discount", 101, 422),
            Invalid("photo-not-text", "photo", 12345, 422),
            Invalid(
                "photo-too-long",
                "photo",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("photo-bad-image", "photo", "not an image", 422),
            Invalid("portal_user-unknown-record", "portal_user", 2000000000, 422),
            Invalid("notes-not-text", "notes", 12345, 422),
            Invalid(
                "notes-too-long",
                "notes",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("marketing_consent-not-boolean", "marketing_consent", "maybe", 422),
            Invalid("passport_number-not-text", "passport_number", 12345, 422),
            Invalid(
                "passport_number-too-long",
                "passport_number",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("private_note-not-text", "private_note", 12345, 422),
            Invalid(
                "private_note-too-long",
                "private_note",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
        ),
        unique=(("portal_user",), ("company", "email")),
        patch=("full_name", "1 full_name sample"),
        filter=("full_name", "0 full_name sample"),
        rules={
            "manager": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "all",
                    "update": "all",
                    "delete": "all",
                },
            ),
            "sales": Rule(
                actions={
                    "list": "own",
                    "read": "own",
                    "create": "all",
                    "update": "own",
                    "delete": "own",
                },
            ),
            "support": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "none",
                    "update": "where",
                    "delete": "none",
                },
                wheres={
                    "update": "not record.is_key",
                },
                hidden=("birthday", "discount", "passport_number", "private_note"),
                read_only=("full_name", "company", "owner", "is_key"),
            ),
        },
    ),
    "leads": Entity(
        name="Lead",
        path="leads",
        table="leads",
        actions=("list", "read", "create", "update", "delete"),
        owner_column="owner_id",
        records=(
            {
                "name": "0 name sample",
                "company_name": "0 company_name sample",
                "email": "s0.leads@example.com",
                "phone": "+15550100",
                "source": "website",
                "status": "new",
                "notes": "0 notes sample",
                "utm": {"sample": 0, "tags": ["a", "b"]},
                "landing_page": "https://example.com/leads/0",
                "utm_source": "0 utm_source sample",
                "utm_medium": "0 utm_medium sample",
                "utm_campaign": "0 utm_campaign sample",
                "marketing_consent": False,
            },
            {
                "name": "1 name sample",
                "company_name": "1 company_name sample",
                "email": "s1.leads@example.com",
                "phone": "+15550101",
                "source": "referral",
                "status": "contacted",
                "notes": "1 notes sample",
                "utm": {"sample": 1, "tags": ["a", "b"]},
                "landing_page": "https://example.com/leads/1",
                "utm_source": "1 utm_source sample",
                "utm_medium": "1 utm_medium sample",
                "utm_campaign": "1 utm_campaign sample",
                "marketing_consent": True,
            },
            {
                "name": "2 name sample",
                "company_name": "2 company_name sample",
                "email": "s2.leads@example.com",
                "phone": "+15550102",
                "source": "cold_call",
                "status": "qualified",
                "notes": "2 notes sample",
                "utm": {"sample": 2, "tags": ["a", "b"]},
                "landing_page": "https://example.com/leads/2",
                "utm_source": "2 utm_source sample",
                "utm_medium": "2 utm_medium sample",
                "utm_campaign": "2 utm_campaign sample",
                "marketing_consent": False,
            },
        ),
        invalid=(
            Invalid("name-required", "name", "<missing>", 422),
            Invalid("name-not-text", "name", 12345, 422),
            Invalid(
                "name-too-long",
                "name",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("company_name-not-text", "company_name", 12345, 422),
            Invalid(
                "company_name-too-long",
                "company_name",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("email-not-text", "email", 12345, 422),
            Invalid(
                "email-too-long",
                "email",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("email-bad-email", "email", "not-an-email", 422),
            Invalid("phone-not-text", "phone", 12345, 422),
            Invalid(
                "phone-too-long", "phone", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 422
            ),
            Invalid("phone-bad-phone", "phone", "call me maybe", 422),
            Invalid("source-bad-enum", "source", "NOT-A-VALUE", 422),
            Invalid("status-bad-enum", "status", "NOT-A-VALUE", 422),
            Invalid("notes-not-text", "notes", 12345, 422),
            Invalid("owner-unknown-record", "owner", 2000000000, 422),
            Invalid("landing_page-not-text", "landing_page", 12345, 422),
            Invalid(
                "landing_page-too-long",
                "landing_page",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("landing_page-bad-url", "landing_page", "not a web address", 422),
            Invalid("utm_source-not-text", "utm_source", 12345, 422),
            Invalid(
                "utm_source-too-long",
                "utm_source",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("utm_medium-not-text", "utm_medium", 12345, 422),
            Invalid(
                "utm_medium-too-long",
                "utm_medium",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("utm_campaign-not-text", "utm_campaign", 12345, 422),
            Invalid(
                "utm_campaign-too-long",
                "utm_campaign",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("marketing_consent-not-boolean", "marketing_consent", "maybe", 422),
        ),
        patch=("name", "1 name sample"),
        filter=("name", "0 name sample"),
        rules={
            "manager": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "all",
                    "update": "all",
                    "delete": "all",
                },
            ),
            "sales": Rule(
                actions={
                    "list": "own",
                    "read": "own",
                    "create": "all",
                    "update": "own",
                    "delete": "own",
                },
            ),
            "support": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "none",
                    "update": "none",
                    "delete": "none",
                },
            ),
        },
    ),
    "deals": Entity(
        name="Deal",
        path="deals",
        table="deals",
        actions=("list", "read", "create", "update", "delete"),
        owner_column="owner_id",
        records=(
            {
                "name": "0 name sample",
                "stage": "lead",
                "amount": 1,
                "expected_close": "2024-03-10",
                "lost_reason": "0 lost_reason sample",
            },
            {
                "name": "1 name sample",
                "stage": "lead",
                "amount": 2,
                "expected_close": "2024-03-11",
                "lost_reason": "1 lost_reason sample",
            },
            {
                "name": "2 name sample",
                "stage": "lead",
                "amount": 3,
                "expected_close": "2024-03-12",
                "lost_reason": "2 lost_reason sample",
            },
        ),
        invalid=(
            Invalid("name-required", "name", "<missing>", 422),
            Invalid("name-not-text", "name", 12345, 422),
            Invalid(
                "name-too-long",
                "name",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("stage-bad-enum", "stage", "NOT-A-VALUE", 422),
            Invalid("amount-not-a-number", "amount", "many", 422),
            Invalid("amount-below-min", "amount", -1, 422),
            Invalid("company-unknown-record", "company", 2000000000, 422),
            Invalid("contact-unknown-record", "contact", 2000000000, 422),
            Invalid("expected_close-bad-date", "expected_close", "2024-13-45", 422),
            Invalid("owner-unknown-record", "owner", 2000000000, 422),
            Invalid("contract-not-text", "contract", 12345, 422),
            Invalid(
                "contract-too-long",
                "contract",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("contract-bad-file", "contract", "not a file", 422),
            Invalid("lost_reason-not-text", "lost_reason", 12345, 422),
        ),
        patch=("name", "1 name sample"),
        filter=("name", "0 name sample"),
        rules={
            "manager": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "all",
                    "update": "all",
                    "delete": "all",
                },
            ),
            "sales": Rule(
                actions={
                    "list": "own",
                    "read": "own",
                    "create": "all",
                    "update": "own",
                    "delete": "own",
                },
            ),
            "support": Rule(
                actions={
                    "list": "where",
                    "read": "where",
                    "create": "none",
                    "update": "none",
                    "delete": "none",
                },
                wheres={
                    "list": "record.stage != 'lost'",
                    "read": "record.stage != 'lost'",
                },
                hidden=("amount", "vat"),
            ),
        },
    ),
    "tasks": Entity(
        name="Task",
        path="tasks",
        table="tasks",
        actions=("list", "read", "create", "update", "delete"),
        owner_column="assignee_id",
        records=(
            {
                "title": "0 title sample",
                "description": "0 description sample",
                "deadline": "2024-03-10",
                "priority": "low",
                "status": "new",
            },
            {
                "title": "1 title sample",
                "description": "1 description sample",
                "deadline": "2024-03-11",
                "priority": "normal",
                "status": "in_progress",
            },
            {
                "title": "2 title sample",
                "description": "2 description sample",
                "deadline": "2024-03-12",
                "priority": "high",
                "status": "done",
            },
        ),
        invalid=(
            Invalid("title-required", "title", "<missing>", 422),
            Invalid("title-not-text", "title", 12345, 422),
            Invalid(
                "title-too-long",
                "title",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("description-not-text", "description", 12345, 422),
            Invalid("assignee-unknown-record", "assignee", 2000000000, 422),
            Invalid("deadline-bad-date", "deadline", "2024-13-45", 422),
            Invalid("priority-bad-enum", "priority", "NOT-A-VALUE", 422),
            Invalid("status-bad-enum", "status", "NOT-A-VALUE", 422),
            Invalid("deal-unknown-record", "deal", 2000000000, 422),
            Invalid("contact-unknown-record", "contact", 2000000000, 422),
        ),
        patch=("title", "1 title sample"),
        filter=("title", "0 title sample"),
        rules={
            "manager": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "all",
                    "update": "all",
                    "delete": "all",
                },
            ),
            "sales": Rule(
                actions={
                    "list": "own",
                    "read": "own",
                    "create": "all",
                    "update": "own",
                    "delete": "none",
                },
            ),
            "support": Rule(
                actions={
                    "list": "own",
                    "read": "own",
                    "create": "all",
                    "update": "own",
                    "delete": "none",
                },
            ),
        },
    ),
    "interactions": Entity(
        name="Interaction",
        path="interactions",
        table="interactions",
        actions=("list", "read", "create"),
        owner_column="owner_id",
        records=(
            {
                "kind": "call",
                "happened_at": "2024-03-10T09:30:00+00:00",
                "gist": "0 gist sample",
                "summary": "0 summary sample",
                "direction": "inbound",
                "duration": 1,
                "phone": "+15550100",
                "recording": "https://example.com/interactions/0",
            },
            {
                "kind": "meeting",
                "happened_at": "2024-03-11T09:30:00+00:00",
                "gist": "1 gist sample",
                "summary": "1 summary sample",
                "direction": "outbound",
                "duration": 2,
                "phone": "+15550101",
                "recording": "https://example.com/interactions/1",
            },
            {
                "kind": "note",
                "happened_at": "2024-03-12T09:30:00+00:00",
                "gist": "2 gist sample",
                "summary": "2 summary sample",
                "direction": "inbound",
                "duration": 3,
                "phone": "+15550102",
                "recording": "https://example.com/interactions/2",
            },
        ),
        invalid=(
            Invalid("kind-bad-enum", "kind", "NOT-A-VALUE", 422),
            Invalid("happened_at-bad-datetime", "happened_at", "2024-13-45", 422),
            Invalid("gist-required", "gist", "<missing>", 422),
            Invalid("gist-not-text", "gist", 12345, 422),
            Invalid(
                "gist-too-long",
                "gist",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("summary-not-text", "summary", 12345, 422),
            Invalid("contact-unknown-record", "contact", 2000000000, 422),
            Invalid("company-unknown-record", "company", 2000000000, 422),
            Invalid("deal-unknown-record", "deal", 2000000000, 422),
            Invalid("owner-unknown-record", "owner", 2000000000, 422),
            Invalid("direction-bad-enum", "direction", "NOT-A-VALUE", 422),
            Invalid("duration-not-a-number", "duration", "many", 422),
            Invalid("duration-below-min", "duration", -1, 422),
            Invalid("duration-above-max", "duration", 86401, 422),
            Invalid("duration-not-whole", "duration", 1.5, 422),
            Invalid("phone-not-text", "phone", 12345, 422),
            Invalid(
                "phone-too-long", "phone", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 422
            ),
            Invalid("phone-bad-phone", "phone", "call me maybe", 422),
            Invalid("recording-not-text", "recording", 12345, 422),
            Invalid(
                "recording-too-long",
                "recording",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("recording-bad-url", "recording", "not a web address", 422),
        ),
        patch=("kind", "meeting"),
        filter=("kind", "call"),
        rules={
            "manager": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "all",
                    "update": "all",
                    "delete": "all",
                },
            ),
            "sales": Rule(
                actions={
                    "list": "own",
                    "read": "own",
                    "create": "all",
                    "update": "own",
                    "delete": "own",
                },
            ),
            "support": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "all",
                    "update": "own",
                    "delete": "none",
                },
            ),
        },
    ),
    "products": Entity(
        name="Product",
        path="products",
        table="products",
        actions=("list", "read", "create", "update", "delete"),
        owner_column=None,
        records=(
            {
                "name": "0 name sample",
                "sku": "A",
                "price": 1,
                "active": False,
                "description": "0 description sample",
            },
            {
                "name": "1 name sample",
                "sku": "B",
                "price": 2,
                "active": True,
                "description": "1 description sample",
            },
            {
                "name": "2 name sample",
                "sku": "C",
                "price": 3,
                "active": False,
                "description": "2 description sample",
            },
        ),
        invalid=(
            Invalid("name-required", "name", "<missing>", 422),
            Invalid("name-not-text", "name", 12345, 422),
            Invalid(
                "name-too-long",
                "name",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("sku-required", "sku", "<missing>", 422),
            Invalid("sku-not-text", "sku", 12345, 422),
            Invalid(
                "sku-too-long", "sku", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 422
            ),
            Invalid("sku-pattern", "sku", "!", 422),
            Invalid("price-required", "price", "<missing>", 422),
            Invalid("price-not-a-number", "price", "many", 422),
            Invalid("price-below-min", "price", -1, 422),
            Invalid("active-not-boolean", "active", "maybe", 422),
            Invalid("description-not-text", "description", 12345, 422),
        ),
        unique=(("sku",),),
        patch=("name", "1 name sample"),
        filter=("name", "0 name sample"),
        rules={
            "manager": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "all",
                    "update": "all",
                    "delete": "all",
                },
            ),
            "sales": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "none",
                    "update": "none",
                    "delete": "none",
                },
            ),
            "support": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "none",
                    "update": "none",
                    "delete": "none",
                },
            ),
        },
    ),
    "orders": Entity(
        name="Order",
        path="orders",
        table="orders",
        actions=("list", "read", "create", "update", "delete"),
        owner_column="owner_id",
        records=(
            {
                "number": "0 number sample",
                "status": "draft",
                "ordered_on": "2024-03-10",
            },
            {
                "number": "1 number sample",
                "status": "confirmed",
                "ordered_on": "2024-03-11",
            },
            {
                "number": "2 number sample",
                "status": "shipped",
                "ordered_on": "2024-03-12",
            },
        ),
        refs=(Ref("company", "companies"),),
        invalid=(
            Invalid("number-required", "number", "<missing>", 422),
            Invalid("number-not-text", "number", 12345, 422),
            Invalid(
                "number-too-long",
                "number",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("company-required", "company", "<missing>", 422),
            Invalid("company-unknown-record", "company", 2000000000, 422),
            Invalid("contact-unknown-record", "contact", 2000000000, 422),
            Invalid("deal-unknown-record", "deal", 2000000000, 422),
            Invalid("status-bad-enum", "status", "NOT-A-VALUE", 422),
            Invalid("ordered_on-bad-date", "ordered_on", "2024-13-45", 422),
            Invalid("owner-unknown-record", "owner", 2000000000, 422),
        ),
        unique=(("number",),),
        patch=("number", "1 number sample"),
        filter=("number", "0 number sample"),
        rules={
            "manager": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "all",
                    "update": "all",
                    "delete": "all",
                },
            ),
            "sales": Rule(
                actions={
                    "list": "own",
                    "read": "own",
                    "create": "all",
                    "update": "own",
                    "delete": "own",
                },
            ),
            "support": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "none",
                    "update": "none",
                    "delete": "none",
                },
            ),
        },
    ),
    "order_lines": Entity(
        name="OrderLine",
        path="order_lines",
        table="order_lines",
        actions=("list", "read", "create", "update", "delete"),
        owner_column=None,
        records=(
            {"quantity": 1, "price": 1},
            {"quantity": 2, "price": 2},
            {"quantity": 3, "price": 3},
        ),
        refs=(
            Ref("sales_order", "orders", per_record=True),
            Ref("product", "products", per_record=True),
        ),
        invalid=(
            Invalid("sales_order-required", "sales_order", "<missing>", 422),
            Invalid("sales_order-unknown-record", "sales_order", 2000000000, 422),
            Invalid("product-required", "product", "<missing>", 422),
            Invalid("product-unknown-record", "product", 2000000000, 422),
            Invalid("quantity-not-a-number", "quantity", "many", 422),
            Invalid("quantity-below-min", "quantity", 0, 422),
            Invalid("quantity-above-max", "quantity", 100001, 422),
            Invalid("quantity-not-whole", "quantity", 1.5, 422),
            Invalid("price-required", "price", "<missing>", 422),
            Invalid("price-not-a-number", "price", "many", 422),
            Invalid("price-below-min", "price", -1, 422),
        ),
        unique=(("sales_order", "product"),),
        patch=("quantity", 2),
        filter=("quantity", "1"),
        rules={
            "manager": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "all",
                    "update": "all",
                    "delete": "all",
                },
            ),
            "sales": Rule(
                actions={
                    "list": "where",
                    "read": "where",
                    "create": "all",
                    "update": "where",
                    "delete": "where",
                },
                wheres={
                    "list": "record.sales_order.owner == user",
                    "read": "record.sales_order.owner == user",
                    "update": "record.sales_order.owner == user",
                    "delete": "record.sales_order.owner == user",
                },
            ),
            "support": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "none",
                    "update": "none",
                    "delete": "none",
                },
            ),
        },
    ),
    "invoices": Entity(
        name="Invoice",
        path="invoices",
        table="invoices",
        actions=("list", "read", "create", "update", "delete"),
        owner_column="owner_id",
        records=(
            {
                "number": "INV-0000-0",
                "status": "draft",
                "issued_on": "2024-03-10",
                "due_date": "2024-03-10",
                "total": 1,
                "paid_at": "2024-03-10T09:30:00+00:00",
            },
            {
                "number": "INV-1111-1",
                "status": "sent",
                "issued_on": "2024-03-11",
                "due_date": "2024-03-11",
                "total": 2,
                "paid_at": "2024-03-11T09:30:00+00:00",
            },
            {
                "number": "INV-2222-2",
                "status": "paid",
                "issued_on": "2024-03-12",
                "due_date": "2024-03-12",
                "total": 3,
                "paid_at": "2024-03-12T09:30:00+00:00",
            },
        ),
        refs=(Ref("sales_order", "orders", per_record=True),),
        invalid=(
            Invalid("number-required", "number", "<missing>", 422),
            Invalid("number-not-text", "number", 12345, 422),
            Invalid(
                "number-too-long",
                "number",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("number-pattern", "number", "!", 422),
            Invalid("company-unknown-record", "company", 2000000000, 422),
            Invalid("deal-unknown-record", "deal", 2000000000, 422),
            Invalid("sales_order-unknown-record", "sales_order", 2000000000, 422),
            Invalid("status-bad-enum", "status", "NOT-A-VALUE", 422),
            Invalid("issued_on-bad-date", "issued_on", "2024-13-45", 422),
            Invalid("due_date-bad-date", "due_date", "2024-13-45", 422),
            Invalid("total-required", "total", "<missing>", 422),
            Invalid("total-not-a-number", "total", "many", 422),
            Invalid("total-below-min", "total", -1, 422),
            Invalid("owner-unknown-record", "owner", 2000000000, 422),
            Invalid("pdf-not-text", "pdf", 12345, 422),
            Invalid(
                "pdf-too-long",
                "pdf",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("pdf-bad-file", "pdf", "not a file", 422),
            Invalid("paid_at-bad-datetime", "paid_at", "2024-13-45", 422),
        ),
        unique=(("number",), ("sales_order",)),
        patch=("number", "INV-1111-1"),
        filter=("number", "INV-0000-0"),
        rules={
            "manager": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "all",
                    "update": "all",
                    "delete": "all",
                },
            ),
            "sales": Rule(
                actions={
                    "list": "own",
                    "read": "own",
                    "create": "all",
                    "update": "own",
                    "delete": "none",
                },
            ),
            "support": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "none",
                    "update": "none",
                    "delete": "none",
                },
            ),
        },
    ),
    "client_groups": Entity(
        name="ClientGroup",
        path="client_groups",
        table="client_groups",
        actions=("list", "read", "create", "update", "delete"),
        owner_column="owner_id",
        records=(
            {"name": "0 name sample", "description": "0 description sample"},
            {"name": "1 name sample", "description": "1 description sample"},
            {"name": "2 name sample", "description": "2 description sample"},
        ),
        invalid=(
            Invalid("name-required", "name", "<missing>", 422),
            Invalid("name-not-text", "name", 12345, 422),
            Invalid(
                "name-too-long",
                "name",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                422,
            ),
            Invalid("name-too-short", "name", "x", 422),
            Invalid("description-not-text", "description", 12345, 422),
            Invalid("members-unknown-record", "members", [2000000000], 422),
            Invalid("owner-unknown-record", "owner", 2000000000, 422),
        ),
        unique=(("name",),),
        patch=("name", "1 name sample"),
        filter=("name", "0 name sample"),
        rules={
            "manager": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "all",
                    "update": "all",
                    "delete": "all",
                },
            ),
            "sales": Rule(
                actions={
                    "list": "own",
                    "read": "own",
                    "create": "all",
                    "update": "own",
                    "delete": "own",
                },
            ),
            "support": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "none",
                    "update": "none",
                    "delete": "none",
                },
            ),
        },
    ),
}
