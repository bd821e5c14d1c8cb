"""``crmgen.generate()``: deterministic output, black-clean Python, a safe swap into OUT, and
template overrides searched first (a broken one fails clearly and leaves OUT as it was)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crmgen.generate import generate
from crmgen.render import GenerateError
from crmgen.render.writer import MARKER
from tests.generated_apps import import_modules
from tests.render.conftest import import_models, write_spec
from tests.render.specs import MINIMAL


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_minimal_app_files(minimal_out: Path) -> None:
    files = set(snapshot(minimal_out))
    assert {
        MARKER,
        "README.md",
        "pyproject.toml",
        "minimal/__init__.py",
        "minimal/models.py",
    } <= files
    assert all(not f.endswith(".tmp") for f in files)
    marker = json.loads((minimal_out / MARKER).read_text())
    assert marker["generator"] == "crmgen" and "minimal/models.py" in marker["files"]


def test_regeneration_is_byte_identical(every_spec: Path, every_out: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    written = generate(every_spec, again)
    assert written == sorted(written) and all(p.is_file() for p in written)
    assert snapshot(again) == snapshot(every_out)
    generate(every_spec, again)  # over a previous output: replaced, same bytes
    assert snapshot(again) == snapshot(every_out)


def test_generated_python_is_black_clean(minimal_out: Path, every_out: Path) -> None:
    for out in (minimal_out, every_out):
        done = subprocess.run(
            [sys.executable, "-m", "black", "--check", "--quiet", "."],
            cwd=out,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr


def test_generated_settings_read_the_environment(minimal_out: Path) -> None:
    settings = import_modules(minimal_out, "minimal", "settings")["settings"]
    assert settings.load_settings({}).database_url == "sqlite:///minimal.sqlite3"
    url = settings.load_settings({"DATABASE_URL": "postgresql://u@h/db"}).database_url
    assert url == "postgresql+psycopg://u@h/db"


def test_an_empty_out_folder_is_used(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    generate(MINIMAL, out)
    assert (out / "minimal" / "models.py").is_file()


def test_a_foreign_non_empty_out_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "project"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(GenerateError, match="not written by crmgen"):
        generate(MINIMAL, out)
    assert snapshot(out) == {"precious.txt": b"keep me"}
    file_out = tmp_path / "file"
    file_out.write_text("x")
    with pytest.raises(GenerateError, match="not a folder"):
        generate(MINIMAL, file_out)


def _override(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "overrides"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_an_override_replaces_only_its_own_files(minimal_out: Path, tmp_path: Path) -> None:
    folder = _override(tmp_path, {"backend/README.md.j2": "# {{ app.title|tr }} (custom)\n"})
    out = tmp_path / "out"
    generate(MINIMAL, out, templates=folder)
    assert (out / "README.md").read_text() == "# Minimal CRM (custom)\n"
    assert (out / "minimal/models.py").read_bytes() == (
        minimal_out / "minimal/models.py"
    ).read_bytes()


@pytest.mark.parametrize(
    ("template", "text", "message"),
    [
        ("backend/models.py.j2", "{% if %}\n", r"models\.py\.j2:1: template syntax error"),
        (
            "backend/models.py.j2",
            "x = {{ nothing.here }}\n",
            r"models\.py\.j2:1: .*'nothing' is undefined",
        ),
        ("backend/settings.py.j2", "def broken(:\n", r"settings\.py:1: .* produced invalid Python"),
        (
            "backend/__init__.py.j2",
            "{{ 'bad name'|ident }}\n",
            r"__init__\.py\.j2:1: .*not a valid Python identifier",
        ),
        (
            "backend/README.md.j2",
            "{% include 'backend/missing.j2' %}\n",
            r"'backend/missing\.j2' not found",
        ),
    ],
)
def test_a_broken_override_fails_clearly_and_keeps_out(
    minimal_out: Path, tmp_path: Path, template: str, text: str, message: str
) -> None:
    out = tmp_path / "out"
    generate(MINIMAL, out)
    before = snapshot(out)
    folder = _override(tmp_path, {template: text})
    with pytest.raises(GenerateError, match=message):
        generate(MINIMAL, out, templates=folder)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "overrides"]  # no leftovers


def test_a_missing_override_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(GenerateError, match="does not exist"):
        generate(MINIMAL, tmp_path / "out", templates=tmp_path / "nope")


def test_spec_strings_never_reach_code_raw(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path / "spec",
        (
            'app: {name: quoted, title: "T\\"\\"\\"\'\\n{{ 1 }}\\\\"}\n'
            "roles: {staff: Staff}\n"
            "entities:\n"
            "  Note:\n"
            '    label: "\\"\\"\\" ) ; import os #"\n'
            "    fields:\n"
            "      body: {type: text, label: \"'''\\\\\\n{% raw %}\"}\n"
        ),
    )
    out = tmp_path / "out"
    generate(spec, out)
    models = import_models(out, "quoted")
    assert models.Note.__doc__ == '""" ) ; import os #.'
    assert models.Note.__table__.c.body.comment == "'''\\ {% raw %}"


def test_regeneration_keeps_the_users_own_files(tmp_path: Path) -> None:
    """A database, a .venv or notes the user put in OUT survive regeneration; caches do not."""
    out = tmp_path / "out"
    generate(MINIMAL, out)
    (out / "minimal.sqlite3").write_bytes(b"data")
    (out / ".venv" / "bin").mkdir(parents=True)
    (out / ".venv" / "bin" / "python").write_text("#!", encoding="utf-8")
    (out / "minimal" / "notes.txt").write_text("mine", encoding="utf-8")
    (out / "minimal" / "__pycache__").mkdir()
    (out / "minimal" / "__pycache__" / "models.cpython-311.pyc").write_bytes(b"x")
    (out / "README.md").write_text("edited by hand", encoding="utf-8")
    generate(MINIMAL, out, force=True)  # without --force a hand edit stops (test_hand_edits.py)
    assert (out / "minimal.sqlite3").read_bytes() == b"data"
    assert (out / ".venv" / "bin" / "python").read_text(encoding="utf-8") == "#!"
    assert (out / "minimal" / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert not (out / "minimal" / "__pycache__").exists()
    assert (out / "README.md").read_text(encoding="utf-8") != "edited by hand"  # generated again
    assert (out / "README.md.orig").read_text(encoding="utf-8") == "edited by hand"
    assert not list(tmp_path.glob(".out.*"))  # nothing left beside OUT
