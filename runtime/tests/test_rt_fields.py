"""crmgen_runtime.fields: field behaviour by type name, built-ins and entry-point plugins."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from crmgen_runtime import fields, validation
from crmgen_runtime.resources import FieldInfo


def _upper(info: Any, value: Any) -> str:
    if not isinstance(value, str):
        raise validation.Invalid("Must be text.")
    return value.upper()


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A package ``rt_shout`` whose ``shout`` type is declared by an installed entry point."""
    (tmp_path / "rt_shout.py").write_text(
        "from crmgen_runtime.fields import FieldType\n"
        "SHOUT = FieldType('shout', lambda info, v: str(v).upper(), text=True,"
        " format=lambda v: v + '!')\n"
        "NOT_A_TYPE = 42\n"
    )
    info = tmp_path / "rt_shout-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rt-shout\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[crmgen_runtime.fields]\nshout = rt_shout:SHOUT\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield "shout"
    fields.REGISTRY.pop("shout", None)
    sys.modules.pop("rt_shout", None)


def test_builtins_are_registered() -> None:
    assert fields.lookup("string") is not None
    assert fields.is_text("email") and fields.is_text("enum")
    assert not fields.is_text("integer") and not fields.is_text("no-such-type")
    assert fields.display("integer", 5) is None  # the pages' own formatting


def test_register_and_use_in_validation() -> None:
    fields.register(fields.FieldType("upper", _upper, text=True, format=lambda v: f"<{v}>"))
    try:
        assert validation.coerce(FieldInfo("code", "upper"), "ab") == "AB"
        with pytest.raises(validation.Invalid, match="Must be text"):
            validation.coerce(FieldInfo("code", "upper"), 3)
        assert fields.display("upper", "AB") == "<AB>"
        fields.require(["upper", "string"])
        # a list filter on a plugin type compares with the value as the type stores it
        assert validation.parse_query_value("upper", None, "ab") == "AB"
    finally:
        del fields.REGISTRY["upper"]


def test_number_types_filter_by_their_own_rules_without_the_range() -> None:
    assert all(fields.lookup(name).number for name in ("integer", "decimal", "money"))  # type: ignore[union-attr]
    assert not fields.lookup("string").number  # type: ignore[union-attr]
    price = FieldInfo("price", "money", options={"min": 0, "precision": 6, "scale": 2})
    assert validation.parse_query_value("money", price, "-5.125") == Decimal("-5.125")
    with pytest.raises(validation.Invalid):
        validation.parse_query_value("integer", None, "many")


def test_unknown_type_is_not_writable_and_required_names_it() -> None:
    with pytest.raises(validation.Invalid, match="cannot be written"):
        validation.coerce(FieldInfo("x", "no-such-type"), "a")
    with pytest.raises(fields.MissingFieldType, match="no-such-type.*crmgen_runtime.fields"):
        fields.require(["no-such-type", "string"])


def test_a_plugin_is_found_through_its_entry_point(plugin: str) -> None:
    assert plugin not in fields.REGISTRY
    found = fields.lookup(plugin)
    assert found is not None and found.text
    assert validation.coerce(FieldInfo("x", plugin), "hey") == "HEY"
    assert fields.display(plugin, "HEY") == "HEY!"


def test_an_entry_point_that_is_no_field_type_is_refused(plugin: str, tmp_path: Path) -> None:
    (tmp_path / "rt_shout-1.0.dist-info" / "entry_points.txt").write_text(
        "[crmgen_runtime.fields]\nbad = rt_shout:NOT_A_TYPE\n"
    )
    importlib.invalidate_caches()
    with pytest.raises(TypeError, match="rt_shout:NOT_A_TYPE"):
        fields.load_plugins()
