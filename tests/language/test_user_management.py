"""The ``manage_users`` role flag and the warning on User permissions without it (issue 10 item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from crmgen.cli import cli
from crmgen.language import check_spec

SPEC = """\
app: {name: staffing}
roles:
  admin: {superuser: true}
  hr: {label: HR, manage_users: true}
  lead: Team lead
  staff: Staff
entities:
  User:
    fields:
      phone: phone
    permissions:
      hr: all
      lead: {list: all, read: all, update: all}
      staff: read
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_flag_is_in_the_model_and_superusers_imply_it(tmp_path: Path) -> None:
    spec, _ = check_spec(_write(tmp_path, SPEC))
    assert spec is not None
    flags = {role.name: role.manage_users for role in spec.roles}
    assert flags == {"admin": True, "hr": True, "lead": False, "staff": False}


def test_granting_user_changes_without_the_flag_is_a_located_warning(tmp_path: Path) -> None:
    spec, diagnostics = check_spec(_write(tmp_path, SPEC))
    assert spec is not None
    assert [(d.severity, d.code) for d in diagnostics] == [("warning", "user-management")]
    warning = diagnostics[0]
    assert (warning.position.line, warning.position.column) == (13, 7)  # the `lead` permission
    for words in ("lead", "manage_users: true", "e-mail", "roles", "name"):
        assert words in warning.message, words


@pytest.mark.parametrize(
    "rule", ["all", "{create: true}", "{delete: all}", "{update: {where: record.active}}"]
)
def test_every_changing_grant_warns(tmp_path: Path, rule: str) -> None:
    text = SPEC.replace("lead: {list: all, read: all, update: all}", f"lead: {rule}")
    _, diagnostics = check_spec(_write(tmp_path, text))
    assert [d.code for d in diagnostics] == ["user-management"]


def test_the_flag_or_read_only_grants_do_not_warn(tmp_path: Path) -> None:
    text = SPEC.replace("lead: Team lead", "lead: {manage_users: true}")
    spec, diagnostics = check_spec(_write(tmp_path, text))
    assert spec is not None and diagnostics == []
    text = SPEC.replace("lead: {list: all, read: all, update: all}", "lead: read")
    assert check_spec(_write(tmp_path, text))[1] == []


def test_validate_prints_the_warning_and_passes(tmp_path: Path) -> None:
    path = _write(tmp_path, SPEC)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}:13:7: warning: " in result.stderr
