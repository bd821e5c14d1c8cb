"""The reference CRM under attack: generated once, databases cloned from a template, real uvicorn.

``examples/crm`` is generated once per test process (``tests/generated_apps.py``). Per database kind, one *template* is made
once per test process (migrated and seeded through the app's own CLI, plus a second seller made
here): on PostgreSQL a database of its own, cloned per test module with ``CREATE DATABASE ...
TEMPLATE``; on SQLite a file, copied per module. ``start_crm`` starts ``uvicorn`` on a free
loopback port over such a clone, with the environment a test asks for, and stops it afterwards.

Users (password ``demo-password``): ``admin`` (superuser), ``manager``, ``sales``, ``sales2``
and ``support``, at ``<name>@demo.example``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from tests.generated_apps import generated_app
from tests.postgres import POSTGRES_URL, admin_engine

ROOT = Path(__file__).resolve().parents[2]
CRM_SPEC = ROOT / "examples" / "crm"
PACKAGE = "reference_crm"
PASSWORD = "demo-password"
USERS = ("admin", "manager", "sales", "sales2", "support")
KINDS = ("sqlite", "postgresql")
CLI_TIMEOUT = 120
START_TIMEOUT = 30
# A key that passes any strength rule: the tests are not about the key unless they say so.
SECRET_KEY = "security-tests-" + "k" * 48


def email(name: str) -> str:
    return f"{name}@demo.example"


# --- the generated app and its templates ------------------------------------------------------

_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}


def crm_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/crm generated once per test process (the shared ``tests/generated_apps.py``)."""
    return generated_app("crm", tmp_path_factory).out


# Settings of the app a test process may have in its own environment: never passed on.
INHERITED_SETTINGS = (
    "DATABASE_URL",
    "PYTHONPATH",
    "SECRET_KEY",
    "PUBLIC_URL",
    "ALLOWED_HOSTS",
    "APP_ENV",
    "FORWARDED_ALLOW_IPS",
)


def app_env(out: Path, database_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of an app process: the generated code on PYTHONPATH and ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in INHERITED_SETTINGS}
    env.update(
        PYTHONPATH=os.pathsep.join([str(out), str(ROOT / "runtime")]),
        PYTHONDONTWRITEBYTECODE="1",
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET_KEY,
    )
    env.update(extra or {})
    return env


def app_cli(out: Path, database_url: str, cwd: Path, *args: str, **extra: str) -> str:
    """``python -m reference_crm ARGS`` to its end; its output, or a test failure."""
    command = [sys.executable, "-m", PACKAGE, *args]
    try:
        done = subprocess.run(
            command,
            env=app_env(out, database_url, extra),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(command)} did not finish in {CLI_TIMEOUT} s:\n{exc.stderr}")
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


def _add_seller(database_url: str) -> None:
    """A second seller, written directly (the CLI would cost a process start)."""
    from argon2 import PasswordHasher

    engine = sa.create_engine(database_url)
    try:
        metadata = sa.MetaData()
        users = sa.Table("users", metadata, autoload_with=engine)
        roles = sa.Table("crm_user_roles", metadata, autoload_with=engine)
        with engine.begin() as connection:
            new_id = connection.execute(
                sa.insert(users)
                .values(
                    email=email("sales2"),
                    name="sales2",
                    active=True,
                    password_hash=PasswordHasher().hash(PASSWORD),
                )
                .returning(users.c.id)
            ).scalar_one()
            connection.execute(sa.insert(roles).values(user_id=new_id, role="sales"))
    finally:
        engine.dispose()


def _make_template(kind: str, out: Path, folder: Path) -> str:
    """A migrated, seeded database of ``kind``: the URL of the template to clone."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'template.sqlite3'}"
    else:
        name = f"crmgen_sec_tpl_{uuid.uuid4().hex[:10]}"
        admin = admin_engine()
        try:
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        url = sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        _STATE.setdefault("postgres_templates", []).append(name)
    app_cli(out, url, folder, "migrate")
    app_cli(out, url, folder, "seed")
    _add_seller(url)
    return url


def template(kind: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The template database of ``kind`` (made on first use in this test process)."""
    out = crm_out(tmp_path_factory)
    with _LOCK:
        key = f"template_{kind}"
        if key not in _STATE:
            _STATE[key] = _make_template(kind, out, tmp_path_factory.mktemp(f"tpl_{kind}"))
        return str(_STATE[key])


def drop_templates() -> None:
    """Drop the PostgreSQL templates of this test process (at the end of the session)."""
    names = _STATE.pop("postgres_templates", [])
    if not names:
        return
    admin = admin_engine()
    try:
        with admin.connect() as connection:
            for name in names:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def postgres_database(prefix: str, template: str | None = None) -> Iterator[str]:
    """The URL of a new PostgreSQL database (a copy of ``template`` when given), dropped
    afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin = admin_engine()
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"{copy}'))
        try:
            yield sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def empty_database(kind: str, folder: Path, prefix: str) -> Iterator[str]:
    """The URL of a new empty database of ``kind`` (an SQLite file in ``folder``)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'{prefix}-{uuid.uuid4().hex[:8]}.sqlite3'}"
        return
    with postgres_database(prefix) as url:
        yield url


