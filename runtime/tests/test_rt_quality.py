"""The runtime's quality gate: ``ruff check`` and ``mypy --strict``.

Its third part, line coverage of 85% or more by these unit tests, is measured while the test
command runs them (the repository's ``conftest.py``), not by running them again.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.quality

RUNTIME = Path(__file__).resolve().parents[1]  # runtime/: the distribution's project folder
ROOT = RUNTIME.parent  # the repository, whose pyproject.toml configures pytest and coverage
PACKAGE = RUNTIME / "crmgen_runtime"
IN_CI = os.environ.get("CI") == "true"


def run(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )


def needs(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        if IN_CI:
            pytest.fail(f"{module} is not installed (pip install -e '.[test]')")
        pytest.skip(f"{module} is not installed (pip install -e '.[test]')")


def test_ruff_check_passes() -> None:
    result = run("ruff", "check", "--no-cache", str(PACKAGE), str(RUNTIME / "tests"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes() -> None:
    needs("mypy")
    config = str(RUNTIME / "pyproject.toml")
    result = run("mypy", "--strict", "--config-file", config, "--no-incremental", str(PACKAGE))
    assert result.returncode == 0, result.stdout + result.stderr
