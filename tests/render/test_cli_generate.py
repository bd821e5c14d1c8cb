"""``crmgen generate SPEC -o OUT [--templates DIR]``."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from crmgen.cli import cli
from tests.render.conftest import write_spec
from tests.render.specs import MINIMAL

BAD = "app: {name: bad}\nroles: {staff: Staff}\nentities:\n  Deal:\n    fields:\n      x: {type: strin}\n"


def test_generate_writes_the_app(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["generate", str(MINIMAL), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    written = sorted(
        p.relative_to(tmp_path / "out").as_posix()
        for p in (tmp_path / "out").rglob("*")
        if p.is_file() and p.name != ".crmgen"
    )
    assert f"wrote {len(written)} files" in result.stderr
    assert "minimal/models.py" in written
    assert (tmp_path / "out" / "minimal" / "models.py").is_file()


def test_a_bad_spec_is_reported_like_validate(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec", BAD)
    runner = CliRunner()
    generated = runner.invoke(cli, ["generate", str(spec), "-o", str(tmp_path / "out")])
    validated = runner.invoke(cli, ["validate", str(spec)])
    assert generated.exit_code == validated.exit_code == 1
    assert generated.stderr == validated.stderr
    assert ":6:" in generated.stderr and "error:" in generated.stderr
    assert not (tmp_path / "out").exists()


def test_a_broken_override_exits_1_without_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "tpl" / "backend"
    folder.mkdir(parents=True)
    (folder / "models.py.j2").write_text("{% endfor %}\n")
    result = CliRunner().invoke(
        cli,
        [
            "generate",
            str(MINIMAL),
            "-o",
            str(tmp_path / "out"),
            "--templates",
            str(tmp_path / "tpl"),
        ],
    )
    assert result.exit_code == 1
    assert "models.py.j2:1: template syntax error" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert not (tmp_path / "out").exists()


def test_a_foreign_out_is_refused(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("x")
    result = CliRunner().invoke(cli, ["generate", str(MINIMAL), "-o", str(tmp_path)])
    assert result.exit_code == 1 and "not written by crmgen" in result.stderr
