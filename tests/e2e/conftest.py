"""End-to-end fixtures: examples/crm generated once, served by a real uvicorn process.

Nothing is installed: subprocesses run with ``PYTHONPATH=OUT``. Each server gets a free port
on 127.0.0.1 and a fresh database (an SQLite file in tmp, or a PostgreSQL database made for
it and dropped afterwards); the database is migrated and its users created through the app's
own CLI (``python -m APP migrate|createuser``). Every subprocess has a timeout and is killed
when the fixture ends.

Skips: while the generated backend is incomplete, a missing module skips with "... not
generated yet"; PostgreSQL (``CRMGEN_TEST_POSTGRES``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) skips when unreachable. Under
``CI=true`` both fail instead.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from tests.app_settings import app_settings_env
from tests.generated_apps import generated_app

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "reference_crm"
POSTGRES_URL = os.environ.get(
    "CRMGEN_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PASSWORD = "e2e-password-123"
CLI_TIMEOUT = 60
START_TIMEOUT = 30
USERS = {"admin": "admin", "seller1": "sales", "seller2": "sales", "locked": "sales"}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def not_available(reason: str) -> None:
    """Skip (fail under CI=true, where everything must run)."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: nothing may skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def crm_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/crm generated once per test process (the shared ``tests/generated_apps.py``)."""
    return generated_app("crm", tmp_path_factory).out


def app_env(out: Path, database_url: str | None = None) -> dict[str, str]:
    """The environment of an app subprocess: the generated code on PYTHONPATH, the test key
    and public address (tests/app_settings.py), nothing else."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTHONPATH")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(out), str(ROOT / "runtime")]),
        PYTHONDONTWRITEBYTECODE="1",
        **app_settings_env(),
    )
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float) -> str:
    """Run a subprocess to its end (killed at the timeout); its output, or a test failure."""
    try:
        done = subprocess.run(
            args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:  # subprocess.run kills the child
        pytest.fail(f"{' '.join(args)} did not finish in {timeout} s:\n{exc.stdout}\n{exc.stderr}")
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


def app_cli(out: Path, url: str, cwd: Path, *args: str) -> str:
    return run([sys.executable, "-m", PACKAGE, *args], app_env(out, url), cwd, CLI_TIMEOUT)


# --- databases -----------------------------------------------------------------------------


def postgres_server() -> str:
    """The PostgreSQL server URL; skips (fails under CI) when it does not answer."""
    engine = sa.create_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no PostgreSQL"
        not_available(f"PostgreSQL is not reachable at {POSTGRES_URL}: {type(exc).__name__}")
    finally:
        engine.dispose()
    return POSTGRES_URL


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """The URL of an empty database of ``kind`` (sqlite or postgresql), removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'e2e.sqlite3'}"
        return
    server = postgres_server()
    name = f"crmgen_e2e_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield sa.make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def uvicorn_server(out: Path, url: str, cwd: Path, *extra: str) -> Iterator[str]:
    """``uvicorn APP.app:create_app`` on a free loopback port; yields its base URL."""
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        f"{PACKAGE}.app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        *extra,
    ]
    with running(args, out, url, cwd, port) as base:
        yield base


@contextmanager
def app_server(out: Path, url: str, cwd: Path, log: Path, **env: str) -> Iterator[str]:
    """The app's own ``serve`` command (as the image starts it) on a free loopback port, its
    output in ``log``, with ``env`` added to its environment; yields its base URL."""
    port = free_port()
    args = [sys.executable, "-m", PACKAGE, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with running(args, out, url, cwd, port, log, env) as base:
        yield base


@contextmanager
def running(
    args: list[str],
    out: Path,
    url: str,
    cwd: Path,
    port: int,
    log_path: Path | None = None,
    more_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """The server ``args`` listening on ``port``, once it answers /healthz; stopped at the end."""
    log = (log_path or cwd / f"uvicorn-{port}.log").open("w+")
    base = f"http://127.0.0.1:{port}"
    env = {**app_env(out, url), "PUBLIC_URL": base, **(more_env or {})}  # mailed links lead here
    process = subprocess.Popen(args, env=env, cwd=cwd, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"{args[2]} exited {process.returncode}:\n{log.read()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(
                    f"{args[2]} did not answer /healthz in {START_TIMEOUT} s:\n{log.read()}"
                )
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


@dataclass
class Server:
    base: str
    url: str  # its database
    users: dict[str, str]  # name -> e-mail

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)

    def login(self, name: str, password: str = PASSWORD) -> httpx.Response:
        with self.client() as client:
            return client.post(
                "/api/auth/login", json={"email": self.users[name], "password": password}
            )

    def token(self, name: str) -> str:
        response = self.login(name)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


def prepare(out: Path, url: str, cwd: Path) -> dict[str, str]:
    """Migrate, then create the users (concurrently) through the app's CLI."""
    app_cli(out, url, cwd, "migrate")
    users = {name: f"{name}@e2e.example" for name in USERS}
    env = app_env(out, url)
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                PACKAGE,
                "createuser",
                "--email",
                users[name],
                "--password",
                PASSWORD,
                "--role",
                role,
            ],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, role in USERS.items()
    ]
    try:
        for process in processes:
            output, _ = process.communicate(timeout=CLI_TIMEOUT)
            assert process.returncode == 0, output
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    return users


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, crm_out: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The generated CRM behind uvicorn, on a fresh migrated database with users."""
    folder = tmp_path_factory.mktemp(f"serve_{request.param}")
    with fresh_database(request.param, folder) as url:
        users = prepare(crm_out, url, folder)
        with uvicorn_server(crm_out, url, folder) as base:
            yield Server(base, url, users)
