"""The command line of the app: ``python -m reference_crm COMMAND`` (or ``reference-crm``).

``migrate`` brings the database to the newest schema, ``serve`` runs the web app, ``worker``
delivers the outbox and runs scheduled processes, ``createuser`` adds a user, ``backup``/``restore`` copy every table to and from a portable JSON-lines file,
and ``seed`` fills an empty database with demo data. The database is ``DATABASE_URL``
(default: an SQLite file in the working folder), or ``--database`` where a command has it.
Exit codes: 0 done, 1 a problem you can fix (the message says which), 2 a usage error.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import click
import crmgen_runtime
import sqlalchemy as sa

from reference_crm import RUNTIME_VERSION
from reference_crm.settings import database_url, startup_settings

PACKAGE = Path(__file__).resolve().parent


class Problem(click.ClickException):
    """A problem the user can fix: one line on stderr, exit 1."""

    exit_code = 1


def migrations_folder() -> Path:
    """The Alembic scripts: inside the installed package, or beside it in the source tree."""
    for folder in (PACKAGE / "migrations", PACKAGE.parent / "migrations"):
        if (folder / "env.py").is_file():
            return folder
    raise Problem("the migrations folder was not found (reinstall the app)")


def alembic_config(url: str):  # noqa: ANN201 - alembic is imported lazily
    """An Alembic configuration for ``url`` without any ini file."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_folder()))
    config.attributes["database_url"] = url
    return config


def check_migrated(url: str) -> None:
    """Refuse to serve a database that is not at the newest revision (a clear line, exit 1)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except sa.exc.SQLAlchemyError as exc:
        raise Problem(f"cannot reach the database: {exc.__class__.__name__}") from None
    finally:
        engine.dispose()
    if current != head:
        state = f"at revision {current}" if current else "empty"
        raise Problem(
            f"the database is {state}, the app needs revision {head}: "
            "run `python -m reference_crm migrate` first"
        )


def run_migrations(url: str, revision: str = "head") -> None:
    """``alembic upgrade REVISION`` on ``url``, then the search indexes (PostgreSQL)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)
    ensure_search_indexes(url)


def ensure_search_indexes(url: str) -> None:
    """The trigram indexes behind ``q=`` search live outside the migrations (they depend on
    the pg_trgm extension being available); create the missing ones."""
    if not url.startswith("postgresql"):
        return
    from reference_crm import models

    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            models.ensure_search_indexes(connection)
    finally:
        engine.dispose()


def database_option(function):  # noqa: ANN001, ANN201 - a click decorator
    return click.option(
        "--database",
        "database",
        metavar="URL",
        default=None,
        help="Database URL (default: DATABASE_URL, else the SQLite file).",
    )(function)


def resolve_url(database: str | None) -> str:
    """``database``, else ``DATABASE_URL`` (else the SQLite file), for SQLAlchemy."""
    return database_url({"DATABASE_URL": database} if database else os.environ)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Эталонная CRM: the CRM's command line."""


@cli.command()
@database_option
def migrate(database: str | None) -> None:
    """Create or upgrade the database tables to the newest revision (alembic upgrade head)."""
    url = resolve_url(database)
    run_migrations(url)
    click.echo("database is up to date", err=True)


