"""The ``generate`` stage: render the app into a staging folder beside OUT.

It uses the writer's ``Staging`` (``crmgen.render.writer``), as ``crmgen generate`` does: the OUT
check (hand edits stop here unless ``--force``), the per-file render with its syntax check, and
the migrations step over the previous OUT. Formatting is the next stage; the swap into OUT happens
only after every stage passed (``crmgen.publish.swap``).
"""

from __future__ import annotations

from crmgen.publish.stages import Done, Run, StageFailed, count_lines
from crmgen.render import (
    GenerateError,
    Staging,
    build_plan,
    copy_custom,
    make_environment,
    migrations,
)


def run(state: Run) -> Done:
    try:
        state.env = make_environment(state.options.templates)
        state.plan = build_plan(state.spec)
        state.staged = Staging.stage(state.out, "keep" if state.options.force else "stop")
        written = state.staged.render(state.env, state.plan)
        written += copy_custom(state.spec, state.staged)  # not formatted: the user's files
        allowed = tuple(state.options.allow_destructive) + state.spec.app.allow_drop
        outcome = migrations.add_migrations(state.spec, state.staged.root, state.out, allowed)
    except GenerateError as exc:
        raise StageFailed(str(exc)) from exc
    for line in outcome.warnings:
        state.warn(line)
    state.staged.include(outcome.files)
    paths = written + [state.staged.root / name for name in outcome.files]
    return Done(len(paths), count_lines(paths))
