"""The render plan: the files of the generated app, from which templates."""

from __future__ import annotations

from crmgen import load
from crmgen.bundled import templates_dir
from crmgen.render import build_plan
from tests.render.specs import MINIMAL


def test_plan_lists_the_backend_files_sorted() -> None:
    plan = build_plan(load(MINIMAL))
    paths = [f.path for f in plan]
    assert paths == sorted(paths)
    assert len(set(paths)) == len(paths)
    assert {
        "README.md",
        "pyproject.toml",
        "minimal/__init__.py",
        "minimal/models.py",
        "minimal/settings.py",
    } <= set(paths)
    assert all((templates_dir() / f.template).is_file() for f in plan if f.data is None)
    assert all(f.context["app"].name == "minimal" for f in plan if f.data is None)
