"""Fixtures of the scenario tests: the reference CRM (examples/crm) end to end.

The app is generated once per session (``tests.backend.conftest.generated``) and driven in
process (Starlette's test client, ``processes.EVENTS.run_scheduled``, the scheduler with a clock of
the test's choosing); the outbox is delivered by ``python -m reference_crm worker --once`` in
a subprocess, to real loopback services (``tests.worker.conftest``: an aiosmtpd SMTP server and
an HTTP server standing in for Telegram, the SMS gateway and the accounting webhook).

Each test module gets a fresh *migrated* database per dialect (an SQLite file, or a PostgreSQL
database of its own, dropped afterwards; without PostgreSQL the tests skip, except under
``CI=true`` where they fail), and each test starts from empty tables with the test users.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from crmgen_runtime import ftsindex
from crmgen_runtime.db import Database
from starlette.middleware import Middleware
from starlette.testclient import TestClient

from tests.app_settings import app_settings_env
from tests.backend.conftest import Backend, TestUsers, generated
from tests.migrations.apptools import Templates, app_path, engine_for
from tests.worker.conftest import HttpRecorder, SmtpServer, http, outbox_rows, smtp, wait_for  # noqa: F401

# The enrichment call of the reference CRM (an http step with into, on every new company with
# a website) must fail fast offline.
os.environ.setdefault("ENRICHMENT_API_URL", "http://127.0.0.1:9/api")

TELEGRAM_TOKEN = "4242:scenario-token"
ACCOUNTING_SECRET = "accounting-secret"
SMS_TOKEN = "sms-token"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass
class Scenario(Backend):
    """A :class:`Backend` on a migrated database that subprocesses can reach too (``url``)."""

    url: str = ""
    folder: Path = Path()
    templates: Any = None

    def fresh_database(self, name: str) -> Iterator[str]:
        """Another new, migrated, empty database of the same dialect (dropped afterwards)."""
        return self.templates.fresh(self.gen.out, self.gen.package, self.dialect, self.folder, name)

    @property
    def package(self) -> str:
        return self.gen.package

    @property
    def processes(self) -> ModuleType:
        return self.gen.processes

    def today(self) -> dt.date:
        """Today in the app's time zone, as the processes see it."""
        return self.gen.settings.fn.today()

    def rows(self, statement: Any) -> list[Any]:
        with self.database.engine.connect() as connection:
            return list(connection.execute(statement).all())

    def count(self, model: Any, *where: Any) -> int:
        statement = sa.select(sa.func.count()).select_from(model)
        if where:
            statement = statement.where(*where)
        with self.database.engine.connect() as connection:
            return int(connection.execute(statement).scalar_one())

    def execute(self, statement: Any) -> Any:
        with self.database.engine.begin() as connection:
            return connection.execute(statement)

    def outbox(self) -> list[dict[str, Any]]:
        """The outbox rows, oldest first, payloads decoded (SQLite gives JSON text)."""
        rows = outbox_rows(self.url)
        for row in rows:
            if isinstance(row["payload"], str):
                row["payload"] = json.loads(row["payload"])
        return rows

    def services_env(
        self, mail: SmtpServer | None = None, web: HttpRecorder | None = None
    ) -> dict[str, str]:
        """The environment variables the reference CRM's integrations read, pointing at the
        loopback services."""
        env = {
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "ACCOUNTING_WEBHOOK_SECRET": ACCOUNTING_SECRET,
            "SMS_GATEWAY_TOKEN": SMS_TOKEN,
        }
        if mail is not None:
            env["SMTP_URL"] = mail.url
        if web is not None:
            env.update(
                TELEGRAM_BASE_URL=web.base + "/telegram",
                SMS_GATEWAY_URL=web.base + "/sms/send",
                ACCOUNTING_WEBHOOK_URL=web.base + "/accounting/events",
            )
        return env

    def app(self, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
        """``python -m reference_crm ARGS`` against this database (bounded); must exit 0."""
        environ = {
            k: v
            for k, v in os.environ.items()
            if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "database_url")
        }
        environ.update(
            PYTHONPATH=app_path(self.gen.out), DATABASE_URL=self.url, NO_PROXY="*", no_proxy="*"
        )
        environ.update(app_settings_env())
        environ.update(env)
        done = subprocess.run(
            [sys.executable, "-m", self.package, *args],
            cwd=self.folder,
            env=environ,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, (
            f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
        return done

    def worker_once(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """One batch of the outbox worker (no scheduler: the tests decide what runs)."""
        return self.app("worker", "--once", "--no-scheduler", *args, **env)

    def run_scheduled(self, name: str) -> None:
        """``processes.EVENTS.run_scheduled(name, database)``, with the package importable (the
        backup step imports the app's ``db`` module lazily)."""
        with importable(self.gen):
            self.processes.EVENTS.run_scheduled(name, self.database)


@contextlib.contextmanager
def importable(gen: Any) -> Iterator[None]:
    """Make the package of a generated app importable for a while, as the modules imported by
    ``tests.backend.conftest.generated`` (so a lazy ``import PKG.x`` in the app's code, or the
    test's, shares their models, settings and processes); nothing of it stays in
    ``sys.modules`` afterwards."""
    package = gen.package
    known: dict[str, ModuleType] = {}
    for module in gen.modules.values():
        known[module.__name__] = module
        for value in vars(module).values():
            if isinstance(value, ModuleType) and value.__name__.startswith(package + "."):
                known[value.__name__] = value
    before = set(sys.modules)
    sys.modules.update(known)
    sys.path.insert(0, str(gen.out))
    try:
        yield
    finally:
        sys.path.remove(str(gen.out))
        for key in [
            m
            for m in sys.modules
            if (m == package or m.startswith(package + ".")) and m not in before
        ]:
            del sys.modules[key]
        for key in known:
            sys.modules.pop(key, None)


def import_beside(gen: Any, name: str) -> ModuleType:
    """``PKG.name`` of a generated app, imported beside the modules the tests already use."""
    with importable(gen):
        return importlib.import_module(f"{gen.package}.{name}")


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    made = Templates(tmp_path_factory.mktemp("scenario_templates"))
    try:
        yield made
    finally:
        made.drop()


@pytest.fixture(scope="module")
def scenario_backend(
    dialect: str, templates: Templates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scenario]:
    """The reference CRM on a fresh migrated database of the module's own."""
    gen = generated("crm", tmp_path_factory)
    folder = tmp_path_factory.mktemp(f"scenario_{dialect}")
    for url in templates.fresh(gen.out, gen.package, dialect, folder):
        database = Database(url)
        users: dict[str, Any] = {}
        settings = gen.app.startup_settings(app_settings_env(DATABASE_URL=url))
        app = gen.app.create_app(
            settings, database=database, middleware=[Middleware(TestUsers, users=users)]
        )
        client = TestClient(app, raise_server_exceptions=False)
        try:
            yield Scenario(
                gen, database, dialect, users, client, url=url, folder=folder, templates=templates
            )
        finally:
            client.close()
            database.dispose()


@pytest.fixture
def scenario(
    scenario_backend: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Scenario:
    """The module's app with empty tables and the test users; the test's own working folder
    (the subprocesses and relative backup folders use it)."""
    scenario_backend.reset()
    scenario_backend.folder = tmp_path
    monkeypatch.chdir(tmp_path)
    return scenario_backend


def table_counts(url: str) -> dict[str, int]:
    """Rows per table (every table but alembic_version)."""
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            metadata = sa.MetaData()  # SQLite's search tables are the triggers' to fill
            metadata.reflect(connection, only=lambda name, _: not ftsindex.is_search_table(name))
            return {
                table.name: int(
                    connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                )
                for table in metadata.sorted_tables
                if table.name != "alembic_version"
            }
    finally:
        engine.dispose()


__all__ = [
    "ACCOUNTING_SECRET",
    "SMS_TOKEN",
    "TELEGRAM_TOKEN",
    "HttpRecorder",
    "Scenario",
    "SmtpServer",
    "import_beside",
    "importable",
    "table_counts",
    "wait_for",
]
