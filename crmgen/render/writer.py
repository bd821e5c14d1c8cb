"""Writing the generated app into OUT: every file goes to a staging folder beside OUT, then swaps in.

``Staging`` is the one way ``crmgen generate``, ``crmgen serve`` and ``crmgen publish`` write OUT::

    with Staging.stage(out) as staging:   # checks OUT, makes the folder beside it
        staging.render(env, plan)         # planned files (Python syntax-checked)
        staging.format()                  # the rendered Python, black-clean
        staging.add(path, data)           # or staging.include(paths) written by other tools
        staging.swap()                    # the marker with digests, then one rename into OUT

OUT is never half-written: a template error, a syntax error in generated code or a formatter
failure leaves the previous OUT exactly as it was (leaving the ``with`` block without a swap
removes the staging folder). OUT is replaced only when it is empty or holds a previous crmgen
output (the ``.crmgen`` marker file), so a wrong ``-o`` cannot wipe someone's project; files the
user added to OUT (a database, a virtualenv) are carried over. Generated files changed by hand
since they were written stop the run (``HandEdited``) unless the policy says otherwise.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from jinja2 import Environment

from crmgen.render.errors import GenerateError, HandEdited
from crmgen.render.formatting import format_files
from crmgen.render.marker import MARKER, Marker, hand_edited, marker_bytes, read_marker
from crmgen.render.planned import PlannedFile, produce

__all__ = ["MARKER", "HandEditPolicy", "Staging", "Swapped", "carry_over", "check_out"]

HandEditPolicy = Literal["stop", "keep", "replace"]
"""Generated files changed by hand in OUT: ``stop`` (raise ``HandEdited``, OUT unchanged),
``keep`` (``--force``: replace them, each edited copy kept beside as ``FILE.orig``) or
``replace`` (``crmgen serve``'s cache folder, crmgen's own: replaced, no copy kept)."""


def check_out(out: Path) -> None:
    """Refuse an OUT that is a file, or a non-empty folder crmgen did not write."""
    if not out.exists():
        return
    if not out.is_dir():
        raise GenerateError(f"{out} exists and is not a folder; choose another output folder")
    if (out / MARKER).is_file():
        return
    if any(out.iterdir()):
        raise GenerateError(
            f"{out} is not empty and was not written by crmgen (no {MARKER} file); "
            "refusing to replace it: choose an empty or new output folder"
        )


@dataclass(frozen=True)
class Swapped:
    """What a swap did: every file crmgen now owns in OUT, and the edited copies it kept."""

    files: list[Path]
    kept: dict[str, str]  # edited file -> its kept copy (relative paths), policy ``keep``


class Staging:
    """A folder beside OUT that collects the generated files and replaces OUT in one swap."""

    def __init__(self, out: Path, root: Path, hand_edits: HandEditPolicy) -> None:
        self.out = out
        self.root = root
        self.hand_edits = hand_edits
        self.swapped = False
        self._files: set[str] = set()
        self._python: list[Path] = []

    @classmethod
    def stage(cls, out: Path, hand_edits: HandEditPolicy = "stop") -> Staging:
        """Check OUT (crmgen's or empty; no hand edits under ``stop``) and make the folder."""
        out = Path(out).absolute()
        check_out(out)
        if hand_edits == "stop":
            _stop_on_hand_edits(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix=f".{out.name}.crmgen-", dir=out.parent))
        return cls(out, root, hand_edits)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.discard()

    @property
    def files(self) -> list[str]:
        """The paths (relative to OUT) staged so far, sorted."""
        return sorted(self._files)

    @property
    def python_files(self) -> list[Path]:
        """The rendered Python files, which ``format`` formats."""
        return list(self._python)

    def render(self, env: Environment, plan: Iterable[PlannedFile]) -> list[Path]:
        """Render each planned file into the folder; returns their paths there."""
        written = [self.add(planned.path, produce(env, planned)) for planned in plan]
        self._python += [path for path in written if path.suffix == ".py"]
        return written

    def add(self, path: str, data: bytes) -> Path:
        """Write ``data`` as ``path`` (relative to OUT); crmgen owns it from now on."""
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self._files.add(path)
        return target

    def include(self, paths: Iterable[str]) -> None:
        """Own files other tools wrote into the folder (migrations, the wheel builder)."""
        self._files.update(paths)

    def format(self) -> str:
        """Format the rendered Python files; returns the formatter used."""
        return format_files(self._python, self.root)

    def swap(self) -> Swapped:
        """Write the marker (with digests) and replace OUT with the folder.

        OUT is compared with its marker again here, so a hand edit made while this run worked
        is not lost either.
        """
        for cache in sorted(self.root.rglob("__pycache__")):
            shutil.rmtree(cache)
        previous = read_marker(self.out) if self.out.is_dir() else Marker()
        edited = hand_edited(self.out, previous) if self.hand_edits != "replace" else []
        if edited and self.hand_edits == "stop":
            raise HandEdited(self.out, edited)
        (self.root / MARKER).write_bytes(marker_bytes(self.root, self._files))
        os.chmod(self.root, 0o755)
        kept = _swap(self.root, self.out, edited)
        self.swapped = True
        return Swapped(sorted(self.out / path for path in self._files), kept)

    def discard(self) -> None:
        """Remove the folder unless it was swapped in (a failed run leaves OUT as it was)."""
        if not self.swapped:
            shutil.rmtree(self.root, ignore_errors=True)


