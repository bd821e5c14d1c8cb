"""``restore`` reads a backup file (JSON lines, gzip-compressed when named ``.gz``) within
limits and explains a broken one: a damaged line, a row of an unknown table, a truncated gzip
stream and a gzip bomb of one endless line each end with exit code 1 and a one-line message
naming the problem (and the line), never a traceback, on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.postgres import POSTGRES_URL, admin_engine
from tests.security.crm import KINDS, PACKAGE, app_cli, app_env, cloned_database, crm_out
from tests.security.files.uploads import MiB

# Runs the app's CLI and reports its peak memory (ru_maxrss, KiB) on stderr, whatever happens.
WRAPPER = (
    "import resource, runpy, sys\n"
    f"sys.argv = [{PACKAGE!r}, *sys.argv[1:]]\n"
    "try:\n"
    f"    runpy.run_module({PACKAGE!r}, run_name='__main__', alter_sys=True)\n"
    "finally:\n"
    "    print('PEAK_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
)


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The lines of a backup of the seeded reference CRM."""
    folder = tmp_path_factory.mktemp("restore")
    out = crm_out(tmp_path_factory)
    with cloned_database("sqlite", folder, tmp_path_factory) as url:
        app_cli(out, url, folder, "backup", str(folder / "crm.jsonl"))
    return (folder / "crm.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)


@pytest.fixture(params=KINDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    name = f"crmgen_restore_{uuid.uuid4().hex[:10]}"
    admin = admin_engine()
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def restore(tmp_path_factory: pytest.TempPathFactory, url: str, file: Path) -> tuple[int, str, int]:
    """Run ``restore FILE``: its exit code, its stderr and its peak memory in bytes."""
    out = crm_out(tmp_path_factory)
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, "restore", str(file)],
        env=app_env(out, url),
        cwd=file.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    peaks = [line for line in done.stderr.splitlines() if line.startswith("PEAK_KIB ")]
    rest = [line for line in done.stderr.splitlines() if not line.startswith("PEAK_KIB ")]
    return done.returncode, "\n".join(rest), int(peaks[0].split()[1]) * 1024 if peaks else 0


def explained(code: int, stderr: str, *words: str) -> None:
    assert code == 1, stderr
    assert "Traceback" not in stderr, stderr
    for word in words:
        assert word in stderr, stderr


def test_a_damaged_line(
    backup: list[str], empty_database: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    lines = list(backup)
    lines[5] = lines[5][: len(lines[5]) // 2] + "\n"
    file = tmp_path / "damaged.jsonl"
    file.write_text("".join(lines), encoding="utf-8")
    code, stderr, _ = restore(tmp_path_factory, empty_database, file)
    explained(code, stderr, "line 6")


def test_a_row_of_an_unknown_table(
    backup: list[str], empty_database: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    lines = [*backup[:3], '{"table": "no_such_table", "row": {"id": 1}}\n', *backup[3:]]
    file = tmp_path / "unknown.jsonl"
    file.write_text("".join(lines), encoding="utf-8")
    code, stderr, _ = restore(tmp_path_factory, empty_database, file)
    explained(code, stderr, "line 4", "no_such_table")


def test_a_truncated_gzip_file(
    backup: list[str], empty_database: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    packed = gzip.compress("".join(backup).encode())
    file = tmp_path / "cut.jsonl.gz"
    file.write_bytes(packed[: len(packed) * 2 // 3])
    code, stderr, _ = restore(tmp_path_factory, empty_database, file)
    explained(code, stderr, "cut.jsonl.gz")


def test_a_gzip_bomb_of_one_endless_line(
    backup: list[str], empty_database: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    file = tmp_path / "bomb.jsonl.gz"
    file.write_bytes(
        _gzip_of(backup[0].encode() + b'{"table": "companies", "row": "', b" " * MiB, 1500)
    )
    code, stderr, peak = restore(tmp_path_factory, empty_database, file)
    explained(code, stderr, "line 2")
    print(f"\nrestore of a 1.5 GB line: peak {peak / MiB:.0f} MiB")
    assert peak < 768 * MiB, f"restore peaked at {peak / MiB:.0f} MiB"


def _gzip_of(head: bytes, unit: bytes, count: int) -> bytes:
    """A gzip file of ``head + unit * count``, compressed without ever holding it."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    once = compressor.compress(unit) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(unit) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush()
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(unit, crc)
    size = (len(head) + len(unit) * count) & 0xFFFFFFFF
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + first + once + again * (count - 1) + end + struct.pack("<2L", crc, size)
