"""The stage runner, the pytest summary parser and the pins, on small inputs in process."""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import Requirement

from crmgen.publish import pins
from crmgen.publish.stages import Done, Run, Stage, StageFailed, StageSkipped, run_stages, summary
from crmgen.publish.test import counts


def make_run(lines: list[str]) -> Run:
    return Run(spec_path=Path("spec"), out=Path("out"), options=None, echo=lines.append)


def test_the_first_failure_stops_the_pipeline() -> None:
    seen: list[str] = []

    def fails(state: Run) -> Done:
        raise StageFailed("it broke")

    def skips(state: Run) -> Done:
        raise StageSkipped("not today")

    stages = [
        Stage("one", lambda s: Done(2, 10, "fine")),
        Stage("two", skips),
        Stage("three", fails),
        Stage("four", lambda s: seen.append("ran") or Done()),
    ]
    lines: list[str] = []
    results = run_stages(stages, make_run(lines))
    assert [r.status for r in results] == ["passed", "skipped", "failed", "skipped"]
    assert seen == []
    assert results[2].message == "it broke"
    assert results[3].message == "an earlier stage failed"
    assert lines[0].startswith("[1/4] one") and "2 files" in lines[0]
    assert "it broke" in lines[2]
    table = summary(results)
    assert table.splitlines()[0].split() == ["stage", "status", "seconds", "files", "lines"]
    assert "total" in table.splitlines()[-1]


def test_counts_come_from_pytests_last_line() -> None:
    output = (
        "....F\nFAILED tests/test_a.py::test_x - assert 0\n1 failed, 4 passed, 2 skipped in 0.5s\n"
    )
    assert counts(output) == {"passed": 4, "failed": 1, "skipped": 2}
    assert counts("3 passed, 1 error in 1.00s") == {"passed": 3, "failed": 1, "skipped": 0}
    assert counts("") == {"passed": 0, "failed": 0, "skipped": 0}


def test_pins_cover_the_closure_and_report_what_is_missing() -> None:
    pinned, missing = pins.pin(
        [Requirement("jinja2>=3.1"), Requirement("surely-not-installed-crmgen-test>=1")]
    )
    names = [line.split("==")[0] for line in pinned]
    assert "jinja2" in names and "markupsafe" in names  # markupsafe: jinja2's own dependency
    assert all("==" in line for line in pinned)
    assert missing == ["surely-not-installed-crmgen-test>=1"]