def _stop_on_hand_edits(out: Path) -> None:
    if out.is_dir():
        edited = hand_edited(out, read_marker(out))
        if edited:
            raise HandEdited(out, edited)


def _swap(staging: Path, out: Path, edited: list[str]) -> dict[str, str]:
    """Move ``staging`` to ``out``; a previous ``out`` is kept aside until the move succeeded.

    Returns the ``edited`` files of the previous ``out``, moved beside the new ones as
    ``FILE.orig``, with the name each got.
    """
    if not out.exists():
        os.rename(staging, out)
        return {}
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rename(out, aside / out.name)
    try:
        os.rename(staging, out)
    except BaseException:
        os.rename(aside / out.name, out)
        aside.rmdir()
        raise
    carry_over(aside / out.name, out)
    kept = {path: _keep(aside / out.name / path, out, path) for path in edited}
    shutil.rmtree(aside, ignore_errors=True)
    return kept


def _keep(source: Path, out: Path, path: str) -> str:
    """Move an edited file beside its new version as ``FILE.orig`` (``.orig.2``... when taken)."""
    name, number = f"{path}.orig", 1
    while (out / name).exists():
        number += 1
        name = f"{path}.orig.{number}"
    (out / name).parent.mkdir(parents=True, exist_ok=True)
    os.rename(source, out / name)
    return name


def carry_over(old: Path, new: Path) -> None:
    """Move what the user keeps in OUT (a SQLite database, a .venv, notes) into the new OUT.

    Everything the previous marker does not list is the user's, except caches; a user file
    whose path crmgen now generates is kept beside it as ``NAME.user``. Nothing is deleted.
    """
    listed = set(read_marker(old).files)
    parents = {str(Path(f).parent) for f in listed} | {
        str(p) for f in listed for p in Path(f).parents
    }
    for folder, dirs, files in os.walk(old, topdown=True):
        here = Path(folder).relative_to(old)
        keep_walking = []
        for name in dirs:
            rel = here / name
            if name == "__pycache__":
                continue
            if str(rel) in parents:
                keep_walking.append(name)  # holds generated files: look inside
            else:
                _move(old / rel, new / rel)
        dirs[:] = keep_walking
        for name in files:
            rel = here / name
            if str(rel) in listed or str(rel) == MARKER or name.endswith(".pyc"):
                continue
            _move(old / rel, new / rel)


def _move(source: Path, target: Path) -> None:
    if target.exists():
        target = target.with_name(target.name + ".user")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(source, target)
