"""The generated app's own test suite (OUT/tests) passes, on SQLite and on PostgreSQL.

It runs in a subprocess (``python -m pytest`` in OUT, the generated code on PYTHONPATH),
bounded by a timeout; with ``DATABASE_URL`` set, the suite makes its own PostgreSQL database.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import app_env, postgres_server, run
from tests.generated_apps import GeneratedApps

SUITE_TIMEOUT = 240
OTHER_SPECS = ("hostile", "minimal", "reserved_words")  # and tests/backend/reserved_words.yaml


def _passes(out: Path, kind: str) -> None:
    url = postgres_server() if kind == "postgresql" else None
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "tests"]
    output = run(args, app_env(out, url), out, SUITE_TIMEOUT)
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed.group(1)) > 0, output
    assert not re.search(r"\d+ (failed|error)", output), output


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_generated_suite_passes(crm_out: Path, kind: str) -> None:
    _passes(crm_out, kind)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
@pytest.mark.parametrize("name", OTHER_SPECS)
def test_generated_suite_of_the_other_specs_passes(
    name: str, kind: str, generated_apps: GeneratedApps
) -> None:
    """examples/minimal and the hostile spec (quotes, {{ }}, newlines in every text)."""
    _passes(generated_apps(name).out, kind)
