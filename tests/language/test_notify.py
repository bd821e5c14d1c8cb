"""The ``notify`` step and ``comments: true`` in the spec language (issue 14 items 2 and 4):
what switches notifications on, and the located errors of a wrong step."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmgen.language import check_spec

SPEC = """\
app: {name: notes}
roles:
  admin: {superuser: true}
  sales: Sales
entities:
  Deal:
    owner: owner
    fields:
      name: {type: string, required: true}
      owner: {type: ref, to: User}
      stage: {type: enum, values: [open, lost]}
    permissions:
      sales: own
  Note:
    fields:
      text: string
    permissions:
      sales: all
processes:
  lost:
    on: {update: Deal, fields: [stage]}
    steps:
      - notify: STEP
"""


def _check(
    tmp_path: Path, step: str, extra: str = ""
) -> tuple[object, list[tuple[int, int, str, str]]]:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.replace("STEP", step) + extra, encoding="utf-8")
    spec, diagnostics = check_spec(path)
    found = [(d.position.line, d.position.column, d.code, d.message) for d in diagnostics]
    return spec, found


@pytest.mark.parametrize(
    "step",
    [
        "{role: sales, message: 'Lost: {{ record.name }}'}",
        "{owner: true, message: lost}",
        "{to: '= record.owner', message: lost, link: '= record'}",
    ],
)
def test_a_notify_step_switches_notifications_on(tmp_path: Path, step: str) -> None:
    spec, found = _check(tmp_path, step)
    assert found == []
    assert spec is not None and spec.notifications  # type: ignore[attr-defined]


def test_no_step_and_no_comments_no_notifications(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.split("processes:")[0], encoding="utf-8")
    spec, found = check_spec(path)
    assert found == [] and spec is not None and not spec.notifications
    assert not any(e.comments for e in spec.entities)
    path.write_text(
        SPEC.split("processes:")[0].replace("  Note:\n", "  Note:\n    comments: true\n")
    )
    spec, found = check_spec(path)
    assert found == [] and spec is not None and spec.notifications
    assert [e.name for e in spec.entities if e.comments] == ["Note"]


@pytest.mark.parametrize(
    "step,code,words",
    [
        ("{message: hi}", "step-notify", "one of: to:"),
        ("{role: sales, owner: true, message: hi}", "step-notify", "one of: to:"),
        ("{role: seller, message: hi}", "ref-role", "seller"),
        ("{to: '= record.owner', message: '{{ recrd.name }}'}", "template", "recrd"),
        ("{to: '= record.owner'}", "schema-missing-key", "message"),
        ("{to: '= record.owner', message: hi, channel: sms}", "schema-unknown-key", "channel"),
    ],
)
def test_a_wrong_notify_step_is_a_located_error(
    tmp_path: Path, step: str, code: str, words: str
) -> None:
    spec, found = _check(tmp_path, step)
    assert spec is None and found, found
    line, _, got, message = found[0]
    assert line == 23 and words in message and got == code, found  # the step's line


def test_owner_needs_an_entity_with_an_owner(tmp_path: Path) -> None:
    extra = """\
  noted:
    on: {create: Note}
    steps:
      - notify: {owner: true, message: hi}
"""
    spec, found = _check(tmp_path, "{role: sales, message: hi}", extra)
    assert spec is None
    assert [(line, code) for line, _, code, _ in found] == [(27, "step-notify")]
    assert "Note has no owner field" in found[0][3]


def test_comments_must_be_a_boolean(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(
        SPEC.split("processes:")[0].replace("  Note:\n", "  Note:\n    comments: yes please\n")
    )
    spec, found = check_spec(path)
    assert spec is None and [(d.position.line, d.code) for d in found] == [(15, "schema-type")]
