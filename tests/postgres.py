"""The PostgreSQL server the tests use, and the one rule for when it is missing.

``CRMGEN_TEST_POSTGRES`` names it (default: the local trust-auth server). Without it, the
PostgreSQL tests skip with the reason on a bare machine and fail under ``CI=true``.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

POSTGRES_URL = os.environ.get(
    "CRMGEN_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def admin_engine() -> sa.Engine:
    """An AUTOCOMMIT engine on the server (to create and drop databases or schemas)."""
    engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no PostgreSQL here"
        engine.dispose()
        reason = f"PostgreSQL is not reachable at {POSTGRES_URL}: {type(exc).__name__}: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (CI=true: the PostgreSQL tests must run)")
        pytest.skip(reason)
    return engine
