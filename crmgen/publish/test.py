"""The ``test`` stage: run the generated app's own test suite in a child process.

``python -m pytest -q -x -p no:cacheprovider`` in the staging folder; the counts come from
pytest's last line. ``--test-database URL`` hands a PostgreSQL server to the suite through
``DATABASE_URL``; ``--skip-tests`` skips the stage and the report says so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from crmgen.publish.compile import child_env
from crmgen.publish.stages import Done, Run, StageFailed, StageSkipped, count_lines

TIMEOUT = 1800
COMMAND = ("-m", "pytest", "-q", "-x", "-p", "no:cacheprovider")
COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")
FAILED_LINE = re.compile(r"^(FAILED|ERROR) (\S+)", re.MULTILINE)


def counts(output: str) -> dict[str, int]:
    """``{"passed": N, "failed": N, "skipped": N}`` from pytest's summary line."""
    found = {"passed": 0, "failed": 0, "skipped": 0}
    lines = [line for line in output.strip().splitlines() if " in " in line]
    for number, word in COUNT.findall(lines[-1] if lines else ""):
        key = "failed" if word.startswith("error") else word
        if key in found:
            found[key] += int(number)
    return found


def run(state: Run) -> Done:
    assert state.staging is not None
    database = state.options.test_database
    state.tests = {"passed": 0, "failed": 0, "skipped": 0, "database": _kind(database)}
    if state.options.skip_tests:
        raise StageSkipped("--skip-tests: the generated tests were not run")
    extra = {"DATABASE_URL": database} if database else {}
    before = set(state.staging.iterdir())
    try:
        done = subprocess.run(
            [sys.executable, *COMMAND],
            cwd=state.staging,
            env=child_env(state, **extra),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise StageFailed(f"the generated tests took longer than {TIMEOUT} s") from exc
    finally:
        _remove_new(before, state.staging)
    state.tests.update(counts(done.stdout))
    paths = sorted((state.staging / "tests").rglob("*.py"))
    summary = f"{state.tests['passed']} passed, {state.tests['skipped']} skipped"
    if done.returncode != 0:
        first = FAILED_LINE.search(done.stdout)
        what = f"{first.group(1)} {first.group(2)}" if first else _tail(done)
        raise StageFailed(
            f"the generated tests failed ({state.tests['failed']} failed, {summary}): {what}"
        )
    return Done(len(paths), count_lines(paths), summary)


def _remove_new(before: set[Path], folder: Path) -> None:
    """Remove what the test run left in the staging folder (plugin folders such as .benchmarks)."""
    for path in set(folder.iterdir()) - before:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _kind(url: str | None) -> str:
    if not url:
        return "sqlite"
    return url.split(":", 1)[0].split("+", 1)[0]


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[-1] if lines else f"pytest exited {done.returncode}"
