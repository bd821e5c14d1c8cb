"""The list query of the API: filters, sort, keyset cursors and search, checked.

``limit`` (default 50, at most 500), ``cursor`` (opaque, keyset over the sort: the page after
a row, or before it for the ``prev_cursor`` of a page) or ``offset`` (at most
``LIST_MAX_OFFSET``: deeper pages are reached by cursor), ``count=exact|estimate|none`` (see
``counts``), ``sort=field,-other``, filters ``field=value`` and
``field__gt|gte|lt|lte|ne|in|contains|isnull=value``, and ``q=`` (search). A field named like a
list parameter (``RESERVED_PARAMETERS``) is filtered with an operator: ``format__eq=pdf``. A bad parameter is
a 400 (``bad_query``) naming it. Only fields the reader may read can filter or sort.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa

from crmgen_runtime import counts, crypto, fields, phones, textsearch, validation
from crmgen_runtime.errors import ApiError
from crmgen_runtime.resources import FieldInfo, Resource
from crmgen_runtime.responses import aware, json_ready

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_IN = 500  # values of one ``__in`` filter
MAX_WORDS = 8  # words of a search
MAX_TEXT = 1000  # characters of a ``__contains`` filter or a search
MAX_CURSOR_INTEGER = 2**63
LIST_PARAMETERS = frozenset({"limit", "cursor", "offset", "sort", "q", "count"})
# Names the list query keeps for itself (planned: ``fields``, ``format``): a field so named is
# filtered with an explicit operator only (``format__eq=pdf``), never bare.
RESERVED_PARAMETERS = LIST_PARAMETERS | {"count", "fields", "format"}
OPERATORS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "isnull"})
NOT_NULL_SYSTEM = frozenset({"id", "version", "created_at", "updated_at"})
_LIKE_ESCAPE = re.compile(r"([\\%_])")
_WHOLE = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True)
class SortKey:
    """One column of a list's order."""

    name: str
    column: Any
    descending: bool
    nullable: bool
    type: str


@dataclass
class ListQuery:
    """The list parameters of one request, checked."""

    limit: int
    offset: int
    sort: list[SortKey]
    sort_text: str  # the order as ``sort=`` writes it, ``id`` included
    cursor: list[Any] | None  # the sort values of the row the page starts after (or before)
    conditions: list[sa.ColumnElement[bool]]
    count: str = counts.DEFAULT  # exact, estimate or none
    backward: bool = False  # the cursor names the row the page ends before (a prev_cursor)


def bad_query(name: str, message: str) -> ApiError:
    """The 400 of a bad query parameter ``name``."""
    return ApiError(400, "bad_query", f"{name}: {message}", {name: message})


def _integer_parameter(name: str, raw: str, low: int, high: int) -> int:
    if not _WHOLE.fullmatch(raw) or not low <= int(raw) <= high:
        raise bad_query(name, f"Must be a whole number from {low} to {high}.")
    return int(raw)


def _column_type(resource: Resource, names: frozenset[str], name: str) -> str | None:
    """The type of a readable field or system column ``name`` (None: no such field)."""
    if name not in names:
        return None
    return resource.type_of(name)


def parse_sort(resource: Resource, names: frozenset[str], text: str) -> list[SortKey]:
    """The keys of ``sort=`` text (``id`` added last, so the order is total)."""
    keys: list[SortKey] = []
    for part in text.split(","):
        part = part.strip()
        descending = part.startswith("-")
        name = part.lstrip("-+")
        type_ = _column_type(resource, names, name)
        info = resource.fields.get(name)
        if type_ is None or type_ == "json" or (info is not None and info.is_list):
            raise bad_query("sort", f"Cannot sort by {name!r}.")
        if info is not None and info.encrypted:
            raise bad_query("sort", f"Cannot sort by {name!r}: it is stored encrypted.")
        if any(key.name == name for key in keys):
            raise bad_query("sort", f"{name!r} is named twice.")
        nullable = name not in NOT_NULL_SYSTEM and not (info is not None and info.not_null)
        keys.append(SortKey(name, resource.attribute(name), descending, nullable, type_))
    if not any(key.name == "id" for key in keys):
        # the tie-breaker goes the way of the last key: one index (..., id) serves both ways
        descending = keys[-1].descending if keys else False
        keys.append(SortKey("id", resource.attribute("id"), descending, False, "integer"))
    return keys


