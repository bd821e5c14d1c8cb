"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, never a downloaded
browser. On a machine without Chromium these tests skip with the reason; under CI=true they fail,
since .ci/run installs it."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, crm_out, fresh_database, prepare, uvicorn_server  # noqa: F401

CHROMIUM = os.environ.get("CRMGEN_CHROMIUM", "/usr/bin/chromium")
# The flags a locked-down machine needs: no sandbox as root, no calls home.
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must run the browser tests: see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def prepared(
    crm_out: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, str]]]:
    """A migrated SQLite file with the test users, made once per test process through the
    app's CLI; each module's server starts from a copy of it (migrating and creating users
    took a third of each module's start)."""
    folder = tmp_path_factory.mktemp("browser-template")
    with fresh_database("sqlite", folder) as url:
        users = prepare(crm_out, url, folder)
        yield folder / "e2e.sqlite3", users


@pytest.fixture(scope="module")
def live(
    crm_out: Path,  # noqa: F811
    prepared: tuple[Path, dict[str, str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    """The reference CRM behind uvicorn on a fresh SQLite file (a copy of the prepared one),
    with its test users."""
    template, users = prepared
    folder = tmp_path_factory.mktemp("browser")
    with fresh_database("sqlite", folder) as url:
        copy_sqlite(template, folder / "e2e.sqlite3")
        with uvicorn_server(crm_out, url, folder) as base:
            yield Server(base, url, users)


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of an SQLite database (its WAL included), through SQLite's backup."""
    with closing(sqlite3.connect(source)) as read, closing(sqlite3.connect(target)) as write:
        read.backup(write)
