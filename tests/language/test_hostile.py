"""Hostile input: any text survives into the model byte for byte; hostile names are rejected."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

import crmgen
from crmgen.cli import cli
from crmgen.language import check_spec
from crmgen.language.text import Text

TESTS = Path(__file__).resolve().parents[1]
HOSTILE = TESTS / "hostile" / "spec.yaml"
HOSTILE_NAMES = TESTS / "hostile_names" / "spec.yaml"
LINE = re.compile(r"^[^:]+:\d+:\d+: (error|warning): .+")


def _raw() -> Any:
    """The file read by a second YAML reader that keeps every scalar as text."""
    return yaml.load(HOSTILE.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)


def _text(raw: Any) -> Text:
    return Text(tuple(raw.items())) if isinstance(raw, dict) else Text((("*", raw),))


def test_the_hostile_spec_loads_without_problems() -> None:
    spec, diagnostics = check_spec(HOSTILE)
    assert spec is not None, [d.format_text() for d in diagnostics]
    # Hebrew (a right-to-left locale) has no UI messages: the only word of the validation
    assert [(d.severity, d.code) for d in diagnostics] == [("warning", "locale")]
    assert "'he'" in diagnostics[0].message


def test_hostile_strings_reach_the_model_byte_for_byte() -> None:
    raw = _raw()
    spec = crmgen.load(HOSTILE)

    assert spec.app.title == _text(raw["app"]["title"])
    assert spec.app.description == _text(raw["app"]["description"])
    for role in spec.roles:
        detail = raw["roles"][role.name]
        assert role.label == _text(detail["label"])
        if "description" in detail:
            assert role.description == _text(detail["description"])

    raw_note = raw["entities"]["Note"]
    note = spec.entity("Note")
    assert note is not None
    assert note.label == _text(raw_note["label"])
    assert note.plural_label == _text(raw_note["plural_label"])
    assert note.description == _text(raw_note["description"])
    for name in ("title", "body", "status"):
        field, raw_field = note.field(name), raw_note["fields"][name]
        assert field is not None
        assert field.label == (_text(raw_field["label"]) if "label" in raw_field else field.label)
        if "help" in raw_field:
            assert field.help == _text(raw_field["help"])
        assert field.default is not None and field.default.literal == raw_field["default"]
    status = note.field("status")
    assert status is not None
    for value in status.values:
        detail = raw_note["fields"]["status"]["values"][value.name]
        assert value.label == _text(detail["label"] if isinstance(detail, dict) else detail)

    sender = spec.integrations[0].setting("sender")
    assert sender is not None and sender.value == raw["integrations"]["mail"]["sender"]

    email, log1, log2 = spec.processes[0].steps
    raw_steps = raw["processes"]["notify"]["steps"]
    for key in ("subject", "text", "html"):
        assert getattr(email, key).source == raw_steps[0]["email"][key]
    assert log1.message.source == raw_steps[1]["log"]["message"]
    assert log2.message.source == raw_steps[2]["log"]


def test_the_hostile_strings_are_what_they_look_like() -> None:
    spec = crmgen.load(HOSTILE)
    note = spec.entity("Note")
    assert note is not None
    title, body = note.field("title"), note.field("body")
    assert title is not None and body is not None
    assert title.help.get("en") == "'; DROP TABLE users; --"
    assert title.default.literal == '</script><script>alert("x")</script>'  # type: ignore[union-attr]
    assert title.label.get("en") == "{{ record.title }} \"\"\" '''"
    assert len(body.default.literal) > 10_000 and "🎉" in body.default.literal  # type: ignore[union-attr]
    assert body.help.get("en").endswith("at the end \\")
    assert (
        spec.role("sales").description.get("en")
        == "first line\nsecond line\r\nthird \\ line \\\\ \t tab \u202eevil"
    )  # type: ignore[union-attr]
    assert spec.app.title.get("he") == "שלום עולם" and spec.app.title.get("zh") == "客户管理 🚀"
    assert "{{ jinja }}" in spec.app.description.get(
        "en"
    ) and '"""triple"""' in spec.app.description.get("en")
    subject = spec.processes[0].steps[0].subject
    assert subject.names == ("record",)  # {% raw %} text is not a placeholder


def test_hostile_names_are_rejected_with_located_errors() -> None:
    spec, diagnostics = check_spec(HOSTILE_NAMES)
    assert spec is None
    errors = [d for d in diagnostics if d.severity == "error"]
    lines = HOSTILE_NAMES.read_text(encoding="utf-8").splitlines()
    hostile = [
        "админ",
        "'; DROP TABLE users; --",
        "Контакт",
        "Robert'); DROP TABLE students;--",
        "имя",
        "名字",
        "</script><script>",
        "first-name",
        "drop table",
        "{{ x }}",
        "😀",
        'a"b',
        "草稿",
        "a b",
        "'; --",
        "رئيس",
    ]
    for name in hostile:
        about = [e for e in errors if f"'{name}'" in e.message]
        assert about, f"no error names {name!r}"
        for e in about:
            line = lines[e.position.line - 1]
            assert name in line or name.replace('"', '\\"') in line, (
                name,
                e.format_text(),
            )  # located at the name
    assert not any("'ok'" in e.message or "'name'" in e.message for e in errors)


def test_hostile_names_through_the_cli_never_show_a_traceback() -> None:
    result = CliRunner().invoke(cli, ["validate", str(HOSTILE_NAMES)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    *problems, summary = result.stderr.splitlines()
    assert len(problems) >= 16 and all(LINE.match(line) for line in problems)
    assert "error(s)" in summary