def order_by(keys: list[SortKey], backward: bool = False) -> list[Any]:
    """The ORDER BY of ``keys`` (``backward``: the same order reversed). An empty value counts
    as the greatest, as PostgreSQL's indexes keep it: last going up, first going down, so one
    ascending btree index serves a sort both ways (scanned backward for descending)."""
    order: list[Any] = []
    for key in keys:
        descending = key.descending != backward
        column = key.column.desc() if descending else key.column.asc()
        if key.nullable:  # said outright: SQLite puts empty values first going up
            column = column.nulls_first() if descending else column.nulls_last()
        order.append(column)
    return order


def after(keys: list[SortKey], values: list[Any], backward: bool = False) -> sa.ColumnElement[bool]:
    """Rows after the row whose sort values are ``values`` in the order of ``order_by`` (the
    keyset condition), or before it when ``backward``; empty values are the greatest."""
    alternatives = []
    equal: list[sa.ColumnElement[bool]] = []
    for key, value in zip(keys, values, strict=True):
        descending = key.descending != backward
        if value is None:
            if descending:  # going down, the empty values come first: every value follows
                alternatives.append(sa.and_(*equal, key.column.is_not(None)))
            equal.append(key.column.is_(None))
            continue
        beyond = key.column < value if descending else key.column > value
        if key.nullable and not descending:
            beyond = sa.or_(beyond, key.column.is_(None))
        alternatives.append(sa.and_(*equal, beyond))
        equal.append(key.column == value)
    found = sa.or_(*alternatives) if alternatives else sa.false()
    first, value = (keys[0], values[0]) if keys else (None, None)
    if first is None or value is None:
        return found
    descending = first.descending != backward
    if first.nullable and not descending:  # the empty values follow too: no single bound
        return found
    # the same rows, bounded by the first key: an index scan starts at the cursor instead of
    # reading (and filtering out) every row before it
    bound = first.column <= value if descending else first.column >= value
    return sa.and_(bound, found)


def encode_cursor(sort_text: str, values: list[Any], backward: bool = False) -> str:
    """The opaque cursor of the page after the row whose sort values are ``values`` (before
    it when ``backward``)."""
    parts: list[Any] = [sort_text, [json_ready(v) for v in values]]
    if backward:
        parts.append("before")
    raw = orjson.dumps(parts)
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str, sort_text: str, keys: list[SortKey]) -> list[Any]:
    """The sort values of a cursor made for the same order (400 otherwise)."""
    return read_cursor(text, sort_text, keys)[0]


def read_cursor(text: str, sort_text: str, keys: list[SortKey]) -> tuple[list[Any], bool]:
    """The sort values of a cursor made for the same order, and whether it pages backward
    (400 otherwise)."""
    invalid = bad_query(
        "cursor", "Invalid cursor: use the next_cursor or prev_cursor of the same list query."
    )
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        sort, values, *direction = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise invalid from None
    if sort != sort_text or not isinstance(values, list) or len(values) != len(keys):
        raise invalid
    if direction not in ([], ["before"]):
        raise invalid
    decoded: list[Any] = []
    for key, value in zip(keys, values, strict=True):
        if value is None:
            if not key.nullable:
                raise invalid
            decoded.append(None)
            continue
        try:
            decoded.append(_cursor_value(key.type, value))
        except (ValueError, TypeError, ArithmeticError):
            raise invalid from None
    return decoded, bool(direction)


def _cursor_value(type_: str, value: Any) -> Any:
    if type_ in ("integer", "bigint", "ref"):
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_CURSOR_INTEGER:
            raise ValueError(value)
        return value
    if type_ == "boolean":
        if not isinstance(value, bool):
            raise ValueError(value)
        return value
    if type_ == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(value)
        return float(value)
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError(value)
    if type_ in ("decimal", "money"):
        number = Decimal(value)
        if not number.is_finite():
            raise ValueError(value)
        return number
    if type_ == "date":
        return dt.date.fromisoformat(value)
    if type_ == "datetime":
        return aware(dt.datetime.fromisoformat(value))
    if type_ == "time":
        return dt.time.fromisoformat(value)
    return value


