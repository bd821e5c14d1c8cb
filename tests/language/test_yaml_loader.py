"""Safe YAML loading: positions, YAML 1.2 resolution, 1.1 warnings, tags, keys, aliases and bombs."""

from __future__ import annotations

import tracemalloc

import pytest

from crmgen.diagnostics import Position
from crmgen.language.yaml_loader import MAX_DEPTH, load_yaml


def _load(text: str):
    return load_yaml(text, "spec.yaml")


def _errors(loaded) -> list[str]:
    return [d.format_text() for d in loaded.diagnostics if d.severity == "error"]


def _warnings(loaded) -> list[str]:
    return [d.format_text() for d in loaded.diagnostics if d.severity == "warning"]


# -- positions ---------------------------------------------------------------------------------


def test_positions_of_keys_and_values_are_one_based() -> None:
    loaded = _load("app:\n  name: crm\n  title:   Big CRM\n")
    assert loaded.source.keys[("app",)] == Position("spec.yaml", 1, 1)
    assert loaded.source.keys[("app", "name")] == Position("spec.yaml", 2, 3)
    assert loaded.source.values[("app", "name")] == Position("spec.yaml", 2, 9)
    assert loaded.source.values[("app", "title")] == Position("spec.yaml", 3, 12)


def test_a_quoted_value_is_located_inside_its_quotes() -> None:
    loaded = _load("a: 'single'\nb: \"double\"\nc: plain\n")
    assert loaded.source.values[("a",)].column == 5  # the 's', not the quote
    assert loaded.source.values[("b",)].column == 5
    assert loaded.source.values[("c",)].column == 4


def test_positions_of_list_items_and_flow_mappings() -> None:
    loaded = _load("roles: [admin, sales]\nx: {y: 1}\nitems:\n  - one\n  - two\n")
    assert loaded.source.values[("roles", 1)] == Position("spec.yaml", 1, 16)
    assert loaded.source.keys[("x", "y")] == Position("spec.yaml", 2, 5)
    assert loaded.source.values[("items", 1)] == Position("spec.yaml", 5, 5)


def test_a_missing_path_falls_back_to_its_nearest_located_parent() -> None:
    loaded = _load("app:\n  name: crm\n")
    assert loaded.source.value(("app", "name", "deeper", 3)) == Position("spec.yaml", 2, 9)
    assert loaded.source.key(("app", "nope")) == loaded.source.values[("app",)]


# -- YAML 1.2 resolution -----------------------------------------------------------------------


def test_on_is_a_text_key_not_true() -> None:
    loaded = _load("on: {create: Deal}\nyes: 1\n")
    assert loaded.data == {"on": {"create": "Deal"}, "yes": 1}
    assert loaded.diagnostics == []


@pytest.mark.parametrize(
    "text, reason",
    [
        ("NO", "boolean"),
        ("off", "boolean"),
        ("Yes", "boolean"),
        ("010", "octal"),
        ("1_000", "'_'"),
        ("10:30", "base-60"),
        ("1e3", "YAML 1.1"),
        ("0b101", "binary"),
    ],
)
def test_yaml_1_1_surprises_stay_text_with_a_located_warning(text: str, reason: str) -> None:
    loaded = _load(f"x:\n  value: {text}\n")
    assert loaded.data == {"x": {"value": text}}
    assert _errors(loaded) == []
    [warning] = _warnings(loaded)
    assert warning.startswith("spec.yaml:2:10: warning: ")
    assert reason in warning and f'"{text}"' in warning  # says how to quote it


def test_quoting_a_yaml_1_1_surprise_silences_the_warning() -> None:
    loaded = _load("a: 'NO'\nb: \"010\"\n")
    assert loaded.data == {"a": "NO", "b": "010"}
    assert loaded.diagnostics == []


@pytest.mark.parametrize(
    "text, value",
    [
        ("true", True),
        ("False", False),
        ("~", None),
        ("null", None),
        ("", None),
        ("42", 42),
        ("-7", -7),
        ("0o17", 15),
        ("0x1F", 31),
        ("1.5", 1.5),
        ("-.5", -0.5),
        ("2.", 2.0),
        ("1.0e3", 1000.0),
        ("hello", "hello"),
    ],
)
def test_core_schema_scalars(text: str, value: object) -> None:
    loaded = _load(f"v: {text}\n")
    assert loaded.data == {"v": value} and type(loaded.data["v"]) is type(value)
    assert loaded.diagnostics == []


def test_infinity_and_not_a_number() -> None:
    data = _load("a: .inf\nb: -.Inf\nc: .nan\n").data
    assert data["a"] == float("inf") and data["b"] == float("-inf") and data["c"] != data["c"]


def test_core_tags_convert_and_check_their_text() -> None:
    loaded = _load("a: !!str 5\nb: !!int '7'\nc: !!float 2\nd: !!int seven\n")
    assert loaded.data == {"a": "5", "b": 7, "c": 2.0, "d": "seven"}
    [error] = _errors(loaded)
    assert error.startswith("spec.yaml:4:4: error: ") and "!!int" in error


# -- tags --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tagged",
    [
        "!!python/object:os.system {}",
        "!!python/object/apply:os.system ['echo hi']",
        "!!python/name:os.system ''",
        "!custom 1",
        "!!set {a}",
    ],
)
def test_python_and_unknown_tags_are_rejected_not_constructed(tagged: str) -> None:
    loaded = _load(f"app:\n  name: {tagged}\n")
    [error] = _errors(loaded)
    assert error.startswith("spec.yaml:2:9: error: ") and "tag" in error
    assert loaded.data == {"app": {"name": None}}


