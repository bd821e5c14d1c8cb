"""The ``validate`` stage: load and check the spec; its problems are printed located."""

from __future__ import annotations

from pathlib import Path

from crmgen.diagnostics import render_text
from crmgen.language import check_spec
from crmgen.publish.stages import Done, Run, StageFailed, count_lines

SPEC_SUFFIXES = (".yaml", ".yml")


def spec_files(spec_path: Path) -> list[Path]:
    """The spec file, or every YAML file below the spec folder (not counting ``use:`` modules)."""
    if spec_path.is_dir():
        return sorted(p for p in spec_path.rglob("*") if p.suffix in SPEC_SUFFIXES)
    return [spec_path]


def run(state: Run) -> Done:
    model, diagnostics = check_spec(state.spec_path)
    text = render_text(diagnostics)
    if text:
        state.echo(text.rstrip("\n"))
    if model is None:
        errors = sum(d.severity == "error" for d in diagnostics)
        raise StageFailed(f"{state.spec_path}: {errors} error(s) in the spec")
    state.spec = model
    files = spec_files(state.spec_path)
    return Done(len(files), count_lines(files), f"{len(diagnostics)} warning(s)")
