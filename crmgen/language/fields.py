"""Field types: the registry that says what each type accepts and how its default is checked.

Adding a field type is one ``register`` call here (its options, as JSON Schema fragments, and a
default checker) plus its column/widget templates in the generators.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from crmgen.language.names import ENUM_VALUE

DefaultCheck = Callable[[Any, dict[str, Any]], str | None]

_NUMBER = {"type": "number"}
_COUNT = {"type": "integer", "minimum": 0}


@dataclass(frozen=True)
class FieldType:
    """One field type: its name, what it stores and the extra keys it accepts."""

    name: str
    summary: str
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    check_default: DefaultCheck = lambda value, raw: None
    searchable: bool = False
    relation: bool = False


REGISTRY: dict[str, FieldType] = {}


def register(field_type: FieldType) -> FieldType:
    REGISTRY[field_type.name] = field_type
    return field_type


def _text_default(value: Any, raw: dict[str, Any]) -> str | None:
    if not isinstance(value, str):
        return f"the default must be text, got {_show(value)}"
    if "max_length" in raw and len(value) > raw["max_length"]:
        return f"the default is longer than max_length {raw['max_length']}"
    if "min_length" in raw and len(value) < raw["min_length"]:
        return f"the default is shorter than min_length {raw['min_length']}"
    if "pattern" in raw:
        try:
            if not re.fullmatch(raw["pattern"], value):
                return f"the default does not match the pattern {raw['pattern']!r}"
        except re.error:
            return None  # the pattern itself is reported
    return None


def _number_default(kind: type) -> DefaultCheck:
    def check(value: Any, raw: dict[str, Any]) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            hint = ""
            if isinstance(value, str) and re.fullmatch(r"[-+]?[0-9][0-9_]*(\.[0-9_]*)?", value):
                hint = f" (YAML 1.2 reads '_' in a number as text; write {value.replace('_', '')})"
            return f"the default must be a number, got {_show(value)}{hint}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"the default must be a finite number, got {_show(value)}"
        if kind is int and not isinstance(value, int):
            return f"the default of an integer field must be a whole number, got {value}"
        if "min" in raw and isinstance(raw["min"], (int, float)) and value < raw["min"]:
            return f"the default {value} is below min {raw['min']}"
        if "max" in raw and isinstance(raw["max"], (int, float)) and value > raw["max"]:
            return f"the default {value} is above max {raw['max']}"
        if kind is Decimal:
            try:
                scale = -Decimal(str(value)).as_tuple().exponent  # type: ignore[operator]
            except InvalidOperation:
                return f"the default {value} is not a decimal number"
            if scale > raw.get("scale", 2):
                return f"the default {value} has more than {raw.get('scale', 2)} decimal places"
        return None

    return check


def _bool_default(value: Any, raw: dict[str, Any]) -> str | None:
    return (
        None
        if isinstance(value, bool)
        else f"the default must be true or false, got {_show(value)}"
    )


def _date_default(value: Any, raw: dict[str, Any]) -> str | None:
    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        return f"the default must be a date like 2024-12-31 (or '=today()'), got {_show(value)}"
    return None


def _datetime_default(value: Any, raw: dict[str, Any]) -> str | None:
    try:
        dt.datetime.fromisoformat(str(value))
    except ValueError:
        return f"the default must be a date-time like 2024-12-31T09:00 (or '=now()'), got {_show(value)}"
    return None


def _enum_default(value: Any, raw: dict[str, Any]) -> str | None:
    values = enum_values(raw.get("values"))
    if value not in values:
        from crmgen.diagnostics import did_you_mean

        hint = did_you_mean(str(value), values)
        return f"the default {_show(value)} is not one of the values ({', '.join(values)}){hint}"
    return None


def _pattern_default(kind: str, rx: str) -> DefaultCheck:
    def check(value: Any, raw: dict[str, Any]) -> str | None:
        problem = _text_default(value, raw)
        if problem:
            return problem
        if not re.fullmatch(rx, value):
            return f"the default {_show(value)} is not a valid {kind}"
        return None

    return check


def _no_default(kind: str) -> DefaultCheck:
    return lambda value, raw: f"a {kind} field cannot have a default"


def enum_values(raw: Any) -> list[str]:
    """The value names of an enum's ``values`` (a list, or a mapping of value -> label)."""
    if isinstance(raw, list):
        return [v for v in raw if isinstance(v, str)]
    if isinstance(raw, dict):
        return list(raw)
    return []


