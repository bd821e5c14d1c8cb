"""Request payloads checked against the spec's field constraints: a 422 names every bad field.

``validate(resource, payload, partial=...)`` returns the values by field name, coerced to what
the columns store (``Decimal``, ``date``, aware UTC ``datetime``, record ids); ``coerce`` is
the same check for one value, used by the list filters as well.

Every message about a field has a stable code in ``MESSAGES``: the API answers the English
text, and ``explain`` gives back the code and its parameters (the web UI translates them).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import string
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from crmgen_runtime import fields, phones
from crmgen_runtime.errors import ApiError
from crmgen_runtime.fields import Coerce
from crmgen_runtime.resources import FieldInfo, Resource

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE = re.compile(r"\+?[0-9 ()\-.]{3,32}")
URL = re.compile(r"https?://\S+")
MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
INT64 = (-(2**63), 2**63 - 1)  # a bigint column's range
TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?")  # HH:MM[:SS]
MAX_JSON_DEPTH = 32
MAX_LIST = 10_000
_PATTERNS: dict[str, re.Pattern[str]] = {}
_WIDE = Context(prec=100)


# What can be wrong with a field, by code; ``{name}`` marks a parameter. The last two are the
# words of ``crud`` (unique values, links to missing records).
MESSAGES: dict[str, str] = {
    "required": "This field is required.",
    "server_set": "This field is set by the server and cannot be written.",
    "unknown_field": "Unknown field.",
    "read_only": "This field is read-only.",
    "not_writable": "Fields of type {type} cannot be written through the API.",
    "not_text": "Must be text.",
    "nul": "Must not contain NUL characters.",
    "too_short": "Must be at least {min} characters long.",
    "too_long": "Must be at most {max} characters long.",
    "no_match": "Must match the pattern {pattern}.",
    "single_line": "Must be a single line.",
    "not_email": "Must be a valid e-mail address.",
    "not_phone": "Must be a valid phone number.",
    "not_phone_number": "Must be a phone number: a number of {region}, or one with + and its country code.",
    "not_url": "Must be a valid web address (http or https).",
    "not_file": "Must be an uploaded file's id (POST /api/files) or a web address.",
    "not_in_choices": "Must be one of: {choices}.",
    "not_a_choice": "{value} is not one of: {choices}.",
    "not_integer": "Must be a whole number.",
    "too_small": "Must be at least {min}.",
    "too_large": "Must be at most {max}.",
    "not_number": "Must be a number (or a decimal number as text).",
    "not_finite": "Must be a finite number.",
    "not_decimal": "Must be a decimal number.",
    "too_big": "Must be less than {limit} in size.",
    "too_precise": "Must have at most {scale} decimal places.",
    "not_boolean": "Must be true or false.",
    "not_date": "Must be a date like 2024-12-31.",
    "not_datetime": "Must be a date and time like 2024-12-31T09:30:00Z.",
    "not_time": "Must be a time of day like 09:30 or 09:30:15.",
    "too_deep": "Must not nest deeper than {depth} levels.",
    "not_int64": "Numbers must fit in 64 bits.",
    "not_id": "Must be the id of a record (a positive whole number).",
    "not_id_list": "Must be a list of record ids.",
    "too_many": "Must have at most {max} items.",
    "not_ids": "Must be a list of record ids (positive whole numbers).",
    "not_record_id": "Must be a record id.",
    "json_filter": "JSON fields can only be filtered with __isnull.",
    "duplicate": "Another record already has this value.",
    "no_such_record": "No {target} with id {ids}.",
    # a workflow's refusals (``workflows``)
    "next_states": "Allowed next states: {states}.",
    "state_required": "Required to move to {state}.",
    "state_conditions": "The record does not meet the conditions of {state}.",
}


def _explainer(template: str) -> re.Pattern[str]:
    """A regex matching the messages of ``template``, a named group per parameter."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name:
            parts.append(f"(?P<{name}>.+)")
    return re.compile("".join(parts), re.DOTALL)


# Longest fixed text first: "at least {min} characters long" before "at least {min}".
_EXPLAINERS = sorted(
    ((code, _explainer(text)) for code, text in MESSAGES.items()),
    key=lambda item: -len(re.sub(r"\{[^}]*\}", "", MESSAGES[item[0]])),
)


