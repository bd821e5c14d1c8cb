"""--skip-tests, --docker=auto and --deploy compose without an engine; usage errors."""

from __future__ import annotations

from pathlib import Path

from tests.publish.conftest import MINIMAL_SPEC, crmgen, publish, stage


def test_skip_tests_is_reported(tmp_path: Path) -> None:
    done = publish(MINIMAL_SPEC, tmp_path / "out", "--skip-tests")
    assert done.result.returncode == 0, done.result.stderr
    test = stage(done.report, "test")
    assert test["status"] == "skipped"
    assert "--skip-tests" in test["message"]
    assert "test      skipped" in done.result.stderr
    assert done.report["tests"] == {"passed": 0, "failed": 0, "skipped": 0, "database": "sqlite"}


def test_docker_auto_without_an_engine_warns_and_skips(tmp_path: Path) -> None:
    done = publish(MINIMAL_SPEC, tmp_path / "out", "--skip-tests", "--docker=auto")
    assert done.result.returncode == 0, done.result.stderr
    assert "warning: --docker=auto: no Docker engine is reachable" in done.result.stderr
    assert stage(done.report, "docker")["status"] == "skipped"
    assert any("--docker=auto" in line for line in done.report["warnings"])
    assert (tmp_path / "out" / "Dockerfile").is_file()


def test_deploy_compose_without_an_engine_prints_the_commands(tmp_path: Path) -> None:
    done = publish(MINIMAL_SPEC, tmp_path / "out", "--skip-tests", "--deploy", "compose")
    assert done.result.returncode == 0, done.result.stderr
    assert "docker compose up -d --build --wait" in done.result.stderr
    assert "cp deploy/env.example .env" in done.result.stderr
    assert stage(done.report, "deploy")["status"] == "skipped"
    assert any("--deploy compose" in line for line in done.report["warnings"])


def test_usage_errors_exit_2_and_push_needs_docker(tmp_path: Path) -> None:
    assert crmgen("publish", MINIMAL_SPEC, tmp=tmp_path).returncode == 2
    assert (
        crmgen("publish", MINIMAL_SPEC, "-o", "x", "--docker=maybe", tmp=tmp_path).returncode == 2
    )
    pushed = crmgen("publish", MINIMAL_SPEC, "-o", tmp_path / "o", "--push", tmp=tmp_path)
    assert pushed.returncode == 1
    assert "--push needs --docker" in pushed.stderr