# -- keys --------------------------------------------------------------------------------------


def test_a_duplicate_key_is_an_error_at_the_second_with_the_first_position() -> None:
    loaded = _load("roles:\n  admin: A\n  sales: S\n  admin: B\n")
    [error] = _errors(loaded)
    assert error.startswith("spec.yaml:4:3: error: duplicate key 'admin'")
    assert "line 2, column 3" in error
    assert loaded.data == {"roles": {"admin": "A", "sales": "S"}}  # the first value is kept


@pytest.mark.parametrize("key", ["1", "true", "null", "~", "1.5"])
def test_a_key_that_is_not_text_is_an_error(key: str) -> None:
    loaded = _load(f"a: 1\n{key}: x\n")
    [error] = _errors(loaded)
    assert (
        error.startswith("spec.yaml:2:1: error: ") and "not text" in error and "quote it" in error
    )


def test_a_quoted_number_key_is_text() -> None:
    assert _load("'1': x\n").data == {"1": "x"}


def test_a_complex_key_is_an_error() -> None:
    loaded = _load("? [a, b]\n: x\n")
    [error] = _errors(loaded)
    assert "key must be plain text" in error


# -- anchors, aliases and merges ---------------------------------------------------------------


def test_anchors_and_aliases_reuse_a_value() -> None:
    loaded = _load("base: &b {type: string, max_length: 80}\nfirst: *b\nsecond: *b\n")
    assert loaded.diagnostics == []
    assert loaded.data["first"] == loaded.data["second"] == {"type": "string", "max_length": 80}


def test_merge_keys_merge_and_local_keys_win() -> None:
    text = "base: &b {x: 1, y: 2}\nboth: &c {z: 3}\nd:\n  <<: [*b, *c]\n  y: 9\n"
    loaded = _load(text)
    assert loaded.diagnostics == []
    assert loaded.data["d"] == {"x": 1, "y": 9, "z": 3}


def test_merging_a_scalar_is_an_error() -> None:
    loaded = _load("a: &a 1\nb:\n  <<: *a\n")
    [error] = _errors(loaded)
    assert error.startswith("spec.yaml:1:4: error: ") and "'<<'" in error


def test_a_billion_laughs_document_fails_fast_with_a_located_error() -> None:
    """10^10 strings if expanded: the loader stops at MAX_NODES, so its memory stays small (a
    bound on work done, not a wall-clock limit, which a busy machine would break)."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    tracemalloc.start()
    try:
        loaded = _load("\n".join(lines) + "\n")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100_000_000  # about 25 MB: MAX_NODES nodes, never the expansion
    assert loaded.data is None
    [error] = _errors(loaded)
    assert error.startswith("spec.yaml:") and "alias" in error
    line = int(error.split(":")[1])
    assert 2 <= line <= 10  # at the alias that blew the cap, not at 1:1


def test_a_recursive_alias_is_an_error_not_a_hang() -> None:
    loaded = _load("a: &x [1, *x]\n")
    assert loaded.data is None
    [error] = _errors(loaded)
    assert error.startswith("spec.yaml:1:") and "deeper" in error


def test_deep_nesting_is_capped() -> None:
    loaded = _load("a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n")
    assert loaded.data is None
    assert any("deeper" in e for e in _errors(loaded))


def test_nesting_within_the_cap_loads() -> None:
    depth = MAX_DEPTH - 2
    loaded = _load("a: " + "[" * depth + "]" * depth + "\n")
    assert loaded.diagnostics == [] and isinstance(loaded.data["a"], list)


# -- syntax errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, line",
    [
        ("a: [1, 2\n", 2),
        ("a:\n\t- b\n", 2),
        ("a: b\n c: d\n  e\n", 2),
        ("a: 'open\n", 2),
        ("a: *undefined\n", 1),
    ],
)
def test_syntax_errors_are_located_and_on_one_line(text: str, line: int) -> None:
    loaded = _load(text)
    assert loaded.data is None
    [error] = _errors(loaded)
    assert error.startswith(f"spec.yaml:{line}:")
    assert "\n" not in error


def test_a_control_character_is_located_at_itself() -> None:
    loaded = _load("a: 1\nb: x\x07y\n")
    [error] = _errors(loaded)
    assert error.startswith("spec.yaml:2:5: error: ") and "U+0007" in error


def test_an_empty_document_is_an_empty_mapping() -> None:
    assert _load("").data == {}
    assert _load("# only a comment\n").data == {}


def test_several_documents_are_an_error() -> None:
    loaded = _load("a: 1\n---\nb: 2\n")
    assert loaded.data is None and _errors(loaded)


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 5000 + "\n",
        "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "a: " + "{b: " * 3000 + "\n",
    ],
)
def test_thousands_of_brackets_are_an_error_not_a_recursion_error(text: str) -> None:
    loaded = _load(text)
    assert loaded.data is None
    [error] = _errors(loaded)
    assert error.startswith("spec.yaml:1:") and "deeper" in error


def test_libyaml_and_pure_python_agree_on_positions_with_wide_characters() -> None:
    loaded = _load("a: {Ж🎉: 'Ж🎉', b: \"q\"}\nc: x\x07y\n")
    [error] = _errors(loaded)
    assert error.startswith("spec.yaml:2:5: ")  # characters, not bytes
    ok = _load("a: {Ж🎉: 'Ж🎉', b: \"q\"}\n")
    assert ok.source.keys[("a", "b")] == Position("spec.yaml", 1, 15)
    assert ok.source.values[("a", "Ж🎉")] == Position("spec.yaml", 1, 10)
