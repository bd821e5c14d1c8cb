"""The app's migrations build its whole schema on an empty database (``alembic upgrade head``).

The session's own database is that empty database: ``conftest.schema`` notes its tables
before and after the migrations ran, so they run once per test session.
"""

from __future__ import annotations

import pytest

from reference_crm import models
from tests.conftest import Schema, migrations_exist, tables


@pytest.mark.skipif(not migrations_exist(), reason="the app has no migrations")
def test_upgrade_from_empty_to_head(schema: Schema) -> None:
    from reference_crm.cli import run_migrations

    assert schema.before == set()
    created = schema.after
    assert set(models.Base.metadata.tables) <= created
    assert "alembic_version" in created

    run_migrations(schema.url)  # at head already: nothing to do
    assert tables(schema.url) == created
