"""crmgen's test environment can run what it generates: every dependency of the generated app
(and of its own test extra) is a dependency or test extra of crmgen too."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_generated_app_dependencies_are_installed_with_crmgens_test_extra(
    minimal_out: Path,
) -> None:
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    available = _names(ours["dependencies"]) | _names(ours["optional-dependencies"]["test"])
    theirs = tomllib.loads((minimal_out / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    needed = _names(theirs["dependencies"]) | _names(theirs["optional-dependencies"]["test"])
    assert needed - available == set()
