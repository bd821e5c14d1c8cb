"""Field types: one object per type carrying what every layer of the generator needs.

A ``FieldType`` says what the spec accepts (its options, as JSON Schema fragments, and a default
checker) and what the generated app does with the field: its column (``column``: Python source
of the SQLAlchemy type, and the ``imports`` it needs), its Python annotation, its JSON Schema in
the API (``api_schema``), its form widget (the runtime's or the plugin's runtime half's template
``widgets/<name>.html``) and list filter (names the runtime understands), how an import reads a
cell (``import_kind``), its CHECK constraints (``checks``) and, for a type the built-in sample
rules do not know, its sample values (``sample``, ``invalid``).

Built-ins register here with ``register``; a plugin registers the same object through the
``crmgen.fields`` entry point (see crmgen/plugins.py) and names the distribution the generated
app must install (``distribution``), which also carries the type's runtime half
(``crmgen_runtime.fields``).
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
ColumnSource = Callable[[Any], str]  # a crmgen.language.model.Field -> "sa.String(255)"

# A form widget's name: the app's site includes ``widgets/<name>.html`` (the runtime's, a
# plugin's runtime half's or the app's own), and stops at start when none is found.
WIDGET_NAME = re.compile(r"[a-z][a-z0-9_-]*")
TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?")  # a time of day, HH:MM[:SS]
_NUMBER = {"type": "number"}
_COUNT = {"type": "integer", "minimum": 0}


@dataclass(frozen=True)
class FieldType:
    """One field type: its name, what it stores and the extra keys it accepts."""

    name: str
    summary: str
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    check_default: DefaultCheck = lambda value, raw: None
    searchable: bool = False  # its values may be searched as text (an entity's ``search``, q=)
    searched_by_default: bool = False  # a field is searched unless it says ``searchable: false``
    relation: bool = False
    # -- the column (models, migrations) -----------------------------------------------------
    column: ColumnSource | None = None  # None: no column of its own (a many-to-many list)
    python_type: str = "str"  # the annotation of the mapped column
    imports: tuple[str, ...] = ()  # import lines the column type and annotation need
    nullable_annotation: bool = True  # an optional field is annotated ``T | None``
    checks: str = ""  # the CHECK constraints it takes: "length", "range", "values" or ""
    exact: bool = False  # a Decimal: CHECKs compare typed values, samples are quantized
    # a literal default as Python source: a format string around the value (None: no literal)
    default_source: str | None = "{}"
    default_as_text: bool = False  # the value goes in as text (Decimal("1.5"), dates)
    # -- the API, the web UI and imports (names the runtime understands) -----------------------
    text: bool = False  # stored and filtered as text (searchable, ``__contains``...)
    api_schema: dict[str, Any] | None = None  # JSON Schema of a value, for OpenAPI
    api_format: str | None = None  # the OpenAPI format of a text type without api_schema
    widget: str | None = None  # the form input: text, textarea, number, checkbox, select...
    filter: str | None = None  # the list filter: text, number, enum, boolean, date, datetime
    import_kind: str = "text"  # how an imported cell is read: text, number, date, datetime...
    exported: bool = True  # in the list's CSV and spreadsheet exports (not a stored file's path)
    numeric: bool = False  # a number: summed in lists and documents, step of its input
    currency: bool = False  # an amount of money: shown with its currency, summed on boards
    # -- samples for a type the built-in rules do not know (demo data, the app's tests) --------
    sample: Callable[[int], Any] | None = None  # the i-th valid value, distinct for each i
    invalid: tuple[Any, ...] = ()  # values the API must refuse
    distribution: str | None = None  # the plugin's distribution the generated app depends on

    def __post_init__(self) -> None:
        if self.widget is not None and not WIDGET_NAME.fullmatch(self.widget):
            raise ValueError(
                f"the field type {self.name!r} names the widget {self.widget!r}: a widget is "
                "the name of a template widgets/<name>.html (a-z, digits, - and _)"
            )


REGISTRY: dict[str, FieldType] = {}


def register(field_type: FieldType) -> FieldType:
    REGISTRY[field_type.name] = field_type
    return field_type


def numeric_types() -> tuple[str, ...]:
    """The names of the registered number types (what a sum or a total may add up)."""
    return tuple(name for name, kind in REGISTRY.items() if kind.numeric)


def field_type(name: str) -> FieldType:
    """The registered type ``name``; a KeyError names the type when it is not installed."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no field type {name!r} is registered (a plugin not installed?)") from None


