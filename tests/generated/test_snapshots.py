"""The committed snapshots in ``generated/`` are what the generator writes now.

Each example is generated afresh and compared with its snapshot; any difference fails with the
differing files, a short diff of the first few and the refresh command. The output is the shared
once-per-process one (``tests/generated_apps.py``), so a test process that ran other tests of the
same example generates nothing here. The mechanism itself (comparison, refresh) is proven on small trees.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.generated.refresh import main as refresh
from tests.generated.snapshots import (
    EXAMPLES,
    REFRESH,
    Snapshot,
    differences,
    manifest_path,
    replace,
    snapshot_of,
)
from tests.generated_apps import generated_app

FONT = b"\x00\x01\x00\x00 a binary font"


def fresh_output(name: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``name`` generated in this test process (the shared ``tests/generated_apps.py``)."""
    app = generated_app(name, tmp_path_factory)
    assert app.spec == EXAMPLES[name], f"{name}: the shared app is not made from {EXAMPLES[name]}"
    return app.out


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_snapshot_is_what_generate_writes_now(
    name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    report = differences(name, snapshot_of(fresh_output(name, tmp_path_factory)))
    if report:
        pytest.fail(report, pytrace=False)


# --- the mechanism, on small trees -----------------------------------------------------------


def tree(folder: Path, files: dict[str, bytes]) -> Path:
    for relative, data in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def test_binaries_are_listed_by_hash_and_caches_are_left_out(tmp_path: Path) -> None:
    out = tree(
        tmp_path / "out",
        {
            "app/models.py": b"x = 1\n",
            "app/fonts/Sans.ttf": FONT,
            "app/__pycache__/models.cpython-311.pyc": b"\x00cache",
            "README.md": "Эталонная CRM\n".encode(),
        },
    )
    assert snapshot_of(out) == Snapshot(
        {"README.md": "Эталонная CRM\n".encode(), "app/models.py": b"x = 1\n"},
        f"{hashlib.sha256(FONT).hexdigest()}  app/fonts/Sans.ttf\n",
    )


def test_a_difference_shows_the_files_a_diff_and_the_refresh_command(tmp_path: Path) -> None:
    snapshots = tmp_path / "generated"
    tree(snapshots / "crm", {"app/models.py": b"x = 1\ny = 2\n", "app/old.py": b"pass\n"})
    manifest_path("crm", snapshots).write_text("0" * 64 + "  app/fonts/Sans.ttf\n")
    out = tree(
        tmp_path / "out",
        {"app/models.py": b"x = 1\ny = 3\n", "app/new.py": b"pass\n", "app/fonts/Sans.ttf": FONT},
    )
    report = differences("crm", snapshot_of(out), snapshots)
    assert "  changed: app/models.py" in report
    assert "  changed: ../crm.binaries.sha256" in report
    assert "  new (not in the snapshot): app/new.py" in report
    assert "  gone (no longer generated): app/old.py" in report
    assert "-y = 2\n+y = 3" in report
    assert REFRESH in report


def test_replace_makes_the_snapshot_current_and_keeps_the_caches(tmp_path: Path) -> None:
    snapshots = tmp_path / "generated"
    tree(
        snapshots / "crm",
        {
            "app/models.py": b"x = 1\n",
            "gone/old.py": b"pass\n",
            "app/stray.sqlite3": b"SQLite format 3\x00",
            "app/__pycache__/models.cpython-311.pyc": b"\x00cache",
        },
    )
    out = tree(tmp_path / "out", {"app/models.py": b"x = 2\n", "app/fonts/Sans.ttf": FONT})
    touched = replace("crm", out, snapshots)
    assert touched == [
        "../crm.binaries.sha256",
        "app/models.py",
        "app/stray.sqlite3",
        "gone/old.py",
    ]
    assert differences("crm", snapshot_of(out), snapshots) == ""
    assert not (snapshots / "crm" / "gone").exists()
    assert (snapshots / "crm" / "app" / "__pycache__" / "models.cpython-311.pyc").is_file()
    assert replace("crm", out, snapshots) == []


def test_refresh_refuses_an_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        refresh(["nonesuch"])
    assert exit_info.value.code == 2
    assert "no snapshot named nonesuch" in capsys.readouterr().err
