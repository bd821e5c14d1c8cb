"""The spec of minimal as test data, written by crmgen 0.1.0.

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
PROCESS_WRITTEN: dict[str, frozenset[str]] = {}
ACTIONS = ("list", "read", "create", "update", "delete")
ROLES = ("admin", "staff")
SUPERUSER_ROLES = ("admin",)
# Roles that may create and delete users and change their e-mail, active flag and roles.
USER_MANAGER_ROLES = ("admin",)
LOCKOUT_ATTEMPTS = 5
USER_PATH = "users"
USER_TABLE = "users"
# The data tables, each before the tables it points at: deleting in this order is safe.
CLEAN_ORDER = ("contacts", "users")


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
    "users": Entity(
        name="User",
        path="users",
        table="users",
        actions=("list", "read", "create", "update", "delete"),
        owner_column=None,
        records=(
            {"email": "s0.users@example.com", "name": "0 name sample", "active": False},
            {"email": "s1.users@example.com", "name": "1 name sample", "active": True},
            {"email": "s2.users@example.com", "name": "2 name sample", "active": False},
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
        ),
        unique=(("email",),),
        patch=("email", "s1.users@example.com"),
        filter=("email", "s0.users@example.com"),
    ),
    "contacts": Entity(
        name="Contact",
        path="contacts",
        table="contacts",
        actions=("list", "read", "create", "update", "delete"),
        owner_column=None,
        records=(
            {
                "name": "0 name sample",
                "email": "s0.contacts@example.com",
                "phone": "+1 555 0100",
                "notes": "0 notes sample",
            },
            {
                "name": "1 name sample",
                "email": "s1.contacts@example.com",
                "phone": "+1 555 0101",
                "notes": "1 notes sample",
            },
            {
                "name": "2 name sample",
                "email": "s2.contacts@example.com",
                "phone": "+1 555 0102",
                "notes": "2 notes sample",
            },
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
            Invalid("notes-not-text", "notes", 12345, 422),
        ),
        unique=(("email",),),
        patch=("name", "1 name sample"),
        filter=("name", "0 name sample"),
        rules={
            "staff": Rule(
                actions={
                    "list": "all",
                    "read": "all",
                    "create": "all",
                    "update": "all",
                    "delete": "all",
                },
            ),
        },
    ),
}
