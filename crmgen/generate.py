"""``crmgen.generate()``: render the app for a spec into a folder (``crmgen generate``)."""

from __future__ import annotations

from pathlib import Path

from crmgen.render import build_plan, make_environment, write_plan
from crmgen.spec import load_spec
from crmgen.spec.model import Spec


def generate(spec_path: str | Path, out: str | Path, templates: str | Path | None = None) -> list[Path]:
    """Render the spec at ``spec_path`` into ``out``; returns the paths written, sorted.

    Raises ``SpecError`` for a bad spec and ``GenerateError`` for a bad template override or an
    output folder crmgen may not replace. ``templates`` is a folder searched before the built-in
    templates, file by file.
    """
    return generate_from(load_spec(spec_path), out, templates)


def generate_from(spec: Spec, out: str | Path, templates: str | Path | None = None) -> list[Path]:
    """Like ``generate``, from a spec model already loaded."""
    env = make_environment(templates)
    return write_plan(build_plan(spec), env, Path(out))
