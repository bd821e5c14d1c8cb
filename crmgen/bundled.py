"""Where crmgen's bundled data lives: inside the wheel, or beside the package in a checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def _data_dir(name: str) -> Path:
    bundled = _PACKAGE / "_data" / name
    if bundled.is_dir():
        return bundled
    return _PACKAGE.parent / name


def templates_dir() -> Path:
    return _data_dir("templates")


def specs_dir() -> Path:
    return _data_dir("specs")


def runtime_dir() -> Path:
    """The runtime library's project folder (``runtime/``): the source of its wheel."""
    return _data_dir("runtime")
