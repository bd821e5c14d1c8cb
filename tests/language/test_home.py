"""``ui.home`` ("my day", issue 14 item 3): the model, ``ui.json`` and the located errors."""

from __future__ import annotations

from pathlib import Path

from crmgen.language import check_spec
from crmgen.render.web import ui_data

SPEC = """\
use: [tasks, interactions]
app: {name: day}
ui:
  home:
    tasks: {entity: Task, due: deadline, assignee: assignee, where: {status__in: [new, in_progress]}}
    meetings: {entity: Interaction, start: happened_at, attendee: owner, where: {kind: meeting}}
    kpis: [board.open]
  dashboards:
    board:
      kpis:
        open: {entity: Task, where: {status: new}}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_home_is_in_the_model_and_in_ui_json(tmp_path: Path) -> None:
    spec, diagnostics = check_spec(_write(tmp_path, SPEC))
    assert spec is not None and not [d for d in diagnostics if d.severity == "error"]
    home = spec.ui.home
    assert home is not None and home.tasks is not None and home.meetings is not None
    assert (home.tasks.date_field, home.tasks.user_field) == ("deadline", "assignee")
    assert home.meetings.days == 7 and home.recent == 10
    data = ui_data(spec)["home"]
    assert data["tasks"]["params"] == [["status__in", "new,in_progress"]]
    assert data["meetings"] == {
        "path": "interactions",
        "date": "happened_at",
        "date_type": "datetime",
        "user": "owner",
        "params": [["kind", "meeting"]],
        "days": 7,
    }
    assert [k["name"] for k in data["kpis"]] == ["open"]


def test_a_spec_without_home_has_no_trace_of_it(tmp_path: Path) -> None:
    text = SPEC.split("  home:")[0] + "  dashboards:" + SPEC.split("  dashboards:")[1]
    spec, _ = check_spec(_write(tmp_path, text))
    assert spec is not None and spec.ui.home is None
    assert "home" not in ui_data(spec)


def test_misuse_is_explained_where_it_is(tmp_path: Path) -> None:
    text = (
        SPEC.replace("due: deadline", "due: title")
        .replace("assignee: assignee", "assignee: description")
        .replace("{kind: meeting}", "{kind: '= user'}")
        .replace("[board.open]", "[board.opn]")
    )
    _, diagnostics = check_spec(_write(tmp_path, text))
    found = {(d.code, d.position.line) for d in diagnostics if d.severity == "error"}
    assert found == {("home", 5), ("home-where", 6), ("home-kpi", 7)}
    messages = " ".join(d.message for d in diagnostics)
    assert "'title' is a string field" in messages and "a ref to User" in messages
    assert "did you mean 'board.open'" in messages
