"""Formatting generated Python: ``ruff format`` (a dependency of crmgen), else black's API.

Both are run with the same settings the generated ``pyproject.toml`` declares, isolated from any
configuration found above OUT, so the output does not depend on where it is written.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

from crmgen.render.errors import GenerateError

LINE_LENGTH = 88
TARGET = "py311"


def ruff_executable() -> str | None:
    """The ``ruff`` binary on PATH or inside the installed ``ruff`` package, or None."""
    found = shutil.which("ruff")
    if found:
        return found
    if importlib.util.find_spec("ruff") is not None:
        try:
            from ruff.__main__ import find_ruff_bin  # type: ignore[import-not-found]

            return str(find_ruff_bin())
        except (ImportError, FileNotFoundError):
            return None
    return None


def format_files(paths: list[Path], root: Path) -> str:
    """Format ``paths`` in place; returns the formatter used ("ruff" or "black")."""
    if not paths:
        return "none"
    ruff = ruff_executable()
    if ruff is not None:
        _ruff(ruff, paths, root)
        return "ruff"
    _black(paths, root)
    return "black"


def _ruff(ruff: str, paths: list[Path], root: Path) -> None:
    """Drop the imports a module does not use (a template imports what any spec may need) and
    sort the rest (isort's rules: the runtime and other libraries, then the app's own package),
    then format."""
    files = [str(p.relative_to(root)) for p in paths]
    sort = [ruff, "check", "--isolated", "--no-cache", "--quiet", "--select", "I,F401", "--fix"]
    sort += ["--exit-zero"]  # what is left to say (none: both are fixed) is not a failure
    sort += ["--line-length", str(LINE_LENGTH), "--target-version", TARGET, "--", *files]
    done = subprocess.run(sort, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        raise GenerateError(f"ruff could not sort the generated code's imports: {detail}")
    command = [
        ruff,
        "format",
        "--isolated",
        "--no-cache",
        "--quiet",
        "--line-length",
        str(LINE_LENGTH),
        "--target-version",
        TARGET,
        "--",
    ]
    command += files
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        raise GenerateError(f"ruff format failed on the generated code: {detail}")


def _black(paths: list[Path], root: Path) -> None:
    try:
        import black
    except ImportError:
        raise GenerateError("formatting needs ruff (or black): pip install ruff") from None

    mode = black.Mode(line_length=LINE_LENGTH, target_versions={black.TargetVersion.PY311})
    for path in paths:
        source = path.read_text(encoding="utf-8")
        try:
            formatted = black.format_str(source, mode=mode)
        except black.parsing.InvalidInput as exc:
            raise GenerateError(f"{path.relative_to(root)}: black cannot format it: {exc}") from exc
        if formatted != source:
            path.write_bytes(formatted.encode("utf-8"))
