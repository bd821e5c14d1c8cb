"""A decimal holds at most 18 digits: ``crmgen validate`` says where a spec asks for more, why
and what to write instead (decimals are exact as whole units in a 64-bit integer on SQLite)."""

from __future__ import annotations

from pathlib import Path

from crmgen import validate

SPEC = """\
app: {name: precise}
roles:
  admin: {superuser: true}
entities:
  Deal:
    fields:
      name: string
      fits: {type: decimal, precision: 18, scale: 2}
      amount: {type: decimal, precision: 30, scale: 2}
"""


def test_a_precision_above_18_digits_is_refused_with_the_fix(tmp_path: Path) -> None:
    spec = tmp_path / "app.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    problems = [d for d in validate(spec) if d.severity == "error"]
    assert len(problems) == 1, problems
    (problem,) = problems
    assert (problem.position.line, problem.position.column) == (9, 42)
    assert "precision 30 is more than 18 digits" in problem.message
    assert "64-bit integer" in problem.message and "precision: 18" in problem.message
