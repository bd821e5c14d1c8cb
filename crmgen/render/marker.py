"""The ``.crmgen`` marker in OUT: which files crmgen wrote there, and the sha256 of each.

The marker is JSON: ``generator``, ``version``, ``files`` (every path crmgen owns in OUT, sorted)
and ``sha256`` (path -> hex digest of the bytes written). A file whose bytes no longer match its
digest was edited by hand (``hand_edited``). Migration revisions (``migrations/versions/*.py``)
are the user's once written: they have no digest and are never compared. A marker written before
the digests existed has no ``sha256``: such an OUT has nothing to compare against and is replaced
as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from crmgen import __version__
from crmgen.render.migrations import VERSIONS

MARKER = ".crmgen"


@dataclass(frozen=True)
class Marker:
    """What a previous run recorded in OUT."""

    files: frozenset[str] = frozenset()
    sha256: dict[str, str] = field(default_factory=dict)


def is_revision(path: str) -> bool:
    """A migration revision: the user's once written, never rewritten nor compared."""
    return path.startswith(VERSIONS + "/") and path.endswith(".py")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_marker(out: Path) -> Marker:
    """The marker in ``out``; an empty one when there is none or it cannot be read."""
    try:
        data = json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Marker()
    if not isinstance(data, dict):
        return Marker()
    files = data.get("files", [])
    hashes = data.get("sha256", {})
    files = [f for f in files if _inside(f)] if isinstance(files, list) else []
    hashes = hashes if isinstance(hashes, dict) else {}
    return Marker(
        frozenset(files), {p: h for p, h in hashes.items() if _inside(p) and isinstance(h, str)}
    )


def _inside(path: object) -> bool:
    """A relative path that stays inside OUT (a marker edited to say otherwise is ignored)."""
    return isinstance(path, str) and not Path(path).is_absolute() and ".." not in Path(path).parts


def marker_bytes(root: Path, files: Iterable[str]) -> bytes:
    """The marker for the files under ``root`` (their digests read from the bytes there)."""
    paths = sorted(set(files))
    hashes = {p: digest((root / p).read_bytes()) for p in paths if not is_revision(p)}
    marker = {"generator": "crmgen", "version": __version__, "files": paths, "sha256": hashes}
    return (json.dumps(marker, indent=2) + "\n").encode("utf-8")


def hand_edited(out: Path, marker: Marker) -> list[str]:
    """The files of ``out`` whose bytes differ from the digest the marker recorded, sorted.

    A deleted file is not an edit (regenerating it loses nothing); files without a digest (an old
    marker, migration revisions) are never compared.
    """
    edited = []
    for path, expected in sorted(marker.sha256.items()):
        if is_revision(path):
            continue
        try:
            data = (out / path).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            continue
        if digest(data) != expected:
            edited.append(path)
    return edited
