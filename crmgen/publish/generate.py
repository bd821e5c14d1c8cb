"""The ``generate`` stage: render the app into a staging folder beside OUT.

It reuses the writer's pieces (``crmgen.render.writer``): the OUT check, the per-file render with
its syntax check, the migrations step over the previous OUT and the marker. Formatting is the next
stage; the swap into OUT happens only after every stage passed (``crmgen.publish.pipeline``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from crmgen.publish.stages import Done, Run, StageFailed, count_lines
from crmgen.render import GenerateError, build_plan, make_environment, migrations, writer


def run(state: Run) -> Done:
    out = state.out
    try:
        writer.check_out(out)
        state.env = make_environment(state.options.templates)
        state.plan = build_plan(state.spec)
        out.parent.mkdir(parents=True, exist_ok=True)
        state.staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.crmgen-", dir=out.parent))
        written = [writer._write_one(state.env, planned, state.staging) for planned in state.plan]
        allowed = tuple(state.options.allow_destructive) + state.spec.app.allow_drop
        outcome = migrations.add_migrations(state.spec, state.staging, out, allowed)
    except GenerateError as exc:
        raise StageFailed(str(exc)) from exc
    for line in outcome.warnings:
        state.warn(line)
    state.extra_files.extend(outcome.files)
    paths = written + [state.staging / name for name in outcome.files]
    return Done(len(paths), count_lines(paths))
