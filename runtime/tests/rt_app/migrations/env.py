"""Alembic's environment of the test app: the URL comes from the caller's configuration."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

engine = sa.create_engine(context.config.attributes["database_url"], poolclass=sa.pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