@contextmanager
def cloned_database(
    kind: str, folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A private copy of the template database of ``kind``, removed afterwards."""
    source = template(kind, tmp_path_factory)
    if kind == "sqlite":
        path = folder / f"crm-{uuid.uuid4().hex[:8]}.sqlite3"
        shutil.copyfile(sa.make_url(source).database or "", path)
        yield f"sqlite:///{path}"
        return
    with postgres_database("crmgen_sec", template=sa.make_url(source).database) as url:
        yield url


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Crm:
    """One running reference CRM: its address, database, process and users."""

    base: str
    database_url: str
    kind: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return int(self.base.rpartition(":")[2])

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.base, headers=headers, timeout=30, **kwargs)

    def login(self, name: str, password: str = PASSWORD, **kwargs: Any) -> httpx.Response:
        with self.client() as client:
            return client.post(
                "/api/auth/login", json={"email": email(name), "password": password}, **kwargs
            )

    def token(self, name: str, password: str = PASSWORD) -> str:
        response = self.login(name, password)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def engine(self) -> sa.Engine:
        """An engine on the app's database (dispose it, or use ``sql``)."""
        return sa.create_engine(self.database_url)

    def sql(self, statement: str, **params: Any) -> list[Any]:
        """Run ``statement`` on the app's database in a committed transaction; its rows."""
        engine = self.engine()
        try:
            with engine.begin() as connection:
                result = connection.execute(sa.text(statement), params)
                return list(result.all()) if result.returns_rows else []
        finally:
            engine.dispose()

    def user_id(self, name: str) -> int:
        rows = self.sql("SELECT id FROM users WHERE email = :email", email=email(name))
        return int(rows[0][0])

    def add_user(self, name: str, *roles: str, password: str = PASSWORD) -> int:
        """A user ``<name>@demo.example`` with ``roles``, written directly; its id."""
        from argon2 import PasswordHasher

        rows = self.sql(
            "INSERT INTO users (email, name, active, password_hash) "
            "VALUES (:email, :name, :active, :hash) RETURNING id",
            email=email(name),
            name=name,
            active=True,
            hash=PasswordHasher().hash(password),
        )
        user_id = int(rows[0][0])
        for role in roles:
            self.sql(
                "INSERT INTO crm_user_roles (user_id, role) VALUES (:id, :role)",
                id=user_id,
                role=role,
            )
        return user_id

    def mails(self, to: str) -> list[dict[str, Any]]:
        """The payloads of the e-mails in the outbox to ``to``, oldest first."""
        rows = self.sql("SELECT payload FROM crm_outbox WHERE kind = 'email' ORDER BY id")
        payloads = [json.loads(p) if isinstance(p, str) else p for (p,) in rows]
        return [p for p in payloads if p.get("to") == to]

    def rss_bytes(self) -> int:
        """The server process's resident memory."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def start_crm(
    kind: str,
    tmp_path_factory: pytest.TempPathFactory,
    env: Mapping[str, str] | None = None,
    *,
    database_url: str | None = None,
    uvicorn_args: tuple[str, ...] = (),
    out: Path | None = None,
    package: str = PACKAGE,
) -> Iterator[Crm]:
    """The reference CRM behind uvicorn on a fresh clone of the template (or ``database_url``).

    ``env`` adds to the app's environment; ``PUBLIC_URL`` defaults to the server's own address.
    ``out`` runs another generated app: a variant of the reference CRM (same package and
    schema), or the app ``package`` on its own migrated ``database_url``.
    """
    out = out or crm_out(tmp_path_factory)
    folder = tmp_path_factory.mktemp(f"crm_{kind}")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with _database(kind, folder, tmp_path_factory, database_url) as url:
        extra = {"PUBLIC_URL": base, **(env or {})}
        full_env = app_env(out, url, extra)
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            f"{package}.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *uvicorn_args,
        ]
        log_path = folder / f"uvicorn-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, env=full_env, cwd=folder, stdout=log, stderr=subprocess.STDOUT
            )
        crm = Crm(base, url, kind, process, log_path, full_env)
        try:
            _wait_healthy(crm)
            yield crm
        finally:
            _stop(process)


@contextmanager
def _database(
    kind: str, folder: Path, tmp_path_factory: pytest.TempPathFactory, url: str | None
) -> Iterator[str]:
    if url is not None:
        yield url
        return
    with cloned_database(kind, folder, tmp_path_factory) as cloned:
        yield cloned


def _wait_healthy(crm: Crm) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if crm.process.poll() is not None:
            pytest.fail(f"uvicorn exited {crm.process.returncode}:\n{crm.log()}")
        try:
            if httpx.get(f"{crm.base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"uvicorn did not answer /healthz in {START_TIMEOUT} s:\n{crm.log()}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def random_secret() -> str:
    return secrets.token_urlsafe(48)
