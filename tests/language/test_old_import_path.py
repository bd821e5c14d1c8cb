"""The layer's old import path, ``crmgen.spec``, works for one release (crmgen/spec/__init__.py).

The old names give the new module objects themselves, and an import of the old path warns with
the new one. Nothing else in crmgen or its tests imports the old path (pytest turns warnings
into errors).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import crmgen
import crmgen.language
from crmgen.language import model

ROOT = Path(__file__).resolve().parents[2]

# crmgen/spec/ when it was renamed (0.4.0)
OLD_MODULES = (
    "build_app",
    "build_documents",
    "build_entities",
    "build_processes",
    "build_steps",
    "build_ui",
    "context",
    "cron",
    "expressions",
    "fields",
    "integrations",
    "model",
    "names",
    "schema",
    "schema_errors",
    "sources",
    "steps",
    "text",
    "user_management",
    "yaml_loader",
)


def _forget_old_path() -> None:
    for name in [n for n in sys.modules if n == "crmgen.spec" or n.startswith("crmgen.spec.")]:
        del sys.modules[name]
    if "spec" in vars(crmgen):
        delattr(crmgen, "spec")


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    """Each test imports the old path for the first time, and leaves no alias behind."""
    _forget_old_path()
    yield
    _forget_old_path()


def test_the_old_package_is_the_new_one_and_warns() -> None:
    with pytest.warns(DeprecationWarning, match=r"crmgen\.spec .*import crmgen\.language instead"):
        old = importlib.import_module("crmgen.spec")
    assert old is crmgen.language
    assert old.load_spec is crmgen.language.load_spec


@pytest.mark.parametrize("name", OLD_MODULES)
def test_every_old_module_is_the_new_module_and_warns(name: str) -> None:
    new = importlib.import_module(f"crmgen.language.{name}")
    with pytest.warns(DeprecationWarning, match=r"import crmgen\.language instead"):
        old = importlib.import_module(f"crmgen.spec.{name}")
    assert old is new
    assert sys.modules[f"crmgen.spec.{name}"] is new
    # the module keeps its own identity for the import system
    assert new.__name__ == new.__spec__.name == f"crmgen.language.{name}"


def test_old_names_give_the_same_objects() -> None:
    with pytest.warns(DeprecationWarning, match=r"crmgen\.spec\.steps is crmgen\.language\.steps"):
        from crmgen.spec.model import Spec
    from crmgen.spec.steps import REGISTRY  # warned once, with the first import

    assert Spec is model.Spec is crmgen.Spec
    assert REGISTRY is importlib.import_module("crmgen.language.steps").REGISTRY


def test_old_modules_do_not_hide_what_the_package_exports() -> None:
    """``crmgen.language.build_app`` is a function the package exports, like before the rename."""
    exported = {name: getattr(crmgen.language, name) for name in dir(crmgen.language)}
    with pytest.warns(DeprecationWarning):
        importlib.import_module("crmgen.spec")
    for name in OLD_MODULES:  # warned once already: these are silent
        importlib.import_module(f"crmgen.spec.{name}")
    assert {name: getattr(crmgen.language, name) for name in dir(crmgen.language)} == exported
    assert callable(crmgen.language.build_app)


def test_a_module_that_never_existed_is_not_found() -> None:
    with pytest.warns(DeprecationWarning), pytest.raises(ModuleNotFoundError):
        importlib.import_module("crmgen.spec.no_such_module")


PLUGIN = '''\
"""A step plugin written for crmgen 0.3, against the old import path."""
from crmgen.spec.steps import TEMPLATE, StepKind, obj

PING = StepKind(
    name="ping",
    summary="ping someone",
    schema=obj(("text",), text=TEMPLATE),
    build=lambda step, at: None,
)
'''


def test_a_plugin_on_the_old_path_still_registers(tmp_path: Path) -> None:
    """Run as users run it: a subprocess where the plugin is installed (a .dist-info on the path)."""
    (tmp_path / "old_ping.py").write_text(PLUGIN)
    info = tmp_path / "old_ping-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: old-ping\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[crmgen.steps]\nping = old_ping:PING\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    result = subprocess.run(
        [sys.executable, "-W", "always::DeprecationWarning", "-m", "crmgen", "schema"],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "ping" in json.loads(result.stdout)["$defs"]["step"]["properties"]
    assert "crmgen.spec is deprecated" in result.stderr
    assert "import crmgen.language instead" in result.stderr
