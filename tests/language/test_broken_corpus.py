"""The broken-spec corpus: every case in tests/broken/ fails validation with exactly its expected lines.

Each case is a folder holding the spec (``spec.yaml``, or a ``spec/`` folder of several files) and
``expected.txt``: the ``FILE:LINE:COL: severity: message`` lines ``crmgen validate`` must print,
with paths relative to the case folder. Add a case by writing the spec and its expected lines;
when the validator's wording improves, update expected.txt in the same change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crmgen.cli import cli

CORPUS = Path(__file__).resolve().parents[1] / "broken"
CASES = sorted(p for p in CORPUS.iterdir() if p.is_dir() and (p / "expected.txt").is_file())
MIN_CASES = 45


def _target(case: Path) -> str:
    return "spec" if (case / "spec").is_dir() else "spec.yaml"


def _expected(case: Path) -> list[str]:
    return [
        line
        for line in (case / "expected.txt").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def _run(case: Path, monkeypatch: pytest.MonkeyPatch, *extra: str):
    monkeypatch.chdir(case)
    return CliRunner().invoke(cli, ["validate", _target(case), *extra])


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= MIN_CASES, f"only {len(CASES)} broken-spec cases in {CORPUS}"


def test_every_case_folder_is_complete() -> None:
    for case in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        assert (case / "expected.txt").is_file(), f"{case.name} has no expected.txt"
        assert (case / "spec.yaml").is_file() or (case / "spec").is_dir(), (
            f"{case.name} has no spec"
        )


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_broken_spec_reports_exactly_the_expected_lines(
    case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(case, monkeypatch)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1, result.stderr
    lines = result.stderr.splitlines()
    assert lines, "nothing printed on stderr"
    summary, diagnostics = lines[-1], lines[:-1]
    assert summary.startswith(f"{_target(case)}: ") and "error(s)" in summary, summary
    assert diagnostics == _expected(case)
    assert result.stdout == ""


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_broken_spec_json_output(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(case, monkeypatch, "--format", "json")
    assert result.exit_code == 1, result.output
    found = json.loads(result.stdout)
    expected = _expected(case)
    assert isinstance(found, list) and len(found) == len(expected)
    for item, line in zip(found, expected):
        assert set(item) == {"file", "line", "column", "severity", "code", "message"}
        assert isinstance(item["code"], str) and item["code"]
        assert (
            f"{item['file']}:{item['line']}:{item['column']}: {item['severity']}: {item['message']}"
            == line
        )
