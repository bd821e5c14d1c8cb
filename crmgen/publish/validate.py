"""The ``validate`` stage: load and check the spec; its problems are printed located."""

from __future__ import annotations

from crmgen.diagnostics import render_text
from crmgen.language import check_spec
from crmgen.language.sources import spec_files
from crmgen.publish.stages import Done, Run, StageFailed, count_lines


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
