"""An unsafe configuration never starts: a weak ``SECRET_KEY`` or no ``PUBLIC_URL`` outside local
development is refused at every entry point with a one-line explanation (exit 1, no traceback);
a strong key, or local development (``APP_ENV=development``), starts.

The entry points are the ones people run: ``uvicorn --factory APP.app:create_app``,
``python -m APP serve`` and ``python -m APP worker``.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.security.crm import (
    PACKAGE,
    START_TIMEOUT,
    app_env,
    cloned_database,
    crm_out,
    free_port,
)

PUBLIC_URL = "https://crm.example.com"
STRONG_KEY = secrets.token_urlsafe(24)  # 32 characters: the shortest key accepted


def command(entry: str, port: int) -> list[str]:
    """The command line of an entry point (the web ones on ``port``)."""
    if entry == "uvicorn":
        factory = f"{PACKAGE}.app:create_app"
        return [sys.executable, "-m", "uvicorn", "--factory", factory, "--port", str(port)]
    if entry == "serve":
        return [sys.executable, "-m", PACKAGE, "serve", "--port", str(port)]
    return [sys.executable, "-m", PACKAGE, "worker", "--once", "--no-scheduler"]


ENTRY_POINTS = ("uvicorn", "serve", "worker")


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, seeded SQLite database (the checks come before any use of it)."""
    folder = tmp_path_factory.mktemp("startup")
    with cloned_database("sqlite", folder, tmp_path_factory) as url:
        yield url


def settings_env(out: Path, url: str, **settings: str | None) -> dict[str, str]:
    """The app's environment with a strong key and ``PUBLIC_URL``, changed by ``settings``
    (None removes a variable)."""
    env = app_env(out, url, {"SECRET_KEY": STRONG_KEY, "PUBLIC_URL": PUBLIC_URL})
    for name, value in settings.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run(entry: str, env: dict[str, str], cwd: Path) -> tuple[int | None, str]:
    """Start ``entry``: ``(exit code, output)`` once it exits, ``(None, output)`` once it
    answers /healthz (a web entry point that started); it is stopped either way."""
    port = free_port()
    log_path = cwd / f"{entry}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command(entry, port), env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                return code, log_path.read_text(encoding="utf-8", errors="replace")
            if entry != "worker" and _healthy(port):
                return None, log_path.read_text(encoding="utf-8", errors="replace")
            time.sleep(0.1)
        pytest.fail(f"{entry} neither exited nor answered in {START_TIMEOUT} s")
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=15)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def placeholder_key(out: Path) -> str:
    """The ``SECRET_KEY`` placeholder of the shipped ``deploy/env.example``."""
    for line in (out / "deploy" / "env.example").read_text(encoding="utf-8").splitlines():
        if line.startswith("SECRET_KEY="):
            return line.partition("=")[2]
    raise AssertionError("deploy/env.example has no SECRET_KEY line")


def assert_refused(code: int | None, output: str, variable: str) -> None:
    """Exit 1 with one line naming ``variable`` and no traceback."""
    assert code == 1, f"started (exit {code}) instead of refusing:\n{output}"
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if variable in line]
    assert len(lines) == 1, output


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("variable", ["SECRET_KEY", "PUBLIC_URL"])
def test_a_weak_key_or_no_public_url_is_refused_at_every_entry_point(
    entry: str,
    variable: str,
    database: str,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
) -> None:
    out = crm_out(tmp_path_factory)
    value = "x" if variable == "SECRET_KEY" else None
    code, output = run(entry, settings_env(out, database, **{variable: value}), tmp_path)
    assert_refused(code, output, variable)


BAD_VALUES = {
    "key_unset": ("SECRET_KEY", None),
    "key_of_the_env_example": ("SECRET_KEY", "placeholder"),
    "key_of_31_characters": ("SECRET_KEY", secrets.token_urlsafe(24)[:31]),
    "key_of_one_character_repeated": ("SECRET_KEY", "k" * 48),
    "public_url_without_scheme": ("PUBLIC_URL", "crm.example.com"),
    "public_url_with_a_query": ("PUBLIC_URL", "https://crm.example.com/?next=/"),
    "unknown_app_env": ("APP_ENV", "develop"),
    "allowed_hosts_with_a_scheme": ("ALLOWED_HOSTS", "https://crm.example.com"),
    "forwarded_allow_ips_not_addresses": ("FORWARDED_ALLOW_IPS", "nginx"),
}


@pytest.mark.parametrize("bad", BAD_VALUES)
def test_each_bad_value_is_refused_with_its_name(
    bad: str, database: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """Through the worker, which loads the settings as the web entry points do (and starts
    faster)."""
    out = crm_out(tmp_path_factory)
    variable, value = BAD_VALUES[bad]
    if value == "placeholder":
        value = placeholder_key(out)
    code, output = run("worker", settings_env(out, database, **{variable: value}), tmp_path)
    assert_refused(code, output, variable)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_strong_key_and_a_public_url_start(
    entry: str, database: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    out = crm_out(tmp_path_factory)
    code, output = run(entry, settings_env(out, database), tmp_path)
    assert code in (None, 0), output  # web entry points answered /healthz, the worker ran once


@pytest.mark.parametrize("entry", ["uvicorn", "worker"])
def test_local_development_starts_with_any_key_and_no_public_url(
    entry: str, database: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    out = crm_out(tmp_path_factory)
    env = settings_env(out, database, APP_ENV="development", SECRET_KEY="x", PUBLIC_URL=None)
    code, output = run(entry, env, tmp_path)
    assert code in (None, 0), output
