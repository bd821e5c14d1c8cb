"""The command line: exit codes, output formats, and no tracebacks for user errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from crmgen.cli import cli
from tests.language.sample_specs import MINIMAL, RICH, write

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"^[^:]+:\d+:\d+: (error|warning): .+")
BROKEN = MINIMAL.replace("type: email", "type: emial").replace("staff: all", "stuff: all")


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_validate_a_valid_spec_exits_0(tmp_path: Path) -> None:
    spec = write(tmp_path, MINIMAL)
    result = run("validate", str(spec))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    summary = result.stderr.strip()
    assert summary.startswith(f"{spec}: valid (") and "0 warning(s)" in summary


def test_validate_a_broken_spec_exits_1_with_located_errors(tmp_path: Path) -> None:
    spec = write(tmp_path, BROKEN)
    result = run("validate", str(spec))
    assert result.exit_code == 1
    *problems, summary = result.stderr.splitlines()
    assert problems and all(LINE.match(line) for line in problems), problems
    assert any(
        line.startswith(f"{spec}:12:") and "emial" in line and "did you mean 'email'" in line
        for line in problems
    )
    assert any("stuff" in line for line in problems)
    assert summary.startswith(f"{spec}: ") and "error(s)" in summary
    assert "Traceback" not in result.output


def test_validate_json_format(tmp_path: Path) -> None:
    spec = write(tmp_path, BROKEN)
    result = run("validate", "--format", "json", str(spec))
    assert result.exit_code == 1
    problems = json.loads(result.stdout)
    assert problems and {p["severity"] for p in problems} == {"error"}
    assert set(problems[0]) == {"file", "line", "column", "severity", "code", "message"}
    assert all(p["file"] == str(spec) and p["line"] >= 1 and p["column"] >= 1 for p in problems)
    ok = run("validate", "--format", "json", str(write(tmp_path / "ok", MINIMAL)))
    assert ok.exit_code == 0 and json.loads(ok.stdout) == []


def test_warnings_pass_unless_strict(tmp_path: Path) -> None:
    spec = write(tmp_path, MINIMAL.replace("title: Minimal CRM", "title: NO"))
    result = run("validate", str(spec))
    assert result.exit_code == 0 and ": warning: " in result.stderr
    assert run("validate", "--strict", str(spec)).exit_code == 1


def test_a_locale_without_ui_messages_is_a_located_warning_naming_the_fallback(
    tmp_path: Path,
) -> None:
    spec = write(tmp_path, RICH.replace("locales: [en, ru]", "locales: [en, ru, nl]"))
    result = run("validate", str(spec))
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (
        f"{spec}:4:21: warning: the UI has no messages in 'nl' (it has bs, en, id, ru, zh): "
        "its buttons, menus and errors show in English ('en') instead"
    )
    assert "1 warning(s)" in result.stderr


def test_a_missing_path_exits_1_with_a_located_message(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = run("validate", str(missing))
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first == f"{missing}:1:1: error: no such file or folder"
    assert "Traceback" not in result.output


def test_schema_prints_a_valid_json_schema() -> None:
    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert json.loads(run("schema", "--indent", "0").stdout) == schema


def test_init_writes_a_spec_that_validates_and_refuses_to_overwrite(tmp_path: Path) -> None:
    folder = tmp_path / "my-shop"
    result = run("init", str(folder))
    assert result.exit_code == 0, result.output
    target = folder / "crm.yaml"
    assert target.is_file()
    assert run("validate", str(target)).exit_code == 0
    assert "name: my_shop" in target.read_text(encoding="utf-8")

    target.write_text("# mine\n", encoding="utf-8")
    again = run("init", str(folder))
    assert again.exit_code == 1
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert target.read_text(encoding="utf-8") == "# mine\n"  # untouched

    forced = run("init", "--force", "--name", "shop", str(folder))
    assert forced.exit_code == 0
    assert "name: shop" in target.read_text(encoding="utf-8")
    assert run("validate", str(folder)).exit_code == 0


def test_init_with_a_bad_name_is_a_user_error(tmp_path: Path) -> None:
    result = run("init", "--name", "Bad Name", str(tmp_path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert not (tmp_path / "crm.yaml").exists()


@pytest.mark.parametrize("command", [[]] + [[name] for name in sorted(cli.commands)])
def test_help_of_every_command_exits_0(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0 and "crmgen" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["nope"],
        ["validate"],
        ["validate", "--format", "xml", "x.yaml"],
        ["validate", "--nope", "x.yaml"],
        ["schema", "--indent", "two"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert "Usage:" in result.stderr and "Traceback" not in result.output


def _python_m(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crmgen", *args],
        cwd=cwd,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def test_the_real_entry_point_never_shows_a_traceback_for_user_errors(tmp_path: Path) -> None:
    missing = _python_m("validate", "nope.yaml", cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.splitlines()[0] == "nope.yaml:1:1: error: no such file or folder"
    assert "Traceback" not in missing.stderr

    write(tmp_path, "app: [\n")
    broken = _python_m("validate", "app.yaml", cwd=tmp_path)
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert LINE.match(broken.stderr.splitlines()[0])

    usage = _python_m("validate", "--format", "xml", "app.yaml", cwd=tmp_path)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
