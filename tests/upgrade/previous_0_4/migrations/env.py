"""Alembic environment of the app: the target is its models, the database URL its settings.

Revisions in ``versions/`` are written by crmgen from the spec (``crmgen generate`` adds one
whenever the tables change). On SQLite, ALTERs run in batch mode (copy and swap the table)
with foreign key checks off for the duration, as SQLite requires.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from reference_crm.models import Base, include_object
from reference_crm.settings import load_settings

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    """The URL given by the caller, else ``sqlalchemy.url``, else the app's settings."""
    return (
        config.attributes.get("database_url")
        or config.get_main_option("sqlalchemy.url")
        or load_settings().database_url
    )


def run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    url = database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        dialect_opts={"paramstyle": "named"},
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    engine = sa.create_engine(database_url(), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
