"""The stage runner of ``crmgen publish``: run stages in order, time them, stop at the first failure.

A stage is a name and a function over the shared ``Run`` state. The function returns a
``Done`` (files and lines it handled, an optional message) or raises ``StageFailed`` (a user-facing
message) or ``StageSkipped``. Each stage is timed with ``time.perf_counter``; people see one
progress line per stage on stderr and a summary table at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Status = Literal["passed", "failed", "skipped"]


class StageFailed(Exception):
    """The stage could not do its work; the message says why, for the user (exit 1)."""


class StageSkipped(Exception):
    """The stage was not asked for, or cannot run here; the message says why."""


@dataclass(frozen=True)
class Done:
    """What a stage that passed handled."""

    files: int = 0
    lines: int = 0
    message: str = ""


@dataclass
class Run:
    """The state the stages share: the inputs, the staging folder and what was produced."""

    spec_path: Path
    out: Path
    options: Any
    echo: Callable[[str], None]
    spec: Any = None
    env: Any = None
    plan: list[Any] = field(default_factory=list)
    staged: Any = None  # the writer's Staging (crmgen.render.writer), until it is swapped in
    artefacts: dict[str, str | None] = field(default_factory=dict)
    tests: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def staging(self) -> Path | None:
        """The staging folder the stages work in (None before ``generate`` and after the swap)."""
        return None if self.staged is None else self.staged.root

    def warn(self, line: str) -> None:
        self.warnings.append(line)
        self.echo(f"warning: {line}")


@dataclass(frozen=True)
class Stage:
    """One named step of the pipeline."""

    name: str
    run: Callable[[Run], Done]


@dataclass(frozen=True)
class StageResult:
    name: str
    status: Status
    seconds: float
    files: int = 0
    lines: int = 0
    message: str = ""


def run_stages(
    stages: list[Stage], state: Run, start: int = 1, total: int | None = None
) -> list[StageResult]:
    """Run ``stages`` in order; after a failure the rest are reported as skipped.

    ``start`` and ``total`` number the progress lines when the pipeline runs in parts.
    """
    results: list[StageResult] = []
    failed = False
    for index, stage in enumerate(stages, start=start):
        prefix = f"[{index}/{total or len(stages)}] {stage.name:<9}"
        if failed:
            results.append(
                StageResult(stage.name, "skipped", 0.0, message="an earlier stage failed")
            )
            continue
        started = time.perf_counter()
        try:
            done = stage.run(state)
        except StageSkipped as exc:
            result = StageResult(
                stage.name, "skipped", time.perf_counter() - started, message=str(exc)
            )
        except StageFailed as exc:
            failed = True
            result = StageResult(
                stage.name, "failed", time.perf_counter() - started, message=str(exc)
            )
        else:
            seconds = time.perf_counter() - started
            result = StageResult(
                stage.name, "passed", seconds, done.files, done.lines, done.message
            )
        results.append(result)
        state.echo(f"{prefix} {progress(result)}")
    return results


def progress(result: StageResult) -> str:
    """The progress line's tail: status, time, counts and the message."""
    text = f"{result.status:<7} {result.seconds:6.2f} s"
    if result.status == "passed":
        text += f"  {result.files:>5} files {result.lines:>7} lines"
    if result.message:
        text += f"  {result.message}" if result.status != "failed" else f"\n  {result.message}"
    return text


def summary(results: list[StageResult]) -> str:
    """A table of every stage for people: stage, status, duration, files, lines."""
    rows = [("stage", "status", "seconds", "files", "lines")]
    for r in results:
        rows.append((r.name, r.status, f"{r.seconds:.2f}", str(r.files), str(r.lines)))
    total = sum(r.seconds for r in results)
    rows.append(("total", "", f"{total:.2f}", "", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:], widths[2:])]
        lines.append("  ".join(cells).rstrip())
        if n == 0 or n == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def count_lines(paths: list[Path]) -> int:
    """Lines in the text files among ``paths`` (binary files, with a NUL byte, count as none)."""
    total = 0
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" not in data:
            total += data.count(b"\n")
    return total
