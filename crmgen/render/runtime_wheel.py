"""The runtime's wheel, which every generated app carries in ``wheels/``.

An app depends on ``crmgen-runtime`` at crmgen's version; the runtime is not on any registry, so
the app ships its wheel and installs offline (``pip install OUT`` finds it through the path its
``pyproject.toml`` names; the image installs it with ``--find-links``). The wheel is built from the
runtime's source (``runtime/`` in a checkout, bundled inside crmgen's own wheel otherwise) once
per content: the cache holds one wheel per hash of the source, so generating again costs a hash.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from functools import cache
from pathlib import Path

from crmgen import __version__
from crmgen.bundled import runtime_dir
from crmgen.cache import cache_root
from crmgen.render.errors import GenerateError

DISTRIBUTION = "crmgen-runtime"
WHEEL_NAME = f"crmgen_runtime-{__version__}-py3-none-any.whl"
# The path of the wheel inside OUT.
OUT_PATH = f"wheels/{WHEEL_NAME}"
_SOURCES = ("pyproject.toml", "README.md", "crmgen_runtime")


def requirement() -> str:
    """The app's dependency on the runtime: exactly crmgen's version."""
    return f"{DISTRIBUTION}=={__version__}"


def source_files(source: Path) -> list[Path]:
    """The files the wheel is built from, sorted (no caches or compiled files)."""
    files: list[Path] = []
    for name in _SOURCES:
        path = source / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [
                p
                for p in path.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
            ]
    return sorted(files)


def content_hash(source: Path) -> str:
    """A hash of every source file's path and bytes: the wheel's cache key."""
    digest = hashlib.sha256()
    for path in source_files(source):
        digest.update(path.relative_to(source).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_folder() -> Path:
    """Where the wheels are kept: ``<crmgen's cache>/runtime-wheels/<hash>/``."""
    return cache_root() / "runtime-wheels"


def wheel_bytes() -> bytes:
    """The runtime wheel's bytes, built or found in the cache."""
    return _wheel_bytes(content_hash(runtime_dir()))


@cache
def _wheel_bytes(key: str) -> bytes:
    return wheel_path(key).read_bytes()


def wheel_path(key: str | None = None) -> Path:
    """The cached wheel of the runtime's current source (built when missing)."""
    source = runtime_dir()
    key = key or content_hash(source)
    target = cache_folder() / key / WHEEL_NAME
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Built in a private folder, then renamed into place: parallel generates never see half a wheel.
    with tempfile.TemporaryDirectory(prefix=".build-", dir=target.parent) as building:
        built = _build(source, Path(building))
        os.replace(built, target)
    return target


def _build(source: Path, dist: Path) -> Path:
    try:
        from hatchling.builders.wheel import WheelBuilder
    except ImportError as exc:  # a dependency of crmgen: only a broken install lacks it
        raise GenerateError(
            "building the runtime's wheel needs hatchling: pip install hatchling"
        ) from exc
    # The builder reads the project in place; a copy keeps its caches out of the source folder.
    project = dist / "project"
    for path in source_files(source):
        copy = project / path.relative_to(source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
    try:
        built = list(WheelBuilder(str(project)).build(directory=str(dist), versions=["standard"]))
    except Exception as exc:
        raise GenerateError(
            f"building the runtime's wheel failed: {type(exc).__name__}: {exc}"
        ) from exc
    return Path(built[0])
