"""``--test-database URL`` runs the generated tests on PostgreSQL (skip on a bare machine)."""

from __future__ import annotations

from pathlib import Path

from tests.postgres import POSTGRES_URL, admin_engine
from tests.publish.conftest import MINIMAL_SPEC, publish, stage


def test_generated_tests_run_on_postgresql(tmp_path: Path) -> None:
    admin_engine().dispose()
    done = publish(MINIMAL_SPEC, tmp_path / "out", "--test-database", POSTGRES_URL)
    assert done.result.returncode == 0, done.result.stderr
    assert stage(done.report, "test")["status"] == "passed"
    assert done.report["tests"]["database"] == "postgresql"
    assert done.report["tests"]["passed"] > 0
