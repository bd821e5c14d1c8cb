"""Rendering a plan into OUT: all files go to a temporary folder beside OUT, then swap in.

OUT is never half-written: a template error, a syntax error in generated code or a formatter
failure leaves the previous OUT exactly as it was. OUT is replaced only when it is empty or
holds a previous crmgen output (the ``.crmgen`` marker file), so a wrong ``-o`` cannot wipe
someone's project; files the user added to OUT (a database, a virtualenv) are carried over.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

from jinja2 import Environment, TemplateError, TemplateNotFound, TemplateSyntaxError

from crmgen import __version__
from crmgen.render.errors import GenerateError
from crmgen.render.formatting import format_files
from crmgen.render.plan import PlannedFile

MARKER = ".crmgen"


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


def write_plan(
    plan: list[PlannedFile],
    env: Environment,
    out: Path,
    finish: Callable[[Path, Path], list[str]] | None = None,
) -> list[Path]:
    """Render, check and format every planned file, then swap the result into ``out``.

    ``finish(staging, out)``, when given, runs after formatting and before the swap: it may add
    files to the staging folder (returning their relative paths) or raise to leave OUT untouched
    (the migrations step reads the previous OUT and writes new revisions this way).
    """
    out = Path(out).absolute()
    check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.crmgen-", dir=out.parent))
    try:
        written = [_write_one(env, planned, staging) for planned in plan]
        format_files([p for p in written if p.suffix == ".py"], staging)
        extra = finish(staging, out) if finish is not None else []
        _write_marker(staging, plan, extra)
        os.chmod(staging, 0o755)
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted([out / planned.path for planned in plan] + [out / path for path in extra])


def render(env: Environment, planned: PlannedFile) -> str:
    """The text of one planned file; template problems become a located ``GenerateError``."""
    try:
        return env.get_template(planned.template).render(planned.context)
    except TemplateSyntaxError as exc:
        where = f"{exc.filename or exc.name}:{exc.lineno}"
        raise GenerateError(f"{where}: template syntax error: {exc.message}") from exc
    except TemplateNotFound as exc:
        folders = ", ".join(str(p) for p in getattr(env.loader, "searchpath", []))
        raise GenerateError(
            f"template {exc.name!r} not found (looked in {folders}) while rendering {planned.path}"
        ) from exc
    except (TemplateError, GenerateError) as exc:
        raise GenerateError(
            f"{_template_frame(exc, planned)}: {exc} (rendering {planned.path})"
        ) from exc


def _template_frame(exc: BaseException, planned: PlannedFile) -> str:
    """``file:line`` of the innermost template frame in ``exc``'s traceback."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".j2")]
    if frames:
        return f"{frames[-1].filename}:{frames[-1].lineno}"
    return planned.template


def _binary(env: Environment, planned: PlannedFile) -> bytes:
    """The bytes of a binary planned file, from the first template folder that has it."""
    for folder in getattr(env.loader, "searchpath", []):
        source = Path(folder) / planned.template
        if source.is_file():
            return source.read_bytes()
    raise GenerateError(f"template {planned.template!r} not found while copying {planned.path}")


def _write_one(env: Environment, planned: PlannedFile, staging: Path) -> Path:
    target = staging / planned.path
    target.parent.mkdir(parents=True, exist_ok=True)
    if planned.data is not None:
        target.write_bytes(planned.data)
        return target
    if planned.binary:
        target.write_bytes(_binary(env, planned))
        return target
    text = render(env, planned)
    if planned.path.endswith(".py"):
        try:
            compile(text, planned.path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise GenerateError(
                f"{planned.path}:{exc.lineno}: the template {planned.template} produced invalid "
                f"Python: {exc.msg}"
            ) from exc
    target.write_bytes(text.encode("utf-8"))
    return target


def _write_marker(staging: Path, plan: list[PlannedFile], extra: list[str] | None = None) -> None:
    files = sorted({p.path for p in plan} | set(extra or []))
    marker = {"generator": "crmgen", "version": __version__, "files": files}
    (staging / MARKER).write_bytes((json.dumps(marker, indent=2) + "\n").encode("utf-8"))


def _swap(staging: Path, out: Path) -> None:
    """Move ``staging`` to ``out``; a previous ``out`` is kept aside until the move succeeded."""
    if not out.exists():
        os.rename(staging, out)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rename(out, aside / out.name)
    try:
        os.rename(staging, out)
    except BaseException:
        os.rename(aside / out.name, out)
        aside.rmdir()
        raise
    carry_over(aside / out.name, out)
    shutil.rmtree(aside, ignore_errors=True)


def carry_over(old: Path, new: Path) -> None:
    """Move what the user keeps in OUT (a SQLite database, a .venv, notes) into the new OUT.

    Everything the previous marker does not list is the user's, except caches; a user file
    whose path crmgen now generates is kept beside it as ``NAME.user``. Nothing is deleted.
    """
    try:
        listed = set(json.loads((old / MARKER).read_text(encoding="utf-8")).get("files", []))
    except (OSError, ValueError):
        listed = set()
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