def _sized(default: int) -> ColumnSource:
    return lambda f: f"sa.String({f.max_length or default})"


def _exact(f: Any) -> str:
    return f"ExactDecimal({f.precision or 12}, {f.scale if f.scale is not None else 2})"


def _enum_column(f: Any) -> str:
    return f"sa.String({max(len(v.name) for v in f.values)})"


_DECIMAL = ("from decimal import Decimal", "from crmgen_runtime.decimals import ExactDecimal")
_TEXT = {
    "column": _sized(255),
    "text": True,
    "searchable": True,
    "checks": "length",
    "widget": "text",
}
_NUMBER_KIND = {"checks": "range", "numeric": True, "filter": "number", "import_kind": "number"}
_DECIMAL_KIND = {
    **_NUMBER_KIND,
    "column": _exact,
    "python_type": "Decimal",
    "imports": _DECIMAL,
    "exact": True,
    "default_source": "Decimal({})",
    "default_as_text": True,
    "widget": "number",
}


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
        if kind is int and not -(2**63) <= value < 2**63:
            return f"the default {value} does not fit in 64 bits"
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


def _time_default(value: Any, raw: dict[str, Any]) -> str | None:
    if not isinstance(value, str) or not TIME.fullmatch(value):
        return f"the default must be a time like 09:30 or 09:30:15, got {_show(value)}"
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
        **_TEXT,
        searched_by_default=True,
        filter="text",
    )
)
register(
    FieldType(
        "text",
        "long text, several lines",
        {**_LENGTHS, **_SEARCH},
        _text_default,
        **{**_TEXT, "column": lambda f: "sa.Text()", "widget": "textarea"},
        filter="text",
    )
)


def _plain_number(
    name: str, doc: str, python: type, column: str, schema: dict[str, str]
) -> FieldType:
    """A number stored as is (no scale): integer, bigint, float."""
    return FieldType(
        name,
        doc,
        {"min": _NUMBER, "max": _NUMBER},
        _number_default(python),
        column=lambda f: column,
        python_type=python.__name__,
        api_schema=schema,
        widget="number",
        **_NUMBER_KIND,
    )


