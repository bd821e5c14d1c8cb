"""Diagnostics: did-you-mean hints, edit distance, sorting, text and JSON rendering."""

from __future__ import annotations

import json

import pytest

from crmgen.diagnostics import (
    Diagnostic,
    Position,
    SpecError,
    did_you_mean,
    edit_distance,
    render_json,
    render_text,
    sort_diagnostics,
)

KEYS = ["label", "help", "type", "required", "unique", "default", "max_length"]


@pytest.mark.parametrize(
    "word, meant",
    [
        ("lable", "label"),  # a transposition counts as one edit
        ("tpye", "type"),
        ("requried", "required"),
        ("labl", "label"),
        ("Label", "label"),  # only the case differs
        ("max_lenght", "max_length"),
        ("defualt", "default"),
        ("maxlength", "max_length"),
    ],
)
def test_did_you_mean_finds_the_intended_word(word: str, meant: str) -> None:
    assert did_you_mean(word, KEYS) == f"; did you mean '{meant}'?"


@pytest.mark.parametrize("word", ["zzz", "colour", "x", "permissions"])
def test_did_you_mean_stays_quiet_when_nothing_is_close(word: str) -> None:
    assert did_you_mean(word, KEYS) == ""


def test_did_you_mean_with_no_candidates() -> None:
    assert did_you_mean("label", []) == ""


def test_did_you_mean_is_deterministic_between_equally_close_words() -> None:
    first = did_you_mean("cat", ["bat", "car", "hat"])
    assert all(
        did_you_mean("cat", order) == first
        for order in (["hat", "car", "bat"], ["car", "bat", "hat"])
    )


@pytest.mark.parametrize(
    "a, b, distance",
    [
        ("", "", 0),
        ("label", "label", 0),
        ("", "abc", 3),
        ("abc", "", 3),
        ("lable", "label", 1),
        ("kitten", "sitting", 3),
        ("ab", "ba", 1),
        ("ca", "abc", 3),  # optimal string alignment, not full Damerau
    ],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance
    assert edit_distance(b, a) == distance


def _d(file: str, line: int, col: int, severity: str = "error", msg: str = "m") -> Diagnostic:
    return Diagnostic(Position(file, line, col), severity, "code", msg)  # type: ignore[arg-type]


def test_sorting_is_by_file_line_and_column_and_drops_duplicates() -> None:
    found = [
        _d("b.yaml", 1, 1),
        _d("a.yaml", 10, 2),
        _d("a.yaml", 2, 5),
        _d("a.yaml", 2, 1),
        _d("a.yaml", 2, 1),
    ]
    ordered = sort_diagnostics(found)
    assert [(d.position.file, d.position.line, d.position.column) for d in ordered] == [
        ("a.yaml", 2, 1),
        ("a.yaml", 2, 5),
        ("a.yaml", 10, 2),
        ("b.yaml", 1, 1),
    ]


def test_text_rendering_is_one_located_line_per_problem() -> None:
    text = render_text([_d("a.yaml", 3, 7, "error", "bad"), _d("a.yaml", 4, 1, "warning", "hmm")])
    assert text == "a.yaml:3:7: error: bad\na.yaml:4:1: warning: hmm\n"


def test_line_breaks_in_a_message_are_escaped_in_text_but_kept_in_json() -> None:
    d = _d("a.yaml", 1, 1, "error", "unknown key 'a\nb\u2028c'")
    assert d.format_text() == "a.yaml:1:1: error: unknown key 'a\\nb\\u2028c'"
    assert json.loads(render_json([d]))[0]["message"] == "unknown key 'a\nb\u2028c'"


def test_json_rendering() -> None:
    rendered = render_json([_d("a.yaml", 3, 7, "error", "Сделка ✓")])
    assert "Сделка ✓" in rendered  # not \\u-escaped
    assert json.loads(rendered) == [
        {
            "file": "a.yaml",
            "line": 3,
            "column": 7,
            "severity": "error",
            "code": "code",
            "message": "Сделка ✓",
        }
    ]
    assert json.loads(render_json([])) == []


def test_spec_error_carries_sorted_diagnostics_and_names_the_first_error() -> None:
    error = SpecError(
        [
            _d("a.yaml", 9, 1, msg="second"),
            _d("a.yaml", 1, 1, "warning", "w"),
            _d("a.yaml", 2, 1, msg="first"),
        ]
    )
    assert [d.position.line for d in error.diagnostics] == [1, 2, 9]
    assert str(error) == "a.yaml:2:1: error: first (and 1 more)"
