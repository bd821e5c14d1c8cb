"""Hand edits are never lost silently: the marker's digests, ``generate`` stopping (exit 1, the
files listed, OUT unchanged byte for byte), ``--force`` keeping ``FILE.orig``, migration revisions
left alone, an old marker without digests, user files, and ``crmgen serve``'s cache policy."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import crmgen
from crmgen.cli import cli
from crmgen.render import HandEdited, Staging, build_plan, make_environment
from crmgen.render.marker import MARKER
from crmgen.serve import Server
from tests.render.specs import MINIMAL

EDITED = "minimal/resources.py"  # a generated module (any would do)
EDIT = "# a line added by hand\n"


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder``, hidden ones included, by relative path."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def generate(out: Path, *options: str) -> Result:
    return CliRunner().invoke(cli, ["generate", str(MINIMAL), "-o", str(out), *options])


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pristine") / "out"
    assert generate(out).exit_code == 0
    return out


@pytest.fixture
def out(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(pristine, copy)
    return copy


def append(path: Path, text: str = EDIT) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def test_the_marker_records_the_digest_of_each_generated_file(out: Path) -> None:
    marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    revisions = [f for f in marker["files"] if f.startswith("migrations/versions/")]
    assert revisions and not set(revisions) & set(marker["sha256"])
    assert set(marker["sha256"]) == set(marker["files"]) - set(revisions)
    for path, digest in marker["sha256"].items():
        assert hashlib.sha256((out / path).read_bytes()).hexdigest() == digest, path


def test_a_hand_edit_stops_generate_and_leaves_out_byte_for_byte(out: Path) -> None:
    append(out / EDITED)
    (out / "README.md").write_text("mine now\n", encoding="utf-8")
    before = tree(out)
    result = generate(out)
    assert result.exit_code == 1
    listed = [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]
    assert listed == ["README.md", EDITED]  # relative paths, sorted
    assert "custom/" in result.stderr and "docs/extending.md" in result.stderr
    assert "--force" in result.stderr and "Traceback" not in result.output
    assert tree(out) == before
    assert not list(out.parent.glob(".out.*"))  # no staging folder left beside OUT


def test_force_replaces_and_keeps_the_edited_copy(out: Path, pristine: Path) -> None:
    append(out / EDITED)
    edited = (out / EDITED).read_bytes()
    result = generate(out, "--force")
    assert result.exit_code == 0, result.output
    assert f"{EDITED} was changed by hand" in result.stderr and f"{EDITED}.orig" in result.stderr
    assert (out / f"{EDITED}.orig").read_bytes() == edited
    assert (out / EDITED).read_bytes() == (pristine / EDITED).read_bytes()
    assert generate(out).exit_code == 0  # the .orig copy is the user's now, not an edit
    append(out / EDITED, "# again\n")
    assert generate(out, "--force").exit_code == 0
    assert (out / f"{EDITED}.orig").read_bytes() == edited  # an earlier copy is never overwritten
    assert (out / f"{EDITED}.orig.2").read_bytes().endswith(b"# again\n")


def test_an_edited_migration_revision_is_kept_and_does_not_stop(out: Path) -> None:
    (revision,) = (out / "migrations" / "versions").glob("0001_*.py")
    append(revision, "# tuned by hand\n")
    edited = revision.read_bytes()
    result = generate(out)
    assert result.exit_code == 0, result.output
    assert revision.read_bytes() == edited
    assert not list(out.rglob("*.orig"))


def test_a_deleted_generated_file_is_written_again_silently(out: Path, pristine: Path) -> None:
    (out / EDITED).unlink()
    assert generate(out).exit_code == 0
    assert (out / EDITED).read_bytes() == (pristine / EDITED).read_bytes()


def test_an_old_marker_without_digests_is_accepted(out: Path, pristine: Path) -> None:
    marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    del marker["sha256"]  # as crmgen 0.3 wrote it
    (out / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    append(out / EDITED)
    result = generate(out)
    assert result.exit_code == 0, result.output
    assert tree(out) == tree(pristine)  # regenerated, and the marker has digests again


def test_a_file_the_user_added_survives(out: Path) -> None:
    (out / "minimal" / "mine.py").write_text("X = 1\n", encoding="utf-8")
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    assert generate(out).exit_code == 0
    assert (out / "minimal" / "mine.py").read_text(encoding="utf-8") == "X = 1\n"
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine\n"


def test_an_edit_made_while_generating_is_found_at_the_swap(out: Path) -> None:
    spec = crmgen.load(MINIMAL)
    with Staging.stage(out) as staging:
        staging.render(make_environment(), build_plan(spec))
        append(out / EDITED)  # after the check at the start, before the swap
        before = tree(out)
        with pytest.raises(HandEdited) as raised:
            staging.swap()
    assert raised.value.files == [EDITED]
    assert tree(out) == before
    assert not list(out.parent.glob(".out.*"))


def test_serve_replaces_hand_edits_in_its_own_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The serve cache is crmgen's: a regeneration replaces an edit there, keeping no copy."""
    monkeypatch.setenv("CRMGEN_CACHE", str(tmp_path / "cache"))
    lines: list[str] = []
    database = f"sqlite:///{tmp_path / 'serve.sqlite3'}"  # not the cache's default: no seeding
    server = Server(MINIMAL, database=database, echo=lines.append, worker=False)
    assert server.build(), lines
    generated = (server.out / EDITED).read_bytes()
    append(server.out / EDITED)
    assert server.build(), lines
    assert (server.out / EDITED).read_bytes() == generated
    assert not list(server.out.rglob("*.orig"))
