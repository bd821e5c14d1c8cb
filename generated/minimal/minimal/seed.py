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

from minimal.resources import CATALOG

ORDER = ["User", "Contact"]
ROLES = ["admin", "staff"]
SAMPLES: dict[tuple[str, str], tuple[object, ...]] = {}
# The enum of each kanban board (a funnel) and the date of each calendar (around today).
FUNNELS: dict[str, str] = {}
CALENDARS: dict[str, str] = {}
# Totals that are the sum of lines: the seeder writes the sum.
ROLLUPS: list[seeding.Rollup] = []
# Fields set only in some states of their record (a close date once won or lost).
ONLY: list[seeding.Only] = []
PATTERNED: dict[tuple[str, str], tuple[object, ...]] = {}
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
