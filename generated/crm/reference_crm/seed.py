"""Demo data: a few records of every entity and a demo user per role (``seed`` command).

The seeder is the runtime's (``crmgen_runtime.seeding``): it reads the fields and their
constraints from this app's catalog. What is this app's own: the order entities are seeded in
(each after the entities its required references point at), the roles a demo user is made for,
in the spec's order, and the demo values of field types that know their own.

Demo users: ``ROLE@demo.example`` for each role, all with the password ``DEMO_PASSWORD``.
"""

from __future__ import annotations

from crmgen_runtime import seeding
from crmgen_runtime.passwords import hash_password
from crmgen_runtime.seeding import DEMO_PASSWORD

from reference_crm.resources import CATALOG

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
ROLES = ["admin", "manager", "sales", "support"]
SAMPLES: dict[tuple[str, str], tuple[object, ...]] = {}
PLAN = seeding.Plan(CATALOG, ORDER, ROLES, hash_password, SAMPLES)

__all__ = ["DEMO_PASSWORD", "ORDER", "PLAN", "ROLES", "SAMPLES", "seed"]


def seed(url: str) -> dict[str, int]:
    """Fill the database at ``url``; returns records per entity ({} when it had records)."""
    return seeding.seed(url, PLAN)
