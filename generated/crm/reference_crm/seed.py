"""Demo data that looks real: records of every entity and a demo user per role (``seed``).

The seeder is the runtime's (``crmgen_runtime.seeding``): it reads the fields and their
constraints from this app's catalog. What is this app's own: the order entities are seeded in
(each after the entities its required references point at), the roles a demo user is made for,
in the spec's order, the demo values of field types that know their own, and what crmgen read
of the spec: the kanban enums (a funnel), the calendar dates (around today), the totals that
are sums of lines, samples of the text patterns, and the fields set only in some states.

Demo users: ``ROLE@demo.example`` for each role, all with the password ``DEMO_PASSWORD``.
"""

from __future__ import annotations

import datetime as dt

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
# The enum of each kanban board (a funnel) and the date of each calendar (around today).
FUNNELS: dict[str, str] = {"Lead": "status", "Deal": "stage", "Task": "status"}
CALENDARS: dict[str, str] = {
    "Deal": "expected_close",
    "Task": "deadline",
    "Interaction": "happened_at",
}
# Totals that are the sum of lines: the seeder writes the sum.
ROLLUPS: list[seeding.Rollup] = [
    seeding.Rollup("Order", "total", "OrderLine", "sales_order", "line_total", ()),
    seeding.Rollup(
        "Invoice", "total", "OrderLine", "sales_order", "line_total", ("sales_order",)
    ),
]
# Fields set only in some states of their record (a close date once won or lost).
ONLY: list[seeding.Only] = [
    seeding.Only("Task", "done_at", "status", ("done",)),
    seeding.Only("Deal", "closed_on", "stage", ("won", "lost")),
    seeding.Only("Deal", "lost_reason", "stage", ("lost",)),
    seeding.Only("Invoice", "paid_at", "status", ("paid",)),
]
# Texts matching each pattern, should the seeder draw none that does.
PATTERNED: dict[tuple[str, str], tuple[object, ...]] = {
    ("User", "telegram_chat"): ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
    ("Company", "tax_id"): (
        "0000000000",
        "1111111111",
        "2222222222",
        "3333333333",
        "4444444444",
        "5555555555",
        "6666666666",
        "7777777777",
        "8888888888",
        "9999999999",
    ),
    ("Product", "sku"): (
        "A",
        "B",
        "C",
        "D",
        "E",
        "F",
        "G",
        "H",
        "I",
        "J",
        "K",
        "L",
        "M",
        "N",
        "O",
        "P",
        "Q",
        "R",
        "S",
        "T",
        "U",
        "V",
        "W",
        "X",
        "Y",
        "Z",
        "0",
        "1",
        "2",
        "3",
    ),
    ("Invoice", "number"): (
        "INV-0000-0",
        "INV-1111-1",
        "INV-2222-2",
        "INV-3333-3",
        "INV-4444-4",
        "INV-5555-5",
        "INV-6666-6",
        "INV-7777-7",
        "INV-8888-8",
        "INV-9999-9",
    ),
}
PLAN = seeding.Plan(
    CATALOG,
    ORDER,
    ROLES,
    hash_password,
    SAMPLES,
    FUNNELS,
    CALENDARS,
    ROLLUPS,
    PATTERNED,
    ONLY,
)

__all__ = ["DEMO_PASSWORD", "ORDER", "PLAN", "ROLES", "SAMPLES", "seed"]


def seed(
    url: str, today: dt.date | None = None, random_seed: int = 0
) -> dict[str, int]:
    """Fill the database at ``url`` with dates around ``today`` (default: the real date);
    returns records per entity ({} when it had records)."""
    return seeding.seed(url, PLAN, today, random_seed)