def message(code: str, **params: Any) -> str:
    """The English message of ``code`` with its parameters."""
    return MESSAGES[code].format(**params)


def explain(text: str) -> tuple[str, dict[str, str]] | None:
    """The code and parameters of a message made by ``message``; None for other words."""
    for code, pattern in _EXPLAINERS:
        found = pattern.fullmatch(text)
        if found:
            return code, found.groupdict()
    return None


class Invalid(ValueError):
    """A value that does not fit its field; the message is for people."""


def invalid(code: str, **params: Any) -> Invalid:
    return Invalid(message(code, **params))


def validate(resource: Resource, payload: Any, *, partial: bool) -> dict[str, Any]:
    """The checked values of ``payload``; raises ``ApiError(422)`` naming each bad field.

    ``partial`` (an update) checks only the fields given; otherwise required fields must be
    there. Unknown fields and fields nobody may write (read-only, computed, ``id``...) are
    refused.
    """
    if not isinstance(payload, dict):
        raise ApiError(422, "validation_error", "The request body must be a JSON object.")
    problems: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, value in payload.items():
        info = resource.fields.get(name)
        if info is None:
            if name in resource.system_fields:
                problems[name] = message("server_set")
            else:
                problems[str(name)] = message("unknown_field")
            continue
        if info.read_only:
            problems[name] = message("read_only")
            continue
        try:
            values[name] = coerce(info, value)
        except Invalid as exc:
            problems[name] = str(exc)
    if not partial:
        for info in resource.fields.values():
            if info.required and values.get(info.name) is None and info.name not in problems:
                problems[info.name] = message("required")
    if problems:
        raise ApiError(
            422, "validation_error", "Some fields are invalid.", dict(sorted(problems.items()))
        )
    return values


def coerce(info: FieldInfo, value: Any) -> Any:
    """``value`` as the column of ``info`` stores it; raises ``Invalid``."""
    if value is None:
        if info.not_null:
            raise invalid("required")
        return [] if info.is_list else None
    behaviour = fields.lookup(info.type)
    if behaviour is None:
        raise invalid("not_writable", type=info.type)
    return behaviour.coerce(info, value)


def _text(info: FieldInfo, value: Any) -> str:
    if not isinstance(value, str):
        raise invalid("not_text")
    if "\x00" in value:
        raise invalid("nul")
    options = info.options
    if "min_length" in options and len(value) < options["min_length"]:
        raise invalid("too_short", min=options["min_length"])
    if "max_length" in options and len(value) > options["max_length"]:
        raise invalid("too_long", max=options["max_length"])
    pattern = options.get("pattern")
    if pattern is not None:
        compiled = _PATTERNS.get(pattern) or _PATTERNS.setdefault(pattern, re.compile(pattern))
        if not compiled.fullmatch(value):
            raise invalid("no_match", pattern=pattern)
    return value


def _string(info: FieldInfo, value: Any) -> str:
    text = _text(info, value)
    if "\n" in text or "\r" in text:
        raise invalid("single_line")
    return text


def _format(regex: re.Pattern[str], code: str) -> Any:
    def check(info: FieldInfo, value: Any) -> str:
        text = _text(info, value)
        if not regex.fullmatch(text):
            raise invalid(code)
        return text

    return check


def _phone(info: FieldInfo, value: Any) -> str:
    """A phone number: E.164 when the app has a default region (``phones``), else checked by
    its characters only."""
    text: str = _format(PHONE, "not_phone")(info, value)
    region = info.options.get("region")
    if not region:
        return text
    number = phones.normalise(text, region)
    if number is None:
        raise invalid("not_phone_number", region=region)
    return number


FILE_ID = re.compile(r"[A-Za-z0-9_-]{22}")  # crmgen_runtime.files.ID


def _file(info: FieldInfo, value: Any) -> str:
    """An uploaded file's id (claimed for the record by ``files.claim``), or a web address
    (an external link, as every value was before files were stored)."""
    text = _text(info, value)
    if not (FILE_ID.fullmatch(text) or URL.fullmatch(text)):
        raise invalid("not_file")
    return text


