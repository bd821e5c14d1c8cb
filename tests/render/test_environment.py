"""The Jinja environment's filters: spec strings become safe Python, names stay names."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmgen.render import GenerateError, make_environment
from crmgen.render.environment import db_name, docstring, identifier, py_literal, toml_string

HOSTILE = [
    'it\'s "x"',
    '"""',
    "'''",
    "a\nb",
    "back\\slash\\",
    "{{ x }} {% if %}",
    "\x00\t\r",
    "ünï 中文",
]


@pytest.mark.parametrize("value", HOSTILE + [0, -1.5, True, None, ("a", 1), ["b"], ("one",)])
def test_py_round_trips(value: object) -> None:
    assert eval(py_literal(value)) == value


@given(st.text())
def test_py_round_trips_any_text(value: str) -> None:
    source = py_literal(value)
    assert eval(source) == value
    assert "\n" not in source


def test_py_prefers_double_quotes_and_writes_decimals() -> None:
    assert py_literal("it's") == '"it\'s"'
    assert py_literal('say "hi"') == "'say \"hi\"'"
    assert py_literal(Decimal("1.50")) == 'Decimal("1.50")'


def test_py_writes_dicts_with_each_key_and_value_escaped() -> None:
    assert (
        py_literal({"max_length": 12, 'say "hi"': ("a",)})
        == '{"max_length": 12, \'say "hi"\': ("a",)}'
    )


@pytest.mark.parametrize("value", [float("nan"), object(), {"a": object()}, {1.5j: 1}])
def test_py_refuses_what_it_cannot_write(value: object) -> None:
    with pytest.raises(GenerateError):
        py_literal(value)


@pytest.mark.parametrize("value", HOSTILE)
def test_docstrings_are_safe_one_liners(value: str) -> None:
    source = docstring(value)
    assert "\n" not in source
    assert eval(source) == " ".join(value.split())


def test_ident_accepts_names_and_refuses_the_rest() -> None:
    assert identifier("deal_stage") == "deal_stage"
    for bad in ["class", "1a", "a-b", "a b", "", "x;import os", None]:
        with pytest.raises(GenerateError, match="not a valid Python identifier"):
            identifier(bad)


def test_long_database_names_are_shortened_stably() -> None:
    long = "ix_" + "x" * 80
    assert len(db_name(long)) == 63 and db_name(long) == db_name(long)
    assert db_name("ix_short") == "ix_short"


def test_toml_strings_are_json_strings() -> None:
    assert toml_string('a "b"\n') == '"a \\"b\\"\\n"'


def test_environment_settings_and_filters() -> None:
    env = make_environment()
    assert env.undefined.__name__ == "StrictUndefined"
    assert env.trim_blocks and env.lstrip_blocks and env.keep_trailing_newline
    assert env.autoescape("page.html") and not env.autoescape("models.py.j2")  # type: ignore[operator]
    rendered = env.from_string("{{ 'DealStage'|snake }} {{ s|py }}").render(s="x'")
    assert rendered == 'deal_stage "x\'"'
    # templates read an entity's plural from the spec (``plural:`` wins), never a filter
    assert "plural" not in env.filters


def test_compiled_templates_are_shared_and_an_edited_template_is_compiled_afresh(
    tmp_path: Path,
) -> None:
    from crmgen.render.environment import make_environment

    override = tmp_path / "override"
    override.mkdir()
    (override / "greeting.txt.j2").write_text("Hello {{ name }}", encoding="utf-8")
    assert make_environment(override).get_template("greeting.txt.j2").render(name="A") == "Hello A"
    (override / "greeting.txt.j2").write_text("Bye {{ name }}", encoding="utf-8")
    assert make_environment(override).get_template("greeting.txt.j2").render(name="A") == "Bye A"
    assert make_environment().bytecode_cache is make_environment(override).bytecode_cache