register(_plain_number("integer", "a whole number", int, "sa.Integer()", {"type": "integer"}))
register(
    _plain_number(
        "bigint",
        "a whole number of 64 bits (up to 9223372036854775807)",
        int,
        "sa.BigInteger()",
        {"type": "integer", "format": "int64"},
    )
)
register(
    _plain_number(
        "float",
        "a floating-point number (64-bit IEEE 754: inexact, for measures, not money)",
        float,
        "sa.Double()",
        {"type": "number", "format": "double"},
    )
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
        **_DECIMAL_KIND,
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
        **_DECIMAL_KIND,
        currency=True,
    )
)
register(
    FieldType(
        "boolean",
        "yes or no",
        {},
        _bool_default,
        column=lambda f: "sa.Boolean()",
        python_type="bool",
        api_schema={"type": "boolean"},
        widget="checkbox",
        filter="boolean",
        import_kind="boolean",
    )
)
register(
    FieldType(
        "date",
        "a calendar date",
        {},
        _date_default,
        column=lambda f: "sa.Date()",
        python_type="dt.date",
        default_source="dt.date.fromisoformat({})",
        default_as_text=True,
        api_schema={"type": "string", "format": "date"},
        widget="date",
        filter="date",
        import_kind="date",
    )
)
register(
    FieldType(
        "datetime",
        "a date and time (stored in UTC, shown in the app's time zone)",
        {},
        _datetime_default,
        column=lambda f: "sa.DateTime(timezone=True)",
        python_type="dt.datetime",
        default_source="dt.datetime.fromisoformat({})",
        default_as_text=True,
        api_schema={"type": "string", "format": "date-time"},
        widget="datetime-local",
        filter="datetime",
        import_kind="datetime",
    )
)
register(
    FieldType(
        "time",
        "a time of day without a date or time zone (HH:MM or HH:MM:SS)",
        {},
        _time_default,
        column=lambda f: "sa.Time()",
        python_type="dt.time",
        default_source="dt.time.fromisoformat({})",
        default_as_text=True,
        api_schema={"type": "string", "pattern": f"^{TIME.pattern}$", "example": "09:30:00"},
        widget="time",
        filter="time",
        import_kind="time",
    )
)
register(
    FieldType(
        "email",
        "an e-mail address",
        {"max_length": _LENGTHS["max_length"], **_SEARCH},
        _pattern_default("e-mail address", r"[^@\s]+@[^@\s]+\.[^@\s]+"),
        **{**_TEXT, "column": _sized(254), "widget": "email"},
        api_format="email",
        searched_by_default=True,
        filter="text",
    )
)
register(
    FieldType(
        "phone",
        "a phone number (digits, spaces, + - ( ))",
        {"max_length": _LENGTHS["max_length"], **_SEARCH},
        _pattern_default("phone number", r"\+?[0-9 ()\-.]{3,32}"),
        **{**_TEXT, "column": _sized(32), "widget": "tel"},
        searched_by_default=True,
        filter="text",
    )
)
register(
    FieldType(
        "url",
        "a web address (http or https)",
        {"max_length": _LENGTHS["max_length"]},
        _pattern_default("URL", r"https?://\S+"),
        **{**_TEXT, "column": _sized(2048), "widget": "url"},
        api_format="uri",
        filter="text",
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
        column=_enum_column,
        text=True,
        checks="values",
        widget="select",
        filter="enum",
        import_kind="choice",
    )
)
register(
    FieldType(
        "json",
        "structured data (any JSON value)",
        {},
        lambda value, raw: None,
        column=lambda f: 'sa.JSON().with_variant(JSONB(), "postgresql")',
        python_type="Any",
        imports=("from typing import Any", "from sqlalchemy.dialects.postgresql import JSONB"),
        nullable_annotation=False,
        default_source=None,
        widget="json",
        import_kind="json",
    )
)
register(
    FieldType(
        "file",
        "an uploaded file",
        {
            "accept": {"type": "array", "items": {"type": "string"}},
            "max_size_mb": {"type": "number", "exclusiveMinimum": 0},
        },
        _no_default("file"),
        column=lambda f: "sa.String(1024)",
        text=True,
        widget="file",
        import_kind="file",
        exported=False,
    )
)
register(
    FieldType(
        "image",
        "an uploaded image (PNG, JPEG, GIF or WebP, checked by its content), with a thumbnail",
        {
            "accept": {"type": "array", "items": {"type": "string"}},
            "max_size_mb": {"type": "number", "exclusiveMinimum": 0},
        },
        _no_default("image"),
        column=lambda f: "sa.String(1024)",
        text=True,
        widget="file",
        import_kind="file",
        exported=False,
    )
)
# A relation's target, its reverse side's name and the target's field its links show.
_TO = {
    "to": {"$ref": "#/$defs/entity_name"},
    "back": {"$ref": "#/$defs/snake_name"},
    "display": {"$ref": "#/$defs/snake_name"},
}
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
        column=lambda f: "sa.Integer()",
        python_type="int",
        widget="ref",
        import_kind="ref",
    )
)
register(
    FieldType(
        "refs",
        "links to many records of another entity (many-to-many)",
        {**_TO, "through": {"$ref": "#/$defs/snake_name"}},
        _no_default("refs"),
        relation=True,
        import_kind="refs",
    )
)
