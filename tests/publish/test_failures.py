"""A failing stage exits 1, names itself and leaves the previous OUT byte for byte untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.publish.conftest import MINIMAL_SPEC, Published, publish, stage, tree_hashes

FAILING_TEST = """\
def test_that_passes() -> None:
    assert True


def test_that_fails() -> None:
    assert 1 + 1 == 3, "sabotaged by the publish tests"
"""


def overrides(tmp_path: Path, files: dict[str, str]) -> Path:
    """A template override folder holding ``files`` (path under templates/ -> text)."""
    folder = tmp_path / "overrides"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def assert_failed_at(published: Published, name: str, before: dict[str, str]) -> None:
    assert published.result.returncode == 1, published.result.stderr
    assert f"publish failed at stage '{name}'" in published.result.stderr
    assert "Traceback" not in published.result.stderr
    assert published.report["outcome"] == "failed"
    assert published.report["failed_stage"] == name
    assert stage(published.report, name)["status"] == "failed"
    assert tree_hashes(published.out) == before
    leftovers = [p.name for p in published.out.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_broken_template_override_fails_generate(minimal: Published, tmp_path: Path) -> None:
    before = tree_hashes(minimal.out)
    folder = overrides(tmp_path, {"backend/app.py.j2": "{% if %}broken\n"})
    failed = publish(MINIMAL_SPEC, minimal.out, "--skip-tests", "--templates", folder)
    assert_failed_at(failed, "generate", before)
    assert "template syntax error" in failed.result.stderr
    assert stage(failed.report, "format")["status"] == "skipped"


def test_app_that_does_not_import_fails_compile(minimal: Published, tmp_path: Path) -> None:
    before = tree_hashes(minimal.out)
    folder = overrides(tmp_path, {"backend/app.py.j2": 'raise RuntimeError("no app today")\n'})
    failed = publish(MINIMAL_SPEC, minimal.out, "--skip-tests", "--templates", folder)
    assert_failed_at(failed, "compile", before)
    assert "no app today" in failed.result.stderr


def test_failing_generated_test_fails_the_test_stage(minimal: Published, tmp_path: Path) -> None:
    before = tree_hashes(minimal.out)
    folder = overrides(tmp_path, {"tests/test_auth.py.j2": FAILING_TEST})
    failed = publish(MINIMAL_SPEC, minimal.out, "--templates", folder)
    assert_failed_at(failed, "test", before)
    assert "test_that_fails" in failed.result.stderr
    assert failed.report["tests"]["failed"] == 1
    assert stage(failed.report, "package")["status"] == "skipped"


def test_bad_spec_fails_validate(minimal: Published, tmp_path: Path) -> None:
    before = tree_hashes(minimal.out)
    spec = tmp_path / "bad.yaml"
    spec.write_text("app: {name: minimal}\nentities:\n  Contact: {fields: {name: strng}}\n")
    failed = publish(spec, minimal.out)
    assert_failed_at(failed, "validate", before)
    assert "bad.yaml:" in failed.result.stderr


@pytest.mark.parametrize("mode", ["--docker", "--docker=yes"])
def test_docker_without_an_engine_exits_1(minimal: Published, mode: str) -> None:
    before = tree_hashes(minimal.out)
    failed = publish(MINIMAL_SPEC, minimal.out, "--skip-tests", mode)
    assert_failed_at(failed, "docker", before)
    assert "no Docker engine is reachable" in failed.result.stderr
