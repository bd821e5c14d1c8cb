"""Fixtures of the publish tests: the reference CRM published once, small specs published fast.

Everything runs the real ``crmgen`` command in a child process (``python -m crmgen``), so exit
codes, stderr and the report are what a user or a CI job sees. No Docker engine is needed:
``DOCKER_HOST`` points at a socket nobody listens on, so the no-engine paths run for real.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CRM_SPEC = ROOT / "examples" / "crm"
MINIMAL_SPEC = ROOT / "examples" / "minimal"
TIMEOUT = 600


@dataclass(frozen=True)
class Published:
    out: Path
    report: dict[str, Any]
    result: subprocess.CompletedProcess[str]


def crmgen(*args: str | Path, tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m crmgen ARGS`` with no Docker engine reachable."""
    environ = dict(os.environ)
    environ["DOCKER_HOST"] = f"unix://{tmp / 'no-docker-here.sock'}"
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "crmgen", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=environ,
        cwd=tmp,
        check=False,
    )


def publish(spec: Path, out: Path, *args: str | Path) -> Published:
    report = out.parent / f"{out.name}-report.json"
    result = crmgen("publish", spec, "-o", out, "--report", report, *args, tmp=out.parent)
    data = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else {}
    return Published(out, data, result)


def tree_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file below ``folder`` (hidden ones included), by relative path."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def stage(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in report["stages"] if s["name"] == name)


@pytest.fixture(scope="session")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Published:
    """examples/crm published with its generated tests, once per test process."""
    out = tmp_path_factory.mktemp("publish-crm") / "crm"
    published = publish(CRM_SPEC, out)
    assert published.result.returncode == 0, published.result.stderr
    return published


@pytest.fixture(scope="session")
def minimal(tmp_path_factory: pytest.TempPathFactory) -> Published:
    """examples/minimal published without its tests: the previous OUT of the failure tests."""
    out = tmp_path_factory.mktemp("publish-minimal") / "minimal"
    published = publish(MINIMAL_SPEC, out, "--skip-tests")
    assert published.result.returncode == 0, published.result.stderr
    return published