def like(word: str) -> str:
    """The LIKE pattern (escape ``\\``) of text containing ``word``."""
    return "%" + _LIKE_ESCAPE.sub(r"\\\1", word) + "%"


def _json_isnull(column: Any, wanted: bool) -> sa.ColumnElement[bool]:
    """A JSON column is empty when it is NULL or holds JSON ``null``."""
    text = sa.cast(column, sa.Text)
    if wanted:
        return sa.or_(column.is_(None), text == "null")
    return sa.and_(column.is_not(None), text != "null")


def _filter(
    resource: Resource, names: frozenset[str], key: str, raw: str
) -> sa.ColumnElement[bool]:
    name, _, op = key.rpartition("__")
    if not name or op not in OPERATORS:
        name, op = key, "eq"
        if key in RESERVED_PARAMETERS:
            raise bad_query(key, f"{key}= is a list parameter; filter the field with {key}__eq=.")
    type_ = _column_type(resource, names, name)
    if type_ is None:
        raise bad_query(key, f"Unknown parameter or field {name!r}.")
    info = resource.fields.get(name)
    if info is not None and info.is_list:
        return _list_filter(resource, info, key, op, raw)
    if info is not None and info.encrypted and op != "isnull":
        return _encrypted_filter(resource, info, key, op, raw)
    column = resource.attribute(name)
    try:
        if op == "isnull":
            wanted = validation.parse_query_value("boolean", None, raw)
            if type_ == "json":
                return _json_isnull(column, wanted)
            found: sa.ColumnElement[bool] = column.is_(None) if wanted else column.is_not(None)
            return found
        if op == "contains":
            if not fields.is_text(type_):
                raise validation.Invalid("__contains works on text fields only.")
            if "\x00" in raw or len(raw) > MAX_TEXT:
                raise validation.Invalid("Must be at most 1000 characters of text.")
            contains: sa.ColumnElement[bool] = column.ilike(like(raw), escape="\\")
            return contains
        if op == "in":
            parts = raw.split(",") if raw else []
            if len(parts) > MAX_IN:
                raise validation.Invalid(f"At most {MAX_IN} values.")
            values = [validation.parse_query_value(type_, info, p) for p in parts]
            among: sa.ColumnElement[bool] = column.in_(values)
            return among
        value = validation.parse_query_value(type_, info, raw)
    except validation.Invalid as exc:
        raise bad_query(key, str(exc)) from None
    if op == "eq":
        equal: sa.ColumnElement[bool] = column == value
        return equal
    if op == "ne":
        return sa.or_(column != value, column.is_(None))
    if type_ == "boolean":
        raise bad_query(key, f"__{op} does not apply to true/false fields.")
    compared: sa.ColumnElement[bool] = {
        "gt": column > value,
        "gte": column >= value,
        "lt": column < value,
        "lte": column <= value,
    }[op]
    return compared


def _encrypted_filter(
    resource: Resource, info: FieldInfo, key: str, op: str, raw: str
) -> sa.ColumnElement[bool]:
    """An encrypted field is found by equality through its blind index (``eq``, ``in``), or
    by emptiness; the database can compare nothing else of it."""
    if not info.blind:
        raise bad_query(
            key, f"{info.name} is stored encrypted: filter it only with {info.name}__isnull."
        )
    if op not in ("eq", "in"):
        raise bad_query(
            key,
            f"{info.name} is stored encrypted: filter it by equality ({info.name}= or "
            f"{info.name}__in=) or with {info.name}__isnull.",
        )
    parts = (raw.split(",") if raw else []) if op == "in" else [raw]
    if len(parts) > MAX_IN:
        raise bad_query(key, f"At most {MAX_IN} values.")
    try:
        values = [validation.parse_query_value(info.type, info, p) for p in parts]
    except validation.Invalid as exc:
        raise bad_query(key, str(exc)) from None
    hashes = [crypto.blind_value(v, info.encrypted) for v in values]
    column = getattr(resource.model, info.blind)
    found: sa.ColumnElement[bool] = column.in_(hashes) if op == "in" else column == hashes[0]
    return found