def _show(value: Any) -> str:
    return (
        repr(value)
        if isinstance(value, str)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
    )


_LENGTHS = {"min_length": _COUNT, "max_length": {"type": "integer", "minimum": 1}}
_SEARCH = {"searchable": {"type": "boolean"}}
_ENUM_VALUE = {"type": "string", "pattern": ENUM_VALUE.pattern, "x-error": "enum value"}
_VALUE_DETAIL = {
    "anyOf": [
        {"$ref": "#/$defs/text"},
        {
            "type": "object",
            "properties": {
                "label": {"$ref": "#/$defs/text"},
                "weight": {"type": "number", "minimum": 0, "maximum": 1},
                "color": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
            },
            "additionalProperties": False,
        },
    ]
}

register(
    FieldType(
        "string",
        "one line of text (255 characters unless max_length says)",
        {**_LENGTHS, "pattern": {"type": "string"}, **_SEARCH},
        _text_default,
        True,
    )
)
register(
    FieldType("text", "long text, several lines", {**_LENGTHS, **_SEARCH}, _text_default, True)
)
register(
    FieldType("integer", "a whole number", {"min": _NUMBER, "max": _NUMBER}, _number_default(int))
)
register(
    FieldType(
        "decimal",
        "an exact decimal number",
        {
            "min": _NUMBER,
            "max": _NUMBER,
            "precision": {"type": "integer", "minimum": 1, "maximum": 18, "x-error": "precision"},
            "scale": {"type": "integer", "minimum": 0, "maximum": 12},
        },
        _number_default(Decimal),
    )
)
register(
    FieldType(
        "money",
        "an amount of money (a decimal with 2 places and a currency)",
        {
            "min": _NUMBER,
            "max": _NUMBER,
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "x-error": "currency"},
        },
        _number_default(Decimal),
    )
)
register(FieldType("boolean", "yes or no", {}, _bool_default))
register(FieldType("date", "a calendar date", {}, _date_default))
register(
    FieldType(
        "datetime",
        "a date and time (stored in UTC, shown in the app's time zone)",
        {},
        _datetime_default,
    )
)
register(
    FieldType(
        "email",
        "an e-mail address",
        {"max_length": _LENGTHS["max_length"], **_SEARCH},
        _pattern_default("e-mail address", r"[^@\s]+@[^@\s]+\.[^@\s]+"),
        True,
    )
)
register(
    FieldType(
        "phone",
        "a phone number (digits, spaces, + - ( ))",
        {"max_length": _LENGTHS["max_length"], **_SEARCH},
        _pattern_default("phone number", r"\+?[0-9 ()\-.]{3,32}"),
        True,
    )
)
register(
    FieldType(
        "url",
        "a web address (http or https)",
        {"max_length": _LENGTHS["max_length"]},
        _pattern_default("URL", r"https?://\S+"),
    )
)
register(
    FieldType(
        "enum",
        "one of a fixed list of values, each with a label",
        {
            "values": {
                "anyOf": [
                    {"type": "array", "items": _ENUM_VALUE, "minItems": 1},
                    {
                        "type": "object",
                        "minProperties": 1,
                        "propertyNames": {"pattern": ENUM_VALUE.pattern},
                        "additionalProperties": _VALUE_DETAIL,
                    },
                ]
            }
        },
        _enum_default,
    )
)
register(FieldType("json", "structured data (any JSON value)", {}, lambda value, raw: None))
register(
    FieldType(
        "file",
        "an uploaded file",
        {
            "accept": {"type": "array", "items": {"type": "string"}},
            "max_size_mb": {"type": "number", "exclusiveMinimum": 0},
        },
        _no_default("file"),
    )
)
_TO = {"to": {"$ref": "#/$defs/entity_name"}, "back": {"$ref": "#/$defs/snake_name"}}
register(
    FieldType(
        "ref",
        "a link to one record of another entity (many-to-one, or one-to-one)",
        {
            **_TO,
            "on_delete": {"enum": ["cascade", "set_null", "restrict"]},
            "one_to_one": {"type": "boolean"},
        },
        _no_default("ref"),
        relation=True,
    )
)
register(
    FieldType(
        "refs",
        "links to many records of another entity (many-to-many)",
        {**_TO, "through": {"$ref": "#/$defs/snake_name"}},
        _no_default("refs"),
        relation=True,
    )
)

SEARCHABLE_BY_DEFAULT = ("string", "email", "phone")
