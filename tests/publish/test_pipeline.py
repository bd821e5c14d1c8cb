"""``crmgen publish`` end to end: every stage passes, the report matches its shipped schema."""

from __future__ import annotations

import json
import zipfile

from crmgen.publish.report import SCHEMA_PATH, validate_report
from tests.publish.conftest import MINIMAL_SPEC, Published, crmgen, stage, tree_hashes

STAGES = ["validate", "generate", "format", "compile", "test", "package", "docker", "deploy"]


def test_every_stage_passes_for_the_reference_crm(crm: Published) -> None:
    report = crm.report
    assert report["outcome"] == "passed"
    assert [s["name"] for s in report["stages"]] == STAGES
    for name in STAGES[:6]:
        assert stage(report, name)["status"] == "passed", stage(report, name)
    assert stage(report, "docker")["status"] == "skipped"
    assert report["tests"]["passed"] > 100
    assert report["tests"]["failed"] == 0
    assert report["tests"]["database"] == "sqlite"
    # a whole app: the reference CRM is 48 files now that its runtime is a library (was 128)
    assert stage(report, "generate")["files"] >= 40 and stage(report, "generate")["lines"] > 1000


def test_report_validates_against_the_shipped_schema(crm: Published) -> None:
    assert validate_report(crm.report) == []
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"].endswith("2020-12/schema")
    broken = dict(crm.report, outcome="maybe")
    assert validate_report(broken)


def test_artefacts_exist_and_are_listed(crm: Published) -> None:
    artefacts = crm.report["artefacts"]
    for key in ("wheel", "web_assets", "dockerfile", "compose", "kubernetes"):
        assert (crm.out / artefacts[key]).exists(), key
    assert artefacts["image_id"] is None and artefacts["image_tag"] is None
    with zipfile.ZipFile(crm.out / artefacts["wheel"]) as wheel:
        names = wheel.namelist()
    assert "reference_crm/app.py" in names
    assert any(name.startswith("reference_crm/migrations/versions/") for name in names)
    with zipfile.ZipFile(crm.out / artefacts["web_assets"]) as assets:
        assert all(n.startswith(("static/", "templates/")) for n in assets.namelist())
    marker = json.loads((crm.out / ".crmgen").read_text(encoding="utf-8"))
    assert "Dockerfile" in marker["files"] and artefacts["wheel"] in marker["files"]
    assert not list(crm.out.rglob("__pycache__"))


def test_summary_table_and_progress_on_stderr(crm: Published) -> None:
    err = crm.result.stderr
    for name in STAGES:
        assert f"] {name}" in err
    assert "stage" in err and "seconds" in err and "total" in err


def test_publish_is_deterministic_and_keeps_generate_output(minimal: Published, tmp_path) -> None:
    again = tmp_path / "again"
    assert (
        crmgen("publish", MINIMAL_SPEC, "-o", again, "--skip-tests", tmp=tmp_path).returncode == 0
    )
    assert tree_hashes(again) == tree_hashes(minimal.out)
    generated = tmp_path / "generated"
    assert crmgen("generate", MINIMAL_SPEC, "-o", generated, tmp=tmp_path).returncode == 0
    listed = json.loads((generated / ".crmgen").read_text(encoding="utf-8"))["files"]
    published, plain = tree_hashes(again), tree_hashes(generated)
    assert {name: published[name] for name in listed} == {name: plain[name] for name in listed}


def test_json_format_prints_the_report(minimal: Published, tmp_path) -> None:
    out = tmp_path / "json"
    done = crmgen(
        "publish", MINIMAL_SPEC, "-o", out, "--skip-tests", "--format", "json", tmp=tmp_path
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert validate_report(report) == []
    assert report["outcome"] == "passed"


def test_user_files_in_out_are_carried_over(tmp_path) -> None:
    out = tmp_path / "app"
    assert crmgen("publish", MINIMAL_SPEC, "-o", out, "--skip-tests", tmp=tmp_path).returncode == 0
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    (out / ".env").write_text("SECRET_KEY=x\n", encoding="utf-8")
    assert crmgen("publish", MINIMAL_SPEC, "-o", out, "--skip-tests", tmp=tmp_path).returncode == 0
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert (out / ".env").is_file()
    assert not list(out.rglob("*.user"))