def filter_condition(
    resource: Resource, names: frozenset[str], key: str, raw: str
) -> sa.ColumnElement[bool]:
    """The condition of one filter ``key=raw`` (``field`` or ``field__op``) over the readable
    fields ``names``; 400 naming ``key`` when it is bad (``backs`` filters related records so)."""
    return _filter(resource, names, key, raw)


def _list_filter(
    resource: Resource, info: FieldInfo, key: str, op: str, raw: str
) -> sa.ColumnElement[bool]:
    assert info.join is not None
    own, target = info.join.c[info.join_own], info.join.c[info.join_target]
    model_id = resource.attribute("id")
    try:
        if op == "isnull":
            empty = validation.parse_query_value("boolean", None, raw)
            linked = model_id.in_(sa.select(own))
            return sa.not_(linked) if empty else linked  # type: ignore[no-any-return]
        if op == "eq":
            ids = [validation.parse_query_value("refs", info, raw)]
        elif op == "in":
            parts = raw.split(",") if raw else []
            if len(parts) > MAX_IN:
                raise validation.Invalid(f"At most {MAX_IN} values.")
            ids = [validation.parse_query_value("refs", info, p) for p in parts]
        else:
            raise validation.Invalid(f"__{op} does not apply to lists; use =, __in or __isnull.")
    except validation.Invalid as exc:
        raise bad_query(key, str(exc)) from None
    listed: sa.ColumnElement[bool] = model_id.in_(sa.select(own).where(target.in_(ids)))
    return listed


def search_columns(resource: Resource, names: frozenset[str]) -> list[Any]:
    """The columns ``q=`` searches: the readable text fields among the search fields."""
    return [
        resource.attribute(name)
        for name in resource.search
        if name in names and fields.is_text(resource.fields[name].type)
    ]


def search_words(q: str) -> list[str]:
    """The words of ``q=`` (at most 8); 400 for NUL or text over 1000 characters."""
    if "\x00" in q or len(q) > MAX_TEXT:
        raise bad_query("q", "Must be at most 1000 characters of text.")
    return q.split()[:MAX_WORDS]


def search_index(resource: Resource, names: frozenset[str]) -> textsearch.Index:
    """The table's SQLite search index (``ftsindex``): every text search field of the table
    (as the app's ``SEARCH_COLUMNS`` lists them), the readable ones those a search looks in."""
    indexed = [
        name
        for name in resource.search
        if fields.is_text(resource.fields[name].type) and resource.fields[name].type != "file"
    ]
    column = {name: resource.attribute(name).expression.name for name in indexed}
    readable = [column[name] for name in indexed if name in names]
    table = resource.model.__table__
    return textsearch.Index(table.name, table.c.id, list(column.values()), readable)


def search(resource: Resource, names: frozenset[str], q: str) -> list[sa.ColumnElement[bool]]:
    """The conditions of ``q=``: each word (at most 8) in one of the readable search fields
    (see ``textsearch``)."""
    columns = search_columns(resource, names)
    words = search_words(q)
    if not columns:
        return [sa.false()] if words else []
    language = resource.search_language
    index = search_index(resource, names)
    used = index if len(index.readable) == len(columns) else None  # each column indexed
    found: list[sa.ColumnElement[bool]] = [
        textsearch.Found(language, columns, like(word), word, used) for word in words
    ]
    numbers = phone_matches(resource, names, q)
    return [sa.or_(*numbers, sa.and_(*found))] if numbers else found


