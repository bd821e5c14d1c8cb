"""docs/import-jdl.md's worked example stays true: its JDL converts into its YAML, and the
command prints its output block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from crmgen.cli import cli

PAGE = Path(__file__).resolve().parents[2] / "docs" / "import-jdl.md"


def block(lang: str) -> str:
    match = re.search(rf"```{lang}\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)
    assert match, f"no {lang} block in {PAGE.name}"
    return match.group(1)


def test_the_worked_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("shop.jdl").write_text(block("jdl"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", "jdl", "shop.jdl", "-o", "shop"])
    assert result.exit_code == 0, result.output
    assert result.output == block("text")
    assert Path("shop/crm.yaml").read_text(encoding="utf-8") == block("yaml")