def _enum(info: FieldInfo, value: Any) -> str:
    allowed = info.options.get("values", ())
    if not isinstance(value, str) or value not in allowed:
        raise invalid("not_in_choices", choices=", ".join(allowed))
    return value


def _integer(info: FieldInfo, value: Any) -> int:
    if isinstance(value, bool):
        raise invalid("not_integer")
    whole = isinstance(value, float) and value.is_integer()
    if whole or isinstance(value, str) and re.fullmatch(r"[-+]?[0-9]{1,20}", value.strip()):
        value = int(value)
    if not isinstance(value, int):
        raise invalid("not_integer")
    _range(info, value)
    return value


def _bigint(info: FieldInfo, value: Any) -> int:
    """A 64-bit integer: a JSON number, or its digits as text (JavaScript keeps 2**53 at most).
    A float beyond 2**53 is refused: the JSON reader makes one of an integer beyond 64 bits."""
    if isinstance(value, float) and abs(value) >= 2**53:
        raise invalid("not_int64")
    number = _integer(info, value)
    if not INT64[0] <= number <= INT64[1]:
        raise invalid("not_int64")
    return number


def _float(info: FieldInfo, value: Any) -> float:
    """A finite double: a JSON number or its text; NaN and the infinities are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise invalid("not_number")
    if isinstance(value, str) and (len(value) > 64 or not _FLOAT.fullmatch(value.strip())):
        raise invalid("not_number")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond the largest double
        raise invalid("not_finite") from None
    if not math.isfinite(number):
        raise invalid("not_finite")
    _range(info, number)
    return number


_FLOAT = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")  # no nan, no inf


def _range(info: FieldInfo, value: float | Decimal) -> None:
    low, high = info.options.get("min"), info.options.get("max")
    if low is not None and value < low:
        raise invalid("too_small", min=low)
    if high is not None and value > high:
        raise invalid("too_large", max=high)


def _decimal(info: FieldInfo, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise invalid("not_number")
    if isinstance(value, float) and not math.isfinite(value):
        raise invalid("not_finite")
    if isinstance(value, str) and len(value) > 64:
        raise invalid("not_decimal")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise invalid("not_decimal") from None
    if not number.is_finite():
        raise invalid("not_finite")
    scale = info.options.get("scale", 2)
    precision = info.options.get("precision", 12)
    limit = Decimal(10) ** (precision - scale)
    if number != 0 and number.adjusted() >= precision - scale:
        raise invalid("too_big", limit=limit)
    quantum = Decimal(1).scaleb(-scale)
    rounded = number.quantize(quantum, context=_WIDE)
    if rounded != number:
        raise invalid("too_precise", scale=scale)
    if abs(rounded) >= limit:
        raise invalid("too_big", limit=limit)
    number = rounded
    _range(info, number)
    return number


def _boolean(info: FieldInfo, value: Any) -> bool:
    if not isinstance(value, bool):
        raise invalid("not_boolean")
    return value


def _date(info: FieldInfo, value: Any) -> dt.date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise invalid("not_date")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise invalid("not_date") from None


def _datetime(info: FieldInfo, value: Any) -> dt.datetime:
    if not isinstance(value, str) or not re.fullmatch(
        r"\d{4}-\d{2}-\d{2}[T ][0-9:.+\-Z]{2,40}", value
    ):
        raise invalid("not_datetime")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise invalid("not_datetime") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise invalid("not_datetime") from None


def _time(info: FieldInfo, value: Any) -> dt.time:
    if not isinstance(value, str) or not TIME.fullmatch(value):
        raise invalid("not_time")
    return dt.time.fromisoformat(value)


def _json(info: FieldInfo, value: Any) -> Any:
    _json_check(value, 0)
    return value


def _json_check(value: Any, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise invalid("too_deep", depth=MAX_JSON_DEPTH)
    if isinstance(value, str):
        if "\x00" in value:
            raise invalid("nul")
    elif isinstance(value, dict):
        for key, item in value.items():
            _json_check(key, depth + 1)
            _json_check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _json_check(item, depth + 1)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**63 - 1:
        raise invalid("not_int64")


def record_id(value: Any) -> int:
    """A record id: a positive integer, or ``{"id": n}`` as the API returns links."""
    if isinstance(value, dict) and "id" in value:
        value = value["id"]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise invalid("not_id")
    return value


def _ref(info: FieldInfo, value: Any) -> int:
    return record_id(value)


def _refs(info: FieldInfo, value: Any) -> list[int]:
    if not isinstance(value, list):
        raise invalid("not_id_list")
    if len(value) > MAX_LIST:
        raise invalid("too_many", max=MAX_LIST)
    ids: list[int] = []
    for item in value:
        try:
            number = record_id(item)
        except Invalid:
            raise invalid("not_ids") from None
        if number not in ids:
            ids.append(number)
    return ids


_TEXT_CHECKS: dict[str, Coerce] = {
    "string": _string,
    "text": _text,
    "file": _file,
    "image": _file,
    "email": _format(EMAIL, "not_email"),
    "phone": _phone,
    "url": _format(URL, "not_url"),
    "enum": _enum,
}
NUMBER_TYPES = frozenset({"integer", "bigint", "float", "decimal", "money"})
_OTHER_CHECKS: dict[str, Coerce] = {
    "integer": _integer,
    "bigint": _bigint,
    "float": _float,
    "decimal": _decimal,
    "money": _decimal,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
    "time": _time,
    "json": _json,
    "ref": _ref,
    "refs": _refs,
}
for _name, _check in _TEXT_CHECKS.items():
    fields.register(fields.FieldType(_name, _check, text=True))
for _name, _check in _OTHER_CHECKS.items():
    fields.register(fields.FieldType(_name, _check, number=_name in NUMBER_TYPES))
BUILT_IN = frozenset(_TEXT_CHECKS) | frozenset(_OTHER_CHECKS)


def parse_query_value(type_: str, info: FieldInfo | None, raw: str) -> Any:
    """A filter value from the query string, as the column compares it; raises ``Invalid``."""
    if "\x00" in raw:
        raise invalid("nul")
    if type_ in ("ref", "refs") or (info is None and type_ == "integer"):
        try:
            number = int(raw)
        except ValueError:
            raise invalid("not_record_id") from None
        if not 0 <= number <= MAX_ID:
            raise invalid("not_record_id")
        return number
    if type_ == "boolean":
        lowered = raw.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise invalid("not_boolean")
    kind = fields.lookup(type_)
    if kind is not None and (kind.number or type_ not in BUILT_IN):
        # a number, or a plugin type: the value as the column stores it (an IBAN without its
        # spaces), checked by the type itself
        return kind.coerce(FieldInfo("filter", type_, options=_loose(info)), raw)
    if type_ == "date":
        return _date(FieldInfo("filter", type_), raw)
    if type_ == "datetime":
        return _datetime(FieldInfo("filter", type_), raw)
    if type_ == "time":
        return _time(FieldInfo("filter", type_), raw)
    if type_ == "json":
        raise invalid("json_filter")
    if type_ == "phone" and info is not None and info.options.get("region"):
        # a stored number is E.164: a filter finds it however it is written
        return phones.normalise(raw, info.options["region"]) or raw
    if type_ == "enum" and info is not None:
        allowed = info.options.get("values", ())
        if raw not in allowed:
            shown = raw if len(raw) <= 100 else raw[:100] + "…"
            raise invalid("not_a_choice", value=repr(shown), choices=", ".join(allowed))
        return raw
    if len(raw) > 1000:
        raise invalid("too_long", max=1000)
    return raw


def _loose(info: FieldInfo | None) -> dict[str, Any]:
    """The options of ``info`` without its range: a filter may compare with any number."""
    options = dict(info.options) if info is not None else {}
    options.pop("min", None)
    options.pop("max", None)
    if info is not None and info.type == "integer":
        options.update(min=-(2**31), max=2**31 - 1)
    if info is not None and info.type == "bigint":
        options.update(min=INT64[0], max=INT64[1])
    if "scale" in options:
        options["scale"] = max(options["scale"], 12)
        options["precision"] = options.get("precision", 12) + 12
    return options
