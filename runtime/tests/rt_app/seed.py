"""Demo data: two companies, unless the database has some already."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from crmgen_runtime.db import Database
from rt_crm import Company

DEMO_PASSWORD = "demo-password"


def seed(url: str, today: dt.date | None = None, random_seed: int = 0) -> dict[str, int]:
    database = Database(url)
    try:
        with database.session() as session:
            if session.scalar(sa.select(sa.func.count(Company.id))):
                return {}
            session.add_all([Company(name="Demo A"), Company(name="Demo B")])
    finally:
        database.dispose()
    return {"Company": 2}
