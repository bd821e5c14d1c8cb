"""``crmgen.generate()``: render the app for a spec into a folder (``crmgen generate``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from crmgen.language import load_spec
from crmgen.language.model import Spec
from crmgen.render import (
    HandEditPolicy,
    Staging,
    build_plan,
    copy_custom,
    make_environment,
    migrations,
)


def generate(
    spec_path: str | Path,
    out: str | Path,
    templates: str | Path | None = None,
    *,
    allow_destructive: Iterable[str] = (),
    warn: Callable[[str], None] | None = None,
    force: bool = False,
) -> list[Path]:
    """Render the spec at ``spec_path`` into ``out``; returns the paths written, sorted.

    Raises ``SpecError`` for a bad spec and ``GenerateError`` for a bad template override or an
    output folder crmgen may not replace. ``templates`` is a folder searched before the built-in
    templates, file by file. Generated files changed by hand in ``out`` raise ``HandEdited``
    (``out`` unchanged) unless ``force``: then each edited copy is kept as ``FILE.orig`` (and
    ``warn`` says so).
    """
    return generate_from(
        load_spec(spec_path),
        out,
        templates,
        allow_destructive=allow_destructive,
        warn=warn,
        hand_edits="keep" if force else "stop",
    )


def generate_from(
    spec: Spec,
    out: str | Path,
    templates: str | Path | None = None,
    *,
    allow_destructive: Iterable[str] = (),
    warn: Callable[[str], None] | None = None,
    hand_edits: HandEditPolicy = "stop",
) -> list[Path]:
    """Like ``generate``, from a spec model already loaded.

    ``hand_edits`` says what to do with generated files changed by hand in ``out``
    (``crmgen.render.writer.HandEditPolicy``: stop, keep the edited copies, or replace).

    The migrations step (``crmgen.render.migrations``) compares the new tables with the previous
    OUT and adds a revision; a change that drops a table or column raises ``DestructiveChange``
    (OUT untouched) unless each dropped ``Entity`` / ``Entity.field`` is in ``allow_destructive``
    or in the spec's ``app.allow_drop``.
    ``warn`` receives one line per warning (dropped data, required columns added to tables).
    """
    say = warn or (lambda line: None)
    env = make_environment(templates)
    allowed = tuple(allow_destructive) + spec.app.allow_drop
    with Staging.stage(Path(out), hand_edits) as staging:
        staging.render(env, build_plan(spec))
        staging.format()
        copy_custom(spec, staging)  # after formatting: the user's files stay as they are
        outcome = migrations.add_migrations(spec, staging.root, staging.out, allowed)
        staging.include(outcome.files)
        swapped = staging.swap()
    # A consent left in the spec would let a later, unrelated change drop the same name.
    stale = [name for name in spec.app.allow_drop if name not in outcome.dropped]
    for line in outcome.warnings:
        say(line)
    for name in stale:
        say(
            f"app.allow_drop names {name}, which this change does not drop: remove it from the spec"
        )
    for path, copy in swapped.kept.items():
        say(f"{path} was changed by hand: replaced, the edited copy is kept as {copy}")
    return swapped.files
