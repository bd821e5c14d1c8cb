"""``crmgen publish`` over generated files changed by hand: the generate stage stops (exit 1, the
files listed, OUT unchanged byte for byte); ``--force`` replaces them and keeps ``FILE.orig``."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.publish.conftest import MINIMAL_SPEC, Published, crmgen, publish, stage, tree_hashes

EDITED = "minimal/resources.py"  # a generated module (any would do)
PINS = "deploy/requirements.txt"  # a publish artefact: in the marker with its digest too


def edited_copy(minimal: Published, tmp_path: Path) -> Path:
    out = tmp_path / "app"
    shutil.copytree(minimal.out, out)
    for path in (EDITED, PINS):
        with (out / path).open("a", encoding="utf-8") as handle:
            handle.write("# added by hand\n")
    return out


def test_a_hand_edit_stops_publish_at_generate(minimal: Published, tmp_path: Path) -> None:
    out = edited_copy(minimal, tmp_path)
    before = tree_hashes(out)
    done = publish(MINIMAL_SPEC, out, "--skip-tests")
    assert done.result.returncode == 1
    assert done.report["failed_stage"] == "generate"
    message = stage(done.report, "generate")["message"]
    assert f"\n  {PINS}\n  {EDITED}\n" in message and "--force" in message
    assert "publish failed at stage 'generate'" in done.result.stderr
    assert tree_hashes(out) == before
    assert not list(tmp_path.glob(".app.*"))


def test_force_publishes_and_keeps_the_edited_copies(minimal: Published, tmp_path: Path) -> None:
    out = edited_copy(minimal, tmp_path)
    edited = {path: (out / path).read_bytes() for path in (EDITED, PINS)}
    done = crmgen("publish", MINIMAL_SPEC, "-o", out, "--skip-tests", "--force", tmp=tmp_path)
    assert done.returncode == 0, done.stderr
    for path, data in edited.items():
        assert (out / f"{path}.orig").read_bytes() == data
        assert (out / path).read_bytes() == (minimal.out / path).read_bytes()
        assert f"the edited copy is kept as {path}.orig" in done.stderr