@cli.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to listen on."
)
@click.option(
    "--port", default=8000, show_default=True, type=int, help="Port to listen on."
)
@click.option(
    "--reload", is_flag=True, help="Restart when the code changes (development)."
)
def serve(host: str, port: int, reload: bool) -> None:
    """Run the web app with uvicorn (migrate the database first).

    Outside local development (APP_ENV) it needs a strong SECRET_KEY and PUBLIC_URL. Behind
    a proxy, X-Forwarded-Proto and X-Forwarded-For count only from FORWARDED_ALLOW_IPS.
    """
    import uvicorn

    settings = startup_settings()
    check_migrated(settings.database_url)
    uvicorn.run(
        "reference_crm.app:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        log_level="info",
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


@cli.command()
@click.option(
    "--once", is_flag=True, help="Deliver one batch (and run due schedules), then exit."
)
@click.option(
    "--batch",
    default=10,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Messages claimed at a time.",
)
@click.option(
    "--poll",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="Seconds to wait when nothing is due.",
)
@click.option(
    "--no-scheduler", is_flag=True, help="Do not run the scheduled processes here."
)
@database_option
def worker(
    once: bool, batch: int, poll: float, no_scheduler: bool, database: str | None
) -> None:
    """Deliver the outbox (e-mail, Telegram, SMS, webhooks, HTTP) and run scheduled processes.

    Run as many workers as you like; each message is claimed by one of them at a time.
    SIGTERM finishes the message being delivered and exits. Settings: OUTBOX_MAX_ATTEMPTS,
    OUTBOX_BACKOFF_SECONDS, OUTBOX_BACKOFF_MAX_SECONDS, OUTBOX_LEASE_SECONDS,
    OUTBOX_TIMEOUT_SECONDS (see the README).
    """
    import logging

    from reference_crm import worker as workers

    settings = startup_settings()
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if database:
        settings = dataclasses.replace(settings, database_url=resolve_url(database))
    workers.main(
        settings, once=once, batch=batch, poll=poll, scheduler=not no_scheduler
    )


@cli.command()
@click.option("--email", required=True, help="The user's e-mail (the login name).")
@click.option("--password", required=True, help="The user's password.")
@click.option("--role", "roles", multiple=True, help="A role (repeat for several).")
@click.option("--name", default=None, help="The user's display name.")
@database_option
def createuser(
    email: str,
    password: str,
    roles: tuple[str, ...],
    name: str | None,
    database: str | None,
) -> None:
    """Add a user who can sign in."""
    from crmgen_runtime.auth import create_user
    from crmgen_runtime.db import Database

    from reference_crm.resources import CATALOG

    db = Database(resolve_url(database))
    try:
        with db.session() as session:
            user = create_user(
                CATALOG, session, email=email, password=password, roles=roles, name=name
            )
            user_id = user.id
    except ValueError as exc:
        raise Problem(str(exc)) from exc
    finally:
        db.dispose()
    click.echo(f"created user {user_id} ({email})", err=True)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@database_option
def backup(file: Path, database: str | None) -> None:
    """Write every table to FILE (JSON lines; gzip-compressed when FILE ends in .gz)."""
    from reference_crm import backup as backups

    try:
        counts = backups.dump(resolve_url(database), file)
    except backups.BackupError as exc:
        raise Problem(str(exc)) from exc
    click.echo(
        f"wrote {sum(counts.values())} rows of {len(counts)} tables to {file}", err=True
    )


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--force", is_flag=True, help="Delete the rows the database has before restoring."
)
@database_option
def restore(file: Path, force: bool, database: str | None) -> None:
    """Load a backup FILE into an empty database (migrated to the backup's revision first)."""
    from reference_crm import backup as backups

    try:
        counts = backups.load(
            resolve_url(database), file, force=force, migrate=run_migrations
        )
    except backups.BackupError as exc:
        raise Problem(str(exc)) from exc
    click.echo(
        f"restored {sum(counts.values())} rows of {len(counts)} tables from {file}",
        err=True,
    )


@cli.command()
@database_option
def seed(database: str | None) -> None:
    """Fill an empty database with demo records and a demo user per role.

    Every demo user's e-mail is ROLE@demo.example and the password is the one in
    seed.DEMO_PASSWORD. A database that has records already is left alone.
    """
    from reference_crm import seed as seeding

    url = resolve_url(database)
    created = seeding.seed(url)
    if not created:
        click.echo("the database has records already: nothing seeded", err=True)
        return
    click.echo(
        f"seeded {sum(created.values())} records; demo users sign in with the password "
        f"{seeding.DEMO_PASSWORD!r}",
        err=True,
    )


def main() -> None:
    """Console entry point (it first checks that the runtime is the one the app needs)."""
    try:
        crmgen_runtime.require(RUNTIME_VERSION, "reference_crm")
    except crmgen_runtime.RuntimeVersionError as exc:
        raise SystemExit(f"Error: {exc}") from None
    cli()
