"""The ``format`` stage: the generated Python comes out black-clean.

``ruff format`` (with black's settings) is the fastest way measured (see docs/publishing.md and
benchmarks/format.py); black's API is the fallback when ruff is not installed. Migration revisions
are written already formatted by the migrations step, as ``crmgen generate`` does.
"""

from __future__ import annotations

from crmgen.publish.stages import Done, Run, StageFailed, count_lines
from crmgen.render import GenerateError


def run(state: Run) -> Done:
    assert state.staged is not None
    paths = state.staged.python_files
    try:
        used = state.staged.format()
    except GenerateError as exc:
        raise StageFailed(str(exc)) from exc
    return Done(len(paths), count_lines(paths), f"with {used}")
