"""Backup and restore stream: the memory either takes does not grow with the rows.

Each ``dump`` and ``load`` runs in a process of its own, which reports its peak resident size
over its size before the work (the database driver's buffers count too, which ``tracemalloc``
would miss; Linux only: skipped where ``/proc/self/clear_refs`` cannot reset the peak).
Rows of a few KiB make the data far larger than the process's noise; four times the rows
must not take more than a little more memory (a bound, never a time)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from rt_app.cli import COMMANDS

SMALL, LARGE = 1_500, 6_000  # rows of about 3 KiB; LARGE holds 4 times as many
SLACK = 8 * 1024 * 1024  # bytes of RSS the larger may take beyond the smaller (a few batches)
RUNTIME_TESTS = Path(__file__).parent
# Linux: writing 5 to clear_refs resets the peak (VmHWM) to the present size (VmRSS), so the
# imports' own peak does not hide the work's.
MEASURE = """
import sys
from pathlib import Path
from rt_app.backup import BACKUPS
from rt_app.cli import COMMANDS
def status(name):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
kind, url, path = sys.argv[1:]
Path("/proc/self/clear_refs").write_text("5")
before = status("VmRSS")
if kind == "dump":
    BACKUPS.dump(url, Path(path))
else:
    BACKUPS.load(url, Path(path), force=True, migrate=COMMANDS.run_migrations)
print(status("VmHWM") - before)
"""


def add_companies(url: str, start: int, count: int) -> None:
    """``count`` more companies (ids from ``start``) with random names and notes of 3 KiB."""
    engine = sa.create_engine(url)
    with engine.begin() as db:
        for first in range(start, start + count, 1_000):
            rows = [
                {"id": i, "name": secrets.token_urlsafe(30), "note": secrets.token_urlsafe(2300)}
                for i in range(first, min(first + 1_000, start + count))
            ]
            db.execute(
                sa.text(
                    "INSERT INTO companies (id, version, name, note) VALUES (:id, 1, :name, :note)"
                ),
                rows,
            )
    engine.dispose()


def peak_rss(kind: str, url: str, path: Path) -> int:
    """The peak resident size of a process that runs ``dump`` or ``load`` of ``path``."""
    paths = [str(RUNTIME_TESTS), str(RUNTIME_TESTS.parent), os.environ.get("PYTHONPATH", "")]
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, kind, url, str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def test_backup_and_restore_take_flat_memory(database_url: str, tmp_path: Path) -> None:
    if not os.access("/proc/self/clear_refs", os.W_OK):
        pytest.skip("needs Linux's /proc/self/clear_refs to measure a peak")
    COMMANDS.run_migrations(database_url)
    path = tmp_path / "backup.jsonl"
    add_companies(database_url, 1, SMALL)
    small_dump, small_size = peak_rss("dump", database_url, path), path.stat().st_size
    small_load = peak_rss("load", database_url, path)
    add_companies(database_url, SMALL + 1, LARGE - SMALL)
    large_dump, large_size = peak_rss("dump", database_url, path), path.stat().st_size
    large_load = peak_rss("load", database_url, path)
    assert large_size > 3 * small_size and large_size - small_size > SLACK * 3 // 2
    assert large_dump < small_dump + SLACK, (small_dump, large_dump)
    assert large_load < small_load + SLACK, (small_load, large_load)
    engine = sa.create_engine(database_url)
    with engine.connect() as db:
        assert db.scalar(sa.text("SELECT count(*) FROM companies")) == LARGE
    engine.dispose()