def phone_matches(
    resource: Resource, names: frozenset[str], q: str
) -> list[sa.ColumnElement[bool]]:
    """``q=`` read as a phone number: a whole one as its E.164 form in the readable search
    fields stored so (``phones``), whatever way it is written ("8 912 345-67-89" finds
    +79123456789); a part of one (4 digits or more, with separators: "123-45") by its digits."""
    matches = []
    text = q.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    partial = len(digits) >= PHONE_PART_DIGITS and PHONE_TEXT.fullmatch(text) is not None
    for name in resource.search:
        info = resource.fields[name]
        region = info.options.get("region")
        if name in names and info.type == "phone" and region:
            number = phones.normalise(text, region)
            if number is not None:
                matches.append(resource.attribute(name) == number)
            elif partial:
                matches.append(resource.attribute(name).contains(digits, autoescape=True))
    return matches


PHONE_PART_DIGITS = 4  # the fewest digits a part of a phone number is searched by
PHONE_TEXT = re.compile(r"[0-9 ()+\-.]+")  # what a typed phone number is made of


def rank_key(resource: Resource, names: frozenset[str], q: str) -> SortKey | None:
    """The order of a search without an explicit sort: the best match first (None when there
    is nothing to rank)."""
    columns = search_columns(resource, names)
    words = search_words(q)
    if not columns or not words:
        return None
    index = search_index(resource, names)
    used = index if len(index.readable) == len(columns) else None  # each column indexed
    rank = textsearch.Rank(resource.search_language, columns, " ".join(words), used)
    return SortKey(textsearch.RANK, rank, True, False, "float")


def parse_list_query(
    resource: Resource,
    names: frozenset[str],
    params: list[tuple[str, str]],
    max_offset: int = counts.MAX_OFFSET,
) -> ListQuery:
    """The list parameters of ``params`` (the query string) over the readable fields
    ``names``; 400 naming a bad one, and 400 ``offset_too_large`` for an offset over
    ``max_offset``."""
    seen: dict[str, str] = {}
    conditions: list[sa.ColumnElement[bool]] = []
    for key, value in params:
        if key in LIST_PARAMETERS:
            if key in seen:
                raise bad_query(key, "Given more than once.")
            seen[key] = value
        else:
            conditions.append(_filter(resource, names, key, value))
    limit = DEFAULT_LIMIT
    if "limit" in seen:
        limit = _integer_parameter("limit", seen["limit"], 1, MAX_LIMIT)
    offset = 0
    if "offset" in seen:
        offset = _offset(seen["offset"], max_offset)
    if "offset" in seen and "cursor" in seen:
        raise bad_query("cursor", "Use either cursor or offset, not both.")
    sort_text = seen.get("sort") or ",".join(resource.default_sort)
    keys = parse_sort(resource, names, sort_text)
    ranked = None if seen.get("sort") else rank_key(resource, names, seen.get("q", ""))
    if ranked is not None:  # a search without an explicit sort: the best match first
        keys.insert(0, ranked)
    sort_text = ",".join(("-" if k.descending else "") + k.name for k in keys)
    cursor, backward = None, False
    if seen.get("cursor"):
        cursor, backward = read_cursor(seen["cursor"], sort_text, keys)
    if "q" in seen:
        conditions.extend(search(resource, names, seen["q"]))
    count = seen.get("count") or counts.DEFAULT
    if count not in counts.KINDS:
        hint = "; filter the field count with count__eq=" if "count" in resource.fields else ""
        raise bad_query("count", f"Must be exact, estimate or none{hint}.")
    return ListQuery(limit, offset, keys, sort_text, cursor, conditions, count, backward)


def _offset(raw: str, max_offset: int) -> int:
    """The ``offset`` of ``raw``: 400 when it is not a whole number, ``offset_too_large`` over
    ``max_offset`` (a deep offset reads every row it skips: deeper pages go by cursor)."""
    if not (raw.isascii() and raw.isdigit()):
        raise bad_query("offset", "Must be a whole number of at least 0.")
    offset = int(raw) if len(raw) <= 18 else max_offset + 1
    if offset > max_offset:
        message = (
            f"At most {max_offset}: page further with cursor (each answer's next_cursor),"
            " which stays fast however deep."
        )
        raise ApiError(400, "offset_too_large", f"offset: {message}", {"offset": message})
    return offset
