"""An app's command line: ``python -m PKG COMMAND`` (or the app's console script).

``migrate`` brings the database to the newest schema, ``serve`` runs the web app, ``worker``
delivers the outbox and runs scheduled processes, ``createuser`` adds a user,
``backup``/``restore`` copy every table to and from a portable JSON-lines file, and ``seed``
fills an empty database with demo data, and ``recompute`` recomputes the rollup fields. The database is ``DATABASE_URL`` (default: an SQLite
file in the working folder), or ``--database`` where a command has it. Exit codes: 0 done, 1 a
problem you can fix (the message says which), 2 a usage error.

An app binds the commands once, in its ``cli.py``: ``CommandLine(CONFIG, folder)``, with its
configuration (``crmgen_runtime.config``) and its package's folder (its Alembic scripts are
``migrations/`` inside it once installed, or beside it in the source tree). A command imports
what it uses of the app only when it runs, by the modules every app has: ``PKG.app``
(``create_app``), ``PKG.models`` (``ensure_search_indexes``), ``PKG.resources`` (``CATALOG``:
``createuser`` adds a user with ``crmgen_runtime.auth.create_user``), ``PKG.seed`` (``seed``,
``DEMO_PASSWORD``), ``PKG.outbox`` (``OUTBOX``) and ``PKG.backup`` (``BACKUPS``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import click
import sqlalchemy as sa

from crmgen_runtime.config import AppConfig

if TYPE_CHECKING:
    from alembic.config import Config

    from crmgen_runtime import crypto
    from crmgen_runtime.backup import Backups
    from crmgen_runtime.storage import Storage

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_PORT = 8000
DEFAULT_BATCH = 10
MAX_BATCH = 1000
DEFAULT_POLL = 1.0
MIN_POLL = 0.01


@contextmanager
def shared_metrics(processes: int) -> Iterator[None]:
    """The folder where the processes of ``serve`` keep the metrics a scrape adds up
    (``PROMETHEUS_MULTIPROC_DIR``), for the time they run: the one set, emptied of an earlier
    run's counters, else, for more than one process, a temporary one (removed afterwards). Set
    before uvicorn starts them, so every process sees it when it imports prometheus_client."""
    from crmgen_runtime.metrics import MULTIPROCESS_VARIABLE

    given = os.environ.get(MULTIPROCESS_VARIABLE)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        yield
    elif processes > 1:
        with tempfile.TemporaryDirectory(prefix="crm-metrics-") as made:
            os.environ[MULTIPROCESS_VARIABLE] = made
            try:
                yield
            finally:
                del os.environ[MULTIPROCESS_VARIABLE]
    else:
        yield


class Problem(click.ClickException):
    """A problem the user can fix: one line on stderr, exit 1."""

    exit_code = 1


class KeyedGroup(click.Group):
    """The commands, with a missing or wrong key of the encrypted fields (``migrate``,
    ``seed``... touch them) said in one line, exit 1, as every other problem."""

    def invoke(self, ctx: click.Context) -> Any:
        from crmgen_runtime import crypto

        try:
            return super().invoke(ctx)
        except crypto.EncryptionKeyError as exc:
            raise Problem(str(exc)) from None
        except crypto.DecryptionError as exc:
            raise Problem(exc.message) from None


def database_option(function: F) -> F:
    """The ``--database URL`` option of the commands that touch the database."""
    option = click.option(
        "--database",
        "database",
        metavar="URL",
        default=None,
        help="Database URL (default: DATABASE_URL, else the SQLite file).",
    )
    return option(function)


class CommandLine:
    """The commands of one app (``cli``), and the migration helpers they share."""

    def __init__(self, config: AppConfig, folder: Path) -> None:
        self.config = config
        self.package = config.name  # the app's import name
        self.folder = folder
        self.cli = self._commands()

    def __repr__(self) -> str:
        return f"CommandLine({self.package!r})"

    def module(self, name: str) -> ModuleType:
        """The app's module ``PKG.name``, imported now."""
        return importlib.import_module(f"{self.package}.{name}")

    def web_site(self) -> Any:
        """The app's web UI (``PKG.web.core.SITE``), None for an app without one."""
        try:
            module = self.module("web.core")
        except ModuleNotFoundError as exc:
            if exc.name is not None and f"{self.package}.web.core".startswith(exc.name):
                return None
            raise
        return module.SITE

    # --- the database's schema ---------------------------------------------------------

    def migrations_folder(self) -> Path:
        """The Alembic scripts: inside the installed package, or beside it in the source tree."""
        for folder in (self.folder / "migrations", self.folder.parent / "migrations"):
            if (folder / "env.py").is_file():
                return folder
        raise Problem("the migrations folder was not found (reinstall the app)")

    def alembic_config(self, url: str) -> Config:
        """An Alembic configuration for ``url`` without any ini file."""
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(self.migrations_folder()))
        config.attributes["database_url"] = url
        return config

    def current_revision(self, url: str) -> str | None:
        """The database's Alembic revision (None: never migrated)."""
        from alembic.runtime.migration import MigrationContext

        engine = sa.create_engine(url)
        try:
            with engine.connect() as connection:
                revision: str | None = MigrationContext.configure(connection).get_current_revision()
                return revision
        except sa.exc.SQLAlchemyError as exc:
            raise Problem(f"cannot reach the database: {exc.__class__.__name__}") from None
        finally:
            engine.dispose()

    def recompute_rollups(self, url: str, batch: int = 500) -> int:
        """Recompute every rollup field of the database at ``url``; the records refreshed."""
        from crmgen_runtime.db import Database
        from crmgen_runtime.rollups import recompute

        catalog = self.module("resources").CATALOG
        if not catalog.rollups:
            return 0
        db = Database(url)
        try:
            return recompute(db.session, catalog, batch)
        finally:
            db.dispose()

    def check_migrated(self, url: str) -> None:
        """Refuse to serve a database that is not at the newest revision (a clear line, exit 1)."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(self.alembic_config(url)).get_current_head()
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
                f"run `python -m {self.package} migrate` first"
            )

    def run_migrations(self, url: str, revision: str = "head") -> None:
        """``alembic upgrade REVISION`` on ``url``, then the search indexes (PostgreSQL)."""
        from alembic import command

        command.upgrade(self.alembic_config(url), revision)
        self.ensure_search_indexes(url)

    def ensure_search_indexes(self, url: str) -> None:
        """The indexes behind ``q=`` search live outside the migrations (they depend on the
        pg_trgm extension, or SQLite's FTS5, being available); create the missing ones."""
        models = self.module("models")
        engine = sa.create_engine(url)
        try:
            with engine.begin() as connection:
                models.ensure_search_indexes(connection)
        finally:
            engine.dispose()

    def resolve_url(self, database: str | None) -> str:
        """``database``, else ``DATABASE_URL`` (else the SQLite file), for SQLAlchemy."""
        environ = {"DATABASE_URL": database} if database else os.environ
        return self.config.settings.database_url(environ)

    def backups(self) -> Backups:
        """The app's backups (``PKG.backup.BACKUPS``)."""
        found: Backups = self.module("backup").BACKUPS
        return found

    # --- the commands ------------------------------------------------------------------

    def _commands(self) -> click.Group:
        """The click group of every command, bound to this app."""
        group = KeyedGroup(
            help=f"{self.config.plain_title}: the CRM's command line.",
            context_settings={"help_option_names": ["-h", "--help"]},
        )
        for make in (
            self._migrate,
            self._serve,
            self._worker,
            self._createuser,
            self._backup,
            self._restore,
            self._seed,
            self._recompute,
        ):
            group.add_command(make())
        if self.config.encryption:
            group.add_command(self._rotate_keys())
        return group

    def _migrate(self) -> click.Command:
        @click.command()
        @database_option
        def migrate(database: str | None) -> None:
            """Create or upgrade the database tables to the newest revision (alembic upgrade head).

            After an upgrade it recomputes the rollup fields (a new one starts exact).
            """
            url = self.resolve_url(database)
            before = self.current_revision(url)
            self.run_migrations(url)
            if before is not None and self.current_revision(url) != before:
                done = self.recompute_rollups(url)
                if done:
                    click.echo(f"recomputed the rollups of {done} records", err=True)
            click.echo("database is up to date", err=True)

        return migrate

    def _serve(self) -> click.Command:
        @click.command()
        @click.option(
            "--host", default="127.0.0.1", show_default=True, help="Interface to listen on."
        )
        @click.option(
            "--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port to listen on."
        )
        @click.option("--reload", is_flag=True, help="Restart when the code changes (development).")
        def serve(host: str, port: int, reload: bool) -> None:
            """Run the web app with uvicorn (migrate the database first).

            Outside local development (APP_ENV) it needs a strong SECRET_KEY and PUBLIC_URL. Behind
            a proxy, X-Forwarded-Proto and X-Forwarded-For count only from FORWARDED_ALLOW_IPS.
            WEB_CONCURRENCY worker processes answer requests (default: one per CPU, at most 4;
            one in local development and with --reload); LOG_FORMAT=json writes JSON lines.
            """
            import uvicorn

            from crmgen_runtime import logs, supervision

            settings = self.config.settings.startup()
            self.check_migrated(settings.database_url)
            workers = 1 if reload else settings.web_concurrency
            level = os.environ.get("LOG_LEVEL", "INFO")
            if reload or workers > 1:  # uvicorn's processes end with this one, however it ends
                os.environ.update(supervision.supervised_by(os.getpid()))
            with shared_metrics(workers):
                uvicorn.run(
                    f"{self.package}.app:create_app",
                    factory=True,
                    host=host,
                    port=port,
                    reload=reload,
                    workers=workers,
                    log_level=level.lower(),
                    log_config=logs.dict_config(settings.log_format, level),
                    access_log=False,  # observe.RequestMiddleware logs each request, with its id
                    proxy_headers=True,
                    forwarded_allow_ips=settings.forwarded_allow_ips,
                )

        return serve

    def _worker(self) -> click.Command:
        @click.command()
        @click.option(
            "--once", is_flag=True, help="Deliver one batch (and run due schedules), then exit."
        )
        @click.option(
            "--batch",
            default=DEFAULT_BATCH,
            show_default=True,
            type=click.IntRange(1, MAX_BATCH),
            help="Messages claimed at a time.",
        )
        @click.option(
            "--poll",
            default=DEFAULT_POLL,
            show_default=True,
            type=click.FloatRange(min=MIN_POLL),
            help="Seconds to wait when nothing is due.",
        )
        @click.option(
            "--no-scheduler", is_flag=True, help="Do not run the scheduled processes here."
        )
        @database_option
        def worker(
            once: bool, batch: int, poll: float, no_scheduler: bool, database: str | None
        ) -> None:
            """Deliver the outbox (e-mail, Telegram, SMS, webhooks, HTTP), run scheduled processes
            and the web UI's large imports.

            Run as many workers as you like; each message is claimed by one of them at a time.
            SIGTERM finishes the message being delivered and exits. Settings: OUTBOX_MAX_ATTEMPTS,
            OUTBOX_BACKOFF_SECONDS, OUTBOX_BACKOFF_MAX_SECONDS, OUTBOX_LEASE_SECONDS,
            OUTBOX_TIMEOUT_SECONDS (see the README).
            """
            from crmgen_runtime import logs
            from crmgen_runtime import worker as workers

            settings = self.config.settings.startup()
            logs.configure(settings.log_format, os.environ.get("LOG_LEVEL", "INFO"))
            if database:
                settings = dataclasses.replace(settings, database_url=self.resolve_url(database))
            outbox = self.module("outbox").OUTBOX
            site = self.web_site()  # the web UI's imports run here
            workers.main(
                outbox,
                settings,
                once=once,
                batch=batch,
                poll=poll,
                scheduler=not no_scheduler,
                site=site,
            )

        return worker

    def _createuser(self) -> click.Command:
        @click.command()
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

            catalog = self.module("resources").CATALOG
            db = Database(self.resolve_url(database))
            try:
                with db.session() as session:
                    user = create_user(
                        catalog, session, email=email, password=password, roles=roles, name=name
                    )
                    user_id = user.id
            except ValueError as exc:
                raise Problem(str(exc)) from exc
            finally:
                db.dispose()
            click.echo(f"created user {user_id} ({email})", err=True)

        return createuser

    def file_storage(self) -> Storage:
        """Where the app keeps uploaded files (``FILES_DIR`` or ``FILES_S3_*``)."""
        from crmgen_runtime import storage

        try:
            settings = self.config.settings.load()
        except ValueError as exc:
            raise Problem(str(exc)) from exc
        return storage.from_settings(settings)

    def _backup(self) -> click.Command:
        @click.command()
        @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
        @database_option
        def backup(file: Path, database: str | None) -> None:
            """Write every table to FILE (JSON lines; gzip-compressed when FILE ends in .gz)."""
            from crmgen_runtime.backup import BackupError

            try:
                counts = self.backups().dump(
                    self.resolve_url(database), file, storage=self.file_storage
                )
            except BackupError as exc:
                raise Problem(str(exc)) from exc
            click.echo(
                f"wrote {sum(counts.values())} rows of {len(counts)} tables to {file}", err=True
            )

        return backup

    def _restore(self) -> click.Command:
        @click.command()
        @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
        @click.option(
            "--force", is_flag=True, help="Delete the rows the database has before restoring."
        )
        @database_option
        def restore(file: Path, force: bool, database: str | None) -> None:
            """Load a backup FILE into an empty database (migrated to the backup's revision first)."""
            from crmgen_runtime.backup import BackupError

            url = self.resolve_url(database)
            try:
                counts = self.backups().load(
                    url, file, force=force, migrate=self.run_migrations, storage=self.file_storage
                )
            except BackupError as exc:
                raise Problem(str(exc)) from exc
            click.echo(
                f"restored {sum(counts.values())} rows of {len(counts)} tables from {file}",
                err=True,
            )

        return restore

    def _seed(self) -> click.Command:
        @click.command()
        @database_option
        @click.option(
            "--today",
            type=click.DateTime(formats=["%Y-%m-%d"]),
            help="The date the demo data is placed around (default: today in the app's zone).",
        )
        @click.option(
            "--random-seed",
            default=0,
            show_default=True,
            type=int,
            help="Another number gives other demo data (the same number: the same data).",
        )
        def seed(database: str | None, today: dt.datetime | None, random_seed: int) -> None:
            """Fill an empty database with demo records and a demo user per role.

            Dates spread over the twelve months before --today and the weeks after it. Every
            demo user's e-mail is ROLE@demo.example and the password is the one in
            seed.DEMO_PASSWORD. A database that has records already is left alone.
            """
            seeding = self.module("seed")
            day = today.date() if today is not None else None
            created = seeding.seed(self.resolve_url(database), today=day, random_seed=random_seed)
            if not created:
                click.echo("the database has records already: nothing seeded", err=True)
                return
            click.echo(
                f"seeded {sum(created.values())} records; demo users sign in with the password "
                f"{seeding.DEMO_PASSWORD!r}",
                err=True,
            )

        return seed

    def _recompute(self) -> click.Command:
        @click.command()
        @click.option(
            "--batch",
            default=500,
            show_default=True,
            type=click.IntRange(1, 100_000),
            help="Records refreshed per transaction.",
        )
        @database_option
        def recompute(batch: int, database: str | None) -> None:
            """Recompute every rollup field from the related records (in batches).

            Rollups stay exact on every write through the app; run this after changing a
            rollup in the spec, or after writing related records outside the app.
            """
            done = self.recompute_rollups(self.resolve_url(database), batch)
            click.echo(f"recomputed the rollups of {done} records", err=True)

        return recompute

    def encrypted_columns(self) -> list[crypto.Column]:
        """Every encrypted column of the app (``crmgen_runtime.crypto``), entity by entity."""
        from crmgen_runtime import crypto

        catalog = self.module("resources").CATALOG
        return [
            crypto.Column(r.model.__tablename__, info.column_name, info.encrypted, info.blind)
            for r in catalog.by_name.values()
            for info in r.encrypted
        ]

    def _rotate_keys(self) -> click.Command:
        @click.command("rotate-keys")
        @click.option(
            "--batch",
            default=500,
            show_default=True,
            type=click.IntRange(1, 100_000),
            help="Rows re-encrypted per transaction.",
        )
        @click.option(
            "--all",
            "everything",
            is_flag=True,
            help="Re-encrypt every value and recompute the blind indexes (after a new "
            "BLIND_INDEX_KEY), not only the values under older keys.",
        )
        @database_option
        def rotate_keys(batch: int, everything: bool, database: str | None) -> None:
            """Re-encrypt the encrypted fields under the active key (the first of
            ENCRYPTION_KEYS), in batches, each its own short transaction.

            Safe while the app runs: a value the app writes meanwhile is under the active key
            already. Once it is done, the older keys can leave ENCRYPTION_KEYS.
            """
            from crmgen_runtime import crypto

            try:
                keys = crypto.keyring_from(os.environ)
            except crypto.EncryptionKeyError as exc:
                raise Problem(str(exc)) from None
            engine = sa.create_engine(self.resolve_url(database))
            try:
                for column in self.encrypted_columns():
                    label = f"{column.context}"

                    def progress(done: int, total: int, changed: int, label: str = label) -> None:
                        click.echo(f"{label}: {done}/{total} rows read, {changed} re-encrypted")

                    try:
                        crypto.rotate_column(
                            engine,
                            column,
                            keys=keys,
                            batch=batch,
                            everything=everything,
                            progress=progress,
                        )
                    except crypto.DecryptionError as exc:
                        raise Problem(exc.message) from None
                click.echo(f"every encrypted value is under the key {keys.active_id!r}", err=True)
            finally:
                engine.dispose()

        return rotate_keys
