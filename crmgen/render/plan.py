"""The render plan: which files the app is made of, from which templates, with which context.

The plan is plain data derived from the spec; the writer renders it. Adding a file to the
generated app is one line in ``build_plan`` plus its template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crmgen import __version__
from crmgen.render import relations
from crmgen.render.users import auth_context
from crmgen.spec.model import Spec


@dataclass(frozen=True)
class PlannedFile:
    """One output file: its path inside OUT (POSIX, relative), its template and its context."""

    path: str
    template: str
    context: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


def base_context(spec: Spec) -> dict[str, Any]:
    """What every template sees."""
    return {
        "spec": spec,
        "app": spec.app,
        "package": spec.app.name,
        "crmgen_version": __version__,
    }


def models_context(spec: Spec) -> dict[str, Any]:
    """The models template also gets the relation helpers and the field types in use."""
    return {
        "field_types": sorted({f.type for e in spec.entities for f in e.fields}),
        "reverses": lambda entity: relations.reverses(spec, entity),
        "join_columns": relations.join_columns,
        "is_self": relations.is_self,
    }


def build_plan(spec: Spec) -> list[PlannedFile]:
    """The files of the generated app, sorted by path."""
    context = base_context(spec)
    package = spec.app.name
    files = [
        PlannedFile("pyproject.toml", "backend/pyproject.toml.j2", context),
        PlannedFile("README.md", "backend/README.md.j2", context),
        PlannedFile(f"{package}/__init__.py", "backend/__init__.py.j2", context),
        PlannedFile(f"{package}/settings.py", "backend/settings.py.j2", context),
        PlannedFile(f"{package}/principal.py", "backend/principal.py.j2", context),
        PlannedFile(f"{package}/audit.py", "backend/audit.py.j2", {**context, **auth_context(spec)}),
        PlannedFile(f"{package}/auth.py", "backend/auth.py.j2", {**context, **auth_context(spec)}),
        PlannedFile(f"{package}/models.py", "backend/models.py.j2", {**context, **models_context(spec)}),
    ]
    return sorted(files, key=lambda f: f.path)
