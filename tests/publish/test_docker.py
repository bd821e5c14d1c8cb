"""``--docker`` against a fake engine on a loopback port: the SDK's real build call, checked."""

from __future__ import annotations

import json
from pathlib import Path

from tests.publish.conftest import MINIMAL_SPEC, crmgen, stage
from tests.publish.fake_docker import IMAGE_ID, fake_engine


def test_docker_builds_the_image_through_the_sdk(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    with fake_engine() as (host, seen):
        done = crmgen(
            "publish",
            MINIMAL_SPEC,
            "-o",
            out,
            "--skip-tests",
            "--docker",
            "--tag",
            "example/minimal:test",
            "--report",
            report,
            tmp=tmp_path,
            DOCKER_HOST=host,
        )
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text(encoding="utf-8"))
    assert stage(data, "docker")["status"] == "passed"
    assert data["artefacts"]["image_id"] == IMAGE_ID
    assert data["artefacts"]["image_tag"] == "example/minimal:test"
    builds = [query for method, path, query in seen.requests if path.endswith("/build")]
    assert len(builds) == 1 and builds[0]["t"] == ["example/minimal:test"]
    wheel = data["artefacts"]["wheel"]
    # the .dockerignore keeps the context to what the Dockerfile copies
    assert set(seen.context) >= {
        "Dockerfile",
        wheel,
        "deploy/install.sh",
        "deploy/requirements.txt",
    }
    assert not any(name.startswith(("minimal/", "tests/", "migrations/")) for name in seen.context)


def test_push_sends_the_tag_and_reports_a_refusal(tmp_path: Path) -> None:
    with fake_engine() as (host, seen):
        pushed = crmgen(
            "publish",
            MINIMAL_SPEC,
            "-o",
            tmp_path / "ok",
            "--skip-tests",
            "--docker",
            "--tag",
            "registry.example/minimal:1.0",
            "--push",
            tmp=tmp_path,
            DOCKER_HOST=host,
        )
        refused = crmgen(
            "publish",
            MINIMAL_SPEC,
            "-o",
            tmp_path / "no",
            "--skip-tests",
            "--docker",
            "--tag",
            "registry.example/minimal:denied",
            "--push",
            tmp=tmp_path,
            DOCKER_HOST=host,
        )
    assert pushed.returncode == 0, pushed.stderr
    pushes = [(path, query) for method, path, query in seen.requests if path.endswith("/push")]
    assert pushes[0][0].endswith("/images/registry.example/minimal/push")
    assert pushes[0][1]["tag"] == ["1.0"]
    assert refused.returncode == 1
    assert "publish failed at stage 'docker'" in refused.stderr
    assert "denied: no access" in refused.stderr
    assert not (tmp_path / "no").exists()
