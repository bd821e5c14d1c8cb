"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, never a downloaded
browser. On a machine without Chromium these tests skip with the reason; under CI=true they fail,
since .ci/run installs it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
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


@pytest.fixture(scope="module")
def live(crm_out: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # noqa: F811
    """The reference CRM behind uvicorn on a fresh SQLite file, with its test users."""
    folder = tmp_path_factory.mktemp("browser")
    with fresh_database("sqlite", folder) as url:
        users = prepare(crm_out, url, folder)
        with uvicorn_server(crm_out, url, folder) as base:
            yield Server(base, url, users)
