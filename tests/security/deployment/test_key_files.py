"""Key files stay out of repositories: crmgen's own, and the generated app's.

A development key (``.secret_key``, made by an app run in local development) and the compose
``.env`` hold secrets: they are never tracked, and the ignore files say so.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.security.crm import ROOT, crm_out


def git(*args: str) -> subprocess.CompletedProcess[str]:
    """``git ARGS`` in crmgen's checkout (skips outside one, except under CI=true)."""
    found = shutil.which("git")
    inside = found and subprocess.run(
        [found, "-C", str(ROOT), "rev-parse", "--is-inside-work-tree"],
        capture_output=True,
        check=False,
    )
    if not inside or inside.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("crmgen's tests run in a git checkout under CI")
        pytest.skip("not a git checkout")
    return subprocess.run(
        [found, "-C", str(ROOT), *args], capture_output=True, text=True, check=False
    )


def test_no_key_file_is_tracked_and_git_ignores_them() -> None:
    assert git("ls-files", "--", ".secret_key", "**/.secret_key").stdout == ""
    for path in (".secret_key", "examples/crm/.secret_key", ".env"):
        assert git("check-ignore", "-q", "--no-index", path).returncode == 0, path


def test_the_generated_app_ignores_its_key_file_and_env(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    ignored = (crm_out(tmp_path_factory) / ".gitignore").read_text(encoding="utf-8").split()
    assert {".secret_key", ".env"} <= set(ignored)
