"""The app's models are ``rt_crm``'s; its search index is a plain one on company names."""

from __future__ import annotations

import sqlalchemy as sa
from rt_crm import Base

__all__ = ["Base", "ensure_search_indexes"]


def ensure_search_indexes(connection: sa.Connection) -> None:
    connection.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_rt_company_name ON companies (name)"))
