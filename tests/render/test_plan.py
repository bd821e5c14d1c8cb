"""The render plan: the files of the generated app, from which templates."""

from __future__ import annotations

from crmgen import load
from crmgen.render import build_plan
from crmgen.resources import templates_dir
from tests.render.specs import MINIMAL


def test_plan_lists_the_backend_files_sorted() -> None:
    plan = build_plan(load(MINIMAL))
    assert [(f.path, f.template) for f in plan] == [
        ("README.md", "backend/README.md.j2"),
        ("minimal/__init__.py", "backend/__init__.py.j2"),
        ("minimal/models.py", "backend/models.py.j2"),
        ("minimal/settings.py", "backend/settings.py.j2"),
        ("pyproject.toml", "backend/pyproject.toml.j2"),
    ]
    assert all((templates_dir() / f.template).is_file() for f in plan)
    assert all(f.context["app"].name == "minimal" for f in plan)
