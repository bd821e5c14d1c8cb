"""``crmgen.generate()``: render the app for a spec into a folder (``crmgen generate``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from crmgen.language import load_spec
from crmgen.language.model import Spec
from crmgen.render import build_plan, make_environment, migrations, write_plan


def generate(
    spec_path: str | Path,
    out: str | Path,
    templates: str | Path | None = None,
    *,
    allow_destructive: Iterable[str] = (),
    warn: Callable[[str], None] | None = None,
) -> list[Path]:
    """Render the spec at ``spec_path`` into ``out``; returns the paths written, sorted.

    Raises ``SpecError`` for a bad spec and ``GenerateError`` for a bad template override or an
    output folder crmgen may not replace. ``templates`` is a folder searched before the built-in
    templates, file by file.
    """
    return generate_from(
        load_spec(spec_path), out, templates, allow_destructive=allow_destructive, warn=warn
    )


def generate_from(
    spec: Spec,
    out: str | Path,
    templates: str | Path | None = None,
    *,
    allow_destructive: Iterable[str] = (),
    warn: Callable[[str], None] | None = None,
) -> list[Path]:
    """Like ``generate``, from a spec model already loaded.

    The migrations step (``crmgen.render.migrations``) compares the new tables with the previous
    OUT and adds a revision; a change that drops a table or column raises ``DestructiveChange``
    (OUT untouched) unless each dropped ``Entity`` / ``Entity.field`` is in ``allow_destructive``
    or in the spec's ``app.allow_drop``.
    ``warn`` receives one line per warning (dropped data, required columns added to tables).
    """
    env = make_environment(templates)
    allowed = tuple(allow_destructive) + spec.app.allow_drop

    def finish(staging: Path, target: Path) -> list[str]:
        outcome = migrations.add_migrations(spec, staging, target, allowed)
        # A consent left in the spec would let a later, unrelated change drop the same name.
        stale = [name for name in spec.app.allow_drop if name not in outcome.dropped]
        lines = outcome.warnings + [
            f"app.allow_drop names {name}, which this change does not drop: remove it from the spec"
            for name in stale
        ]
        for line in lines:
            if warn is not None:
                warn(line)
        return outcome.files

    return write_plan(build_plan(spec), env, Path(out), finish=finish)
