"""The generated apps the test suite shares: each spec generated at most once per test process.

Many test folders need the same pristine app (the reference CRM, the minimal example, ...).
``generated_app(name, tmp_path_factory)`` generates the spec ``name`` of ``SPECS`` on first use
in this test process (an xdist worker, or the whole run without xdist) into the session's temp
folder, and returns the same ``GeneratedApp`` afterwards. The root ``tests/conftest.py`` offers
it as the session fixture ``generated_apps``.

The output is shared: read it, import it, run the app from it with a working folder of its own
and ``PYTHONDONTWRITEBYTECODE=1``, but never change it. A test that writes into OUT (regenerates
over it, edits a file, runs a command whose working folder is OUT) takes its own copy with
``copy_to(path)``.

Imports are fresh and leave ``sys.modules`` as they found it: ``import_modules(*names)`` imports
the modules in one pass (so they share one ``models``) and forgets the package again, so the
module objects are reachable only through what it returns, and a test may change them without
touching another's. ``modules`` is one such pass of ``DEFAULT_MODULES``, made on first use.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

from crmgen.generate import generate
from tests.render.specs import EVERYTHING

ROOT = Path(__file__).resolve().parents[1]


# name -> its spec (a file or a folder): every example by its folder's name (crm, minimal, ...)
# and the test specs below; a test folder may add its own (``SPECS.setdefault``)
EXAMPLES = {
    p.name: p for p in sorted((ROOT / "examples").iterdir()) if p.is_dir() and any(p.glob("*.yaml"))
}
SPECS: dict[str, Path] = {
    **EXAMPLES,
    "hostile": ROOT / "tests" / "hostile" / "spec.yaml",
    "exact": ROOT / "tests" / "backend" / "exact.yaml",
    "plurals": ROOT / "tests" / "backend" / "plurals.yaml",
    "reserved_words": ROOT / "tests" / "backend" / "reserved_words.yaml",
    "shop": ROOT / "tests" / "custom" / "shop",  # with custom code beside the spec
}
# name -> the text of a spec written in a test module (written to a file once per test process)
INLINE_SPECS: dict[str, str] = {
    "every": EVERYTHING,  # every field type and relation kind (tests/render/specs.py)
}
# the modules ``GeneratedApp.modules`` imports (those the API and UI tests drive)
DEFAULT_MODULES = ("app", "models", "processes", "resources", "settings")


@dataclass
class GeneratedApp:
    """One spec generated into ``out`` (shared: never change it; see ``copy_to``)."""

    name: str
    spec: Path
    out: Path
    package: str
    _modules: dict[str, ModuleType] | None = field(default=None, repr=False)

    def copy_to(self, path: Path) -> Path:
        """A private copy of OUT at ``path`` (which must not exist); returns ``path``."""
        shutil.copytree(self.out, path, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        return path

    def import_modules(self, *names: str) -> dict[str, ModuleType]:
        """``PACKAGE.NAME`` for each name, imported afresh in one pass (``import_modules``)."""
        return import_modules(self.out, self.package, *names)

    @property
    def modules(self) -> dict[str, ModuleType]:
        """``DEFAULT_MODULES``, imported on first use (one pass shared by every caller)."""
        if self._modules is None:
            self._modules = self.import_modules(*DEFAULT_MODULES)
        return self._modules

    def __getattr__(self, name: str) -> ModuleType:
        """``app.models``, ``app.resources``, ...: a module of ``modules``."""
        if name.startswith("_") or name not in DEFAULT_MODULES:
            raise AttributeError(name)
        return self.modules[name]


def import_modules(out: Path, package: str, *names: str) -> dict[str, ModuleType]:
    """``package.NAME`` for each name from ``out``, imported afresh in one pass; the package is
    forgotten afterwards (``sys.modules`` and ``sys.path`` are left as they were) and no bytecode
    is written into ``out``. Without names: ``DEFAULT_MODULES``."""
    _forget(package)
    sys.path.insert(0, str(out))
    writes_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        return {
            name: importlib.import_module(f"{package}.{name}") for name in names or DEFAULT_MODULES
        }
    finally:
        sys.dont_write_bytecode = writes_bytecode
        sys.path.remove(str(out))
        _forget(package)


def _forget(package: str) -> None:
    for key in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[key]


_LOCK = threading.Lock()
_APPS: dict[str, GeneratedApp] = {}


def generated_app(name: str, tmp_path_factory: pytest.TempPathFactory) -> GeneratedApp:
    """The spec ``name`` (a key of ``SPECS``), generated on first use in this test process."""
    with _LOCK:
        if name not in _APPS:
            folder = tmp_path_factory.mktemp(f"app_{name}")
            spec = _spec(name, folder)
            if not spec.exists():
                pytest.skip(f"{spec} is not there")
            out = folder / "out"
            generate(spec, out)
            package = next(p.parent.name for p in out.glob("*/app.py"))
            _APPS[name] = GeneratedApp(name, spec, out, package)
        return _APPS[name]


def _spec(name: str, folder: Path) -> Path:
    if name in SPECS:
        return SPECS[name]
    spec = folder / "spec"
    spec.mkdir()
    path = spec / "app.yaml"
    path.write_text(INLINE_SPECS[name], encoding="utf-8")
    return path


class GeneratedApps:
    """The session fixture ``generated_apps``: ``generated_apps("crm")`` is ``generated_app``."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._factory = tmp_path_factory

    def __call__(self, name: str) -> GeneratedApp:
        return generated_app(name, self._factory)
