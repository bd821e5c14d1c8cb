"""The committed snapshots in ``generated/``: what a fresh ``crmgen generate`` of each example
writes, compared with (``differences``) or written over (``replace``) the committed copy.

A snapshot holds every text file of the output byte for byte. Binary files (not UTF-8, or with a
NUL byte: today the PDF fonts) are left out and listed with their SHA-256 in
``generated/<name>.binaries.sha256`` (the format of ``sha256sum``), so a change to one still
shows in review as a changed line. Caches that running the snapshot's app or tests leaves
behind (``__pycache__`` and the like) are not part of it.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ROOT / "generated"
# name of the snapshot -> the spec it is generated from (the folder given to `crmgen generate`)
EXAMPLES = {
    "crm": ROOT / "examples" / "crm",
    "minimal": ROOT / "examples" / "minimal",
}
REFRESH = "python -m tests.generated.refresh"
# folders that running the app or its tests from a snapshot leaves behind; never compared
CACHES = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"})
DIFF_FILES = 3  # how many differing files a failure shows as a diff
DIFF_LINES = 40  # how many lines of each diff it shows


@dataclass(frozen=True)
class Snapshot:
    """What the snapshot of one output holds: its text files and the manifest of its binaries."""

    texts: dict[str, bytes]
    manifest: str  # "" when the output has no binary file


def is_text(data: bytes) -> bool:
    """UTF-8 without NUL bytes: kept in the snapshot (anything else goes to the manifest)."""
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def files(folder: Path) -> Iterator[tuple[str, Path]]:
    """``(posix relative path, path)`` of every file under ``folder`` outside the caches, sorted."""
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not CACHES.intersection(relative.parts):
            yield relative.as_posix(), path


def snapshot_of(out: Path) -> Snapshot:
    """The snapshot of a generated output folder ``out``."""
    texts: dict[str, bytes] = {}
    binaries: list[str] = []
    for name, path in files(out):
        data = path.read_bytes()
        if is_text(data):
            texts[name] = data
        else:
            binaries.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
    return Snapshot(texts, "".join(binaries))


def manifest_path(name: str, root: Path = SNAPSHOTS) -> Path:
    return root / f"{name}.binaries.sha256"


def committed(name: str, root: Path = SNAPSHOTS) -> Snapshot:
    """The snapshot ``name`` as it is in ``root`` (``generated/``)."""
    folder = root / name
    texts = (
        {relative: path.read_bytes() for relative, path in files(folder)} if folder.is_dir() else {}
    )
    manifest = manifest_path(name, root)
    return Snapshot(texts, manifest.read_text(encoding="utf-8") if manifest.is_file() else "")


def differences(name: str, fresh: Snapshot, root: Path = SNAPSHOTS) -> str:
    """``""`` when the committed snapshot ``name`` is ``fresh``; else a short report: the files
    that differ, a unified diff of the first few, and the command that refreshes the snapshot."""
    old = committed(name, root)
    changed = sorted(
        p for p in fresh.texts.keys() & old.texts.keys() if fresh.texts[p] != old.texts[p]
    )
    added = sorted(fresh.texts.keys() - old.texts.keys())
    removed = sorted(old.texts.keys() - fresh.texts.keys())
    manifest = manifest_path(name, root).name
    if old.manifest != fresh.manifest:
        changed.append(f"../{manifest}")
    if not (changed or added or removed):
        return ""
    lines = [f"generated/{name} is not what `crmgen generate {_spec(name)}` writes now:"]
    lines += [f"  changed: {p}" for p in changed]
    lines += [f"  new (not in the snapshot): {p}" for p in added]
    lines += [f"  gone (no longer generated): {p}" for p in removed]
    for path in (changed + added + removed)[:DIFF_FILES]:
        if path == f"../{manifest}":
            label, before, after = f"generated/{manifest}", old.manifest, fresh.manifest
        else:
            label = f"generated/{name}/{path}"
            before, after = _text(old.texts.get(path)), _text(fresh.texts.get(path))
        lines.append("")
        lines += _diff(label, before, after)
    lines += [
        "",
        f"If the generator changed on purpose: `{REFRESH}`, then review `git diff generated/`",
        "and commit the snapshot with the change.",
    ]
    return "\n".join(lines)


def replace(name: str, fresh_out: Path, root: Path = SNAPSHOTS) -> list[str]:
    """Make the snapshot ``name`` in ``root`` the snapshot of ``fresh_out`` (a new generate);
    the relative paths of the files it wrote or removed. Anything else in the snapshot's folder
    (a stray file, a database) is removed; the caches are left alone."""
    fresh = snapshot_of(fresh_out)
    old = committed(name, root)
    folder = root / name
    touched = []
    for relative in sorted(old.texts.keys() - fresh.texts.keys()):
        (folder / relative).unlink()
        touched.append(relative)
    for relative, data in fresh.texts.items():
        if old.texts.get(relative) != data:
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            touched.append(relative)
    _remove_empty_folders(folder)
    manifest = manifest_path(name, root)
    if fresh.manifest != old.manifest:
        touched.append(f"../{manifest.name}")
    if fresh.manifest:
        manifest.write_text(fresh.manifest, encoding="utf-8")
    else:
        manifest.unlink(missing_ok=True)
    return sorted(touched)


def _remove_empty_folders(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and path.name not in CACHES and not any(path.iterdir()):
            path.rmdir()


def _spec(name: str) -> str:
    return EXAMPLES[name].relative_to(ROOT).as_posix()


def _text(data: bytes | None) -> str:
    return "" if data is None else data.decode("utf-8", errors="replace")


def _diff(label: str, before: str, after: str) -> list[str]:
    diff = list(
        difflib.unified_diff(
            before.splitlines(),
            after.splitlines(),
            f"{label} (committed)",
            f"{label} (generated now)",
            n=2,
            lineterm="",
        )
    )
    if not diff:
        return [f"{label}: differs in line endings or bytes that do not show as text"]
    if len(diff) > DIFF_LINES:
        diff = diff[:DIFF_LINES] + [f"... ({len(diff) - DIFF_LINES} more lines of this diff)"]
    return diff
