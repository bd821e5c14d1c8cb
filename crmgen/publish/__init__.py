"""``crmgen publish``: validate -> generate -> format -> compile -> test -> package -> docker ->
deploy, each stage timed and reported.

Everything happens in a staging folder beside OUT; it is swapped into OUT only when every stage
before ``deploy`` passed, so a failing stage leaves the previous OUT byte for byte as it was.
``deploy`` runs on OUT after the swap. Generated files changed by hand in OUT stop the ``generate``
stage (``--force``: replaced, each edited copy kept as ``FILE.orig``); one changed while the stages
ran is found at the swap, which then fails as the ``deploy`` stage with OUT unchanged. The Python API is ``publish()``; the CLI is in
``crmgen.cli``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmgen.publish import compile as compile_stage
from crmgen.publish import compose_up, docker, package, render_app, test, validate
from crmgen.publish import format as format_stage
from crmgen.publish.report import build_report, validate_report, write_report
from crmgen.publish.stages import Run, Stage, StageResult, run_stages, summary
from crmgen.publish.swap import clean_up, swap_in
from crmgen.render import GenerateError

__all__ = ["Options", "Outcome", "publish", "validate_report"]

STAGES = [
    Stage("validate", validate.run),
    Stage("generate", render_app.run),
    Stage("format", format_stage.run),
    Stage("compile", compile_stage.run),
    Stage("test", test.run),
    Stage("package", package.run),
    Stage("docker", docker.run),
]
AFTER_SWAP = [Stage("deploy", compose_up.run)]


@dataclass(frozen=True)
class Options:
    """What ``crmgen publish`` was asked to do beyond the defaults."""

    templates: Path | None = None
    allow_destructive: tuple[str, ...] = ()
    test_database: str | None = None
    skip_tests: bool = False
    docker: str | None = None  # None, "yes" or "auto"
    tag: str | None = None
    push: bool = False
    deploy: str | None = None  # None or "compose"
    force: bool = False  # replace generated files changed by hand, keeping FILE.orig copies


@dataclass(frozen=True)
class Outcome:
    results: list[StageResult]
    report: dict[str, Any]

    @property
    def passed(self) -> bool:
        return self.report["outcome"] == "passed"

    @property
    def failed_stage(self) -> str | None:
        return self.report["failed_stage"]


def publish(
    spec_path: str | Path,
    out: str | Path,
    options: Options | None = None,
    *,
    echo: Callable[[str], None] | None = None,
    report_path: Path | None = None,
) -> Outcome:
    """Run the pipeline; ``echo`` gets progress lines (default: stderr)."""
    state = Run(
        spec_path=Path(spec_path),
        out=Path(out).absolute(),
        options=options or Options(),
        echo=echo or (lambda line: print(line, file=sys.stderr)),
    )
    try:
        total = len(STAGES) + len(AFTER_SWAP)
        results = run_stages(STAGES, state, total=total)
        if all(r.status != "failed" for r in results):
            try:
                swap_in(state)
            except GenerateError as exc:
                failed = StageResult(
                    "deploy", "failed", 0.0, message=f"OUT was not replaced: {exc}"
                )
                results.append(failed)
            else:
                results += run_stages(AFTER_SWAP, state, start=len(STAGES) + 1, total=total)
        else:
            results += [StageResult("deploy", "skipped", 0.0, message="an earlier stage failed")]
    finally:
        clean_up(state)
    report = build_report(state, results)
    state.echo(summary(results))
    if report_path is not None:
        write_report(report, report_path)
    return Outcome(results, report)
