"""The runtime's quality gate: ``ruff check``, ``mypy --strict`` and line coverage of 85% or more.

The coverage run is the runtime's unit tests again, in a subprocess under coverage.py (the
``quality`` tests left out), so the main test command checks it and stays one command.
"""

from __future__ import annotations

import importlib.util
import os
import re
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


def test_the_unit_tests_cover_85_percent_of_the_runtime(tmp_path: Path) -> None:
    needs("coverage")
    # the checkout's runtime first, whatever copy of it is installed
    path = os.pathsep.join([str(RUNTIME), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {**os.environ, "PYTHONPATH": path, "COVERAGE_FILE": str(tmp_path / ".coverage")}
    tests = str(RUNTIME / "tests")
    options = ("-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-m", "not quality")
    measured = run(
        "coverage", "run", "--source", "crmgen_runtime", "-m", "pytest", tests, *options, env=env
    )
    assert measured.returncode == 0, measured.stdout[-3000:] + measured.stderr[-3000:]
    report = run("coverage", "report", "--fail-under=85", env=env)
    total = re.search(r"^TOTAL.*?(\d+(?:\.\d+)?)%\s*$", report.stdout, re.MULTILINE)
    figure = total.group(1) if total else "?"
    print(f"crmgen_runtime line coverage: {figure}%")
    assert report.returncode == 0, f"coverage {figure}% is under 85%:\n{report.stdout}"
