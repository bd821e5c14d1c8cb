"""The generic REST handlers over a ``Resource``: list, create, read, update, delete.

Reads select columns with SQLAlchemy Core and serialise with orjson (no ORM objects). A list
page costs a fixed number of statements whatever its size: the total, the page (its rows
chosen on the record's table, then joined to the display values of their references) and one
per many-to-many field. Writes run
in one transaction with the audit entry; database constraint errors become 409/422 answers.

List query: ``limit`` (default 50, at most 500), ``cursor`` (opaque, keyset over the
sort) or ``offset``, ``sort=field,-other``, filters ``field=value`` and
``field__gt|gte|lt|lte|ne|in|contains|isnull=value``, and ``q=`` (search).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import orjson
import sqlalchemy as sa
from crmgen_runtime import accounts, audit, fields, links, permissions, validation
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError, not_found
from crmgen_runtime.events import Event
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import FieldInfo, Resource
from sqlalchemy.orm import aliased
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from reference_crm import auth
from reference_crm.models import utcnow
from reference_crm.resources import BY_NAME
from reference_crm.settings import fn

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 2**31 - 1
MAX_IN = 500
MAX_WORDS = 8
LIST_PARAMETERS = frozenset({"limit", "cursor", "offset", "sort", "q"})
OPERATORS = frozenset(
    {"eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "isnull"}
)
NOT_NULL_SYSTEM = frozenset({"id", "version", "created_at", "updated_at"})
_LIKE_ESCAPE = re.compile(r"([\\%_])")


# --- JSON ----------------------------------------------------------------------------------


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(data: Any) -> bytes:
    return orjson.dumps(data, default=_default)


class JSONResponse(Response):
    """A JSON response rendered by orjson (decimals as strings of digits, dates in ISO 8601)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def json_ready(value: Any) -> Any:
    """``value`` as JSON carries it: dates in ISO 8601, decimals as strings of every digit
    (``0.000000000001``, never ``1E-12``)."""
    if isinstance(value, dt.datetime):
        return _aware(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _aware(value: dt.datetime) -> dt.datetime:
    """``value`` in UTC (SQLite hands back naive datetimes, stored in UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def parse_json(body: bytes) -> Any:
    """A request's JSON body (its size capped by ``body_limit``); 400 when it is missing or
    malformed."""
    if not body.strip():
        raise ApiError(
            400, "invalid_json", "The request body is empty: send a JSON object."
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(
            400, "invalid_json", "The request body is not valid JSON."
        ) from None


# --- reading rows --------------------------------------------------------------------------


class Projection:
    """The columns a user may read of a resource, as one SELECT, and rows -> JSON objects.

    References come with their display value through outer joins that find the linked record
    only when the reader may reach it (``links``): live, and within the reader's read rule
    (``reading`` adds the rule to the join's condition), so a link out of reach keeps its id
    and shows no display value; ``shown`` names the references whose target's display field
    the reader may see (the others select no display at all).
    """

    def __init__(
        self, resource: Resource, names: frozenset[str], shown: frozenset[str]
    ) -> None:
        model = resource.model
        columns: list[Any] = []
        readers: list[tuple[str, str, int]] = []  # (name, kind, index)
        # (target, alias, join condition) of each reference whose display is shown
        self.joins: list[tuple[Resource, Any, sa.ColumnElement[bool]]] = []
        self.lists: list[FieldInfo] = []
        self.roles = resource.name == accounts.USER  # users: their role names too
        self.model = model
        self.catalog = resource.catalog
        for name in resource.system_fields:
            if name in names:
                readers.append(
                    (name, "time" if name.endswith("_at") else "plain", len(columns))
                )
                columns.append(getattr(model, name))
        for info in resource.fields.values():
            if info.name not in names:
                continue
            if info.is_list:
                self.lists.append(info)
            elif info.is_ref:
                readers.append((info.name, "ref", len(columns)))
                columns.append(getattr(model, info.column))
                columns.append(self._display(info) if info.name in shown else sa.null())
            else:
                kind = "time" if info.type == "datetime" else "plain"
                readers.append((info.name, kind, len(columns)))
                columns.append(getattr(model, info.column))
        self.columns = sa.select(
            *columns
        )  # without their FROM: ``_joined`` adds the joins
        self.select = self._joined({})
        self.readers = tuple(readers)
        self.id_index = next(i for name, _, i in readers if name == "id")
        # Statements of the common requests, built once: executing the same statement object
        # lets SQLAlchemy reuse its compiled form without re-deriving it per request.
        live = links.live(resource)
        self.one = self.select.where(model.id == sa.bindparam("record_id"), *live)  # type: ignore[attr-defined]
        self.count = sa.select(sa.func.count()).select_from(model).where(*live)
        self.pages: dict[str, sa.Select[Any]] = {}
        self.live = live

    def _display(self, info: FieldInfo) -> Any:
        """The display column of the record ``info`` links to, through an outer join."""
        target = BY_NAME[info.target]
        alias = aliased(target.model, name=f"ref_{info.name}")
        display = target.fields.get(target.display)
        joined = alias.id == getattr(self.model, info.column)  # type: ignore[attr-defined]
        self.joins.append((target, alias, sa.and_(joined, *links.live(target, alias))))
        return getattr(alias, display.column if display is not None else target.display)

    def _joined(self, rules: Mapping[int, sa.ColumnElement[bool]]) -> sa.Select[Any]:
        """The columns from the record's table and the outer joins, ``rules`` added to theirs."""
        joined: Any = self.model.__table__  # type: ignore[attr-defined]
        for index, (_, alias, onclause) in enumerate(self.joins):
            rule = rules.get(index)
            joined = sa.outerjoin(
                joined, alias, onclause if rule is None else sa.and_(onclause, rule)
            )
        return self.columns.select_from(joined)

    def reading(self, user: CurrentUser | None) -> sa.Select[Any]:
        """The SELECT as ``user`` reads it: each link's display only within their read rule
        (``self.select`` itself when every linked record is within it)."""
        rules = {
            index: rule
            for index, (target, alias, _) in enumerate(self.joins)
            if (rule := links.condition(target, user, alias)) is not None
        }
        return self._joined(rules) if rules else self.select

    def page(
        self,
        select: sa.Select[Any],
        conditions: list[sa.ColumnElement[bool]],
        keys: list[SortKey],
        offset: int = 0,
    ) -> sa.Select[Any]:
        """``select`` (this projection's, as ``reading`` gives it) limited to one page in the
        order of ``keys`` (``limit`` a bound parameter). The page's ids are chosen on the
        record's own table first, so the links' joins and their read rules cost a row shown,
        not a row matched."""
        order = _order_by(keys)
        ids = (
            sa.select(self.model.id)  # type: ignore[attr-defined]
            .where(*conditions)
            .order_by(*order)
            .limit(sa.bindparam("page_limit"))
            .correlate(None)
        )
        if offset:
            ids = ids.offset(offset)
        return select.where(self.model.id.in_(ids)).order_by(*order)  # type: ignore[attr-defined]

    def first_page(self, keys: list[SortKey], sort_text: str) -> sa.Select[Any]:
        """The unfiltered first page in the order ``sort_text`` (``limit`` a bound parameter)."""
        page = self.pages.get(sort_text)
        if page is None:
            page = self.page(self.select, self.live, keys)
            self.pages[sort_text] = page
        return page

    def items(self, connection: sa.Connection, rows: list[Any]) -> list[dict[str, Any]]:
        items = []
        for row in rows:
            item: dict[str, Any] = {}
            for name, kind, index in self.readers:
                value = row[index]
                if kind == "ref":
                    if value is not None:
                        shown = row[index + 1]
                        display = "" if shown is None else str(json_ready(shown))
                        value = {"id": value, "display": display}
                elif kind == "time" and value is not None:
                    value = _aware(value)
                item[name] = value
            items.append(item)
        if self.lists and items:
            ids = [item["id"] for item in items]
            for info in self.lists:
                assert info.join is not None
                own, target = info.join.c[info.join_own], info.join.c[info.join_target]
                linked: dict[int, list[int]] = {}
                for owner_id, target_id in connection.execute(
                    sa.select(own, target).where(own.in_(ids)).order_by(own, target)
                ):
                    linked.setdefault(owner_id, []).append(target_id)
                for item in items:
                    item[info.name] = linked.get(item["id"], [])
        if self.roles and items:
            roles = accounts.roles_of(
                connection, self.catalog, [item["id"] for item in items]
            )
            for item in items:
                item[accounts.ROLES_FIELD] = roles.get(item["id"], [])
        return items


_SHAPES: dict[tuple[str, frozenset[str], frozenset[str]], Projection] = {}


def projection(resource: Resource, user: CurrentUser | None) -> Projection:
    """The (cached) projection of what ``user`` may read of ``resource``."""
    names = permissions.readable(resource, user)
    shown = frozenset(
        info.name
        for info in resource.fields.values()
        if info.is_ref
        and info.name in names
        and links.shows_display(BY_NAME[info.target], user)
    )
    key = (resource.path, names, shown)
    shape = _SHAPES.get(key)
    if shape is None:
        shape = _SHAPES.setdefault(key, Projection(resource, names, shown))
    return shape


def fetch_one(
    connection: sa.Connection,
    resource: Resource,
    user: CurrentUser | None,
    record_id: int,
    action: str | None = "read",
) -> dict[str, Any] | None:
    """The record as JSON, or None when it does not exist (or the rule of ``action`` hides it)."""
    shape = projection(resource, user)
    select = shape.reading(user)
    stmt = shape.one
    if select is not shape.select:
        stmt = select.where(shape.model.id == sa.bindparam("record_id"), *shape.live)
    if action is not None:
        rule = permissions.condition(resource, _signed_in(user), action)
        stmt = stmt if rule is None else stmt.where(rule)
    row = connection.execute(stmt, {"record_id": record_id}).first()
    if row is None:
        return None
    return shape.items(connection, [row])[0]


# --- the list query ------------------------------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    name: str
    column: Any
    descending: bool
    nullable: bool
    type: str


@dataclass
class ListQuery:
    limit: int
    offset: int
    sort: list[SortKey]
    sort_text: str
    cursor: list[Any] | None
    conditions: list[sa.ColumnElement[bool]]


def bad_query(name: str, message: str) -> ApiError:
    return ApiError(400, "bad_query", f"{name}: {message}", {name: message})


def _integer_parameter(name: str, raw: str, low: int, high: int) -> int:
    if not re.fullmatch(r"[0-9]{1,10}", raw) or not low <= int(raw) <= high:
        raise bad_query(name, f"Must be a whole number from {low} to {high}.")
    return int(raw)


def _column_type(resource: Resource, names: frozenset[str], name: str) -> str | None:
    """The type of a readable field or system column ``name`` (None: no such field)."""
    if name not in names:
        return None
    return resource.type_of(name)


def parse_sort(resource: Resource, names: frozenset[str], text: str) -> list[SortKey]:
    keys: list[SortKey] = []
    for part in text.split(","):
        part = part.strip()
        descending = part.startswith("-")
        name = part.lstrip("-+")
        type_ = _column_type(resource, names, name)
        info = resource.fields.get(name)
        if type_ is None or type_ == "json" or (info is not None and info.is_list):
            raise bad_query("sort", f"Cannot sort by {name!r}.")
        if any(key.name == name for key in keys):
            raise bad_query("sort", f"{name!r} is named twice.")
        nullable = name not in NOT_NULL_SYSTEM and not (
            info is not None and info.not_null
        )
        keys.append(
            SortKey(name, resource.attribute(name), descending, nullable, type_)
        )
    if not any(key.name == "id" for key in keys):
        keys.append(SortKey("id", resource.attribute("id"), False, False, "integer"))
    return keys


def _order_by(keys: list[SortKey]) -> list[Any]:
    """NULLs sort last in both directions, on SQLite and PostgreSQL alike."""
    order: list[Any] = []
    for key in keys:
        if key.nullable:
            order.append(key.column.is_(None))
        order.append(key.column.desc() if key.descending else key.column.asc())
    return order


def _after(keys: list[SortKey], values: list[Any]) -> sa.ColumnElement[bool]:
    """Rows after the row whose sort values are ``values`` (the keyset condition)."""
    alternatives = []
    equal: list[sa.ColumnElement[bool]] = []
    for key, value in zip(keys, values, strict=True):
        if value is None:
            equal.append(key.column.is_(None))
            continue
        beyond = key.column < value if key.descending else key.column > value
        if key.nullable:
            beyond = sa.or_(beyond, key.column.is_(None))
        alternatives.append(sa.and_(*equal, beyond))
        equal.append(key.column == value)
    return sa.or_(*alternatives) if alternatives else sa.false()


def encode_cursor(sort_text: str, values: list[Any]) -> str:
    raw = orjson.dumps([sort_text, [json_ready(v) for v in values]])
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str, sort_text: str, keys: list[SortKey]) -> list[Any]:
    invalid = bad_query(
        "cursor", "Invalid cursor: use the next_cursor of the same list query."
    )
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        sort, values = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise invalid from None
    if sort != sort_text or not isinstance(values, list) or len(values) != len(keys):
        raise invalid
    decoded = []
    for key, value in zip(keys, values):
        if value is None:
            if not key.nullable:
                raise invalid
            decoded.append(None)
            continue
        try:
            decoded.append(_cursor_value(key.type, value))
        except (ValueError, TypeError, ArithmeticError):
            raise invalid from None
    return decoded


def _cursor_value(type_: str, value: Any) -> Any:
    if type_ in ("integer", "ref"):
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**63:
            raise ValueError(value)
        return value
    if type_ == "boolean":
        if not isinstance(value, bool):
            raise ValueError(value)
        return value
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
        return _aware(dt.datetime.fromisoformat(value))
    return value


def _like(word: str) -> str:
    return "%" + _LIKE_ESCAPE.sub(r"\\\1", word) + "%"


def _filter(
    resource: Resource, names: frozenset[str], key: str, raw: str
) -> sa.ColumnElement[bool]:
    name, _, op = key.rpartition("__")
    if not name or op not in OPERATORS:
        name, op = key, "eq"
    type_ = _column_type(resource, names, name)
    if type_ is None:
        raise bad_query(key, f"Unknown parameter or field {name!r}.")
    info = resource.fields.get(name)
    if info is not None and info.is_list:
        return _list_filter(resource, info, key, op, raw)
    column = resource.attribute(name)
    try:
        if op == "isnull":
            wanted = validation.parse_query_value("boolean", None, raw)
            if type_ == "json":
                return (
                    sa.or_(column.is_(None), sa.cast(column, sa.Text) == "null")
                    if wanted
                    else sa.and_(
                        column.is_not(None), sa.cast(column, sa.Text) != "null"
                    )
                )
            return column.is_(None) if wanted else column.is_not(None)
        if op == "contains":
            if not fields.is_text(type_):
                raise validation.Invalid("__contains works on text fields only.")
            if "\x00" in raw or len(raw) > 1000:
                raise validation.Invalid("Must be at most 1000 characters of text.")
            return column.ilike(_like(raw), escape="\\")
        if op == "in":
            parts = [p for p in raw.split(",")] if raw else []
            if len(parts) > MAX_IN:
                raise validation.Invalid(f"At most {MAX_IN} values.")
            values = [validation.parse_query_value(type_, info, p) for p in parts]
            return column.in_(values)
        value = validation.parse_query_value(type_, info, raw)
    except validation.Invalid as exc:
        raise bad_query(key, str(exc)) from None
    if op == "eq":
        return column == value
    if op == "ne":
        return sa.or_(column != value, column.is_(None))
    if type_ == "boolean":
        raise bad_query(key, f"__{op} does not apply to true/false fields.")
    return {
        "gt": column > value,
        "gte": column >= value,
        "lt": column < value,
        "lte": column <= value,
    }[op]


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
            return sa.not_(linked) if empty else linked
        if op == "eq":
            ids = [validation.parse_query_value("refs", info, raw)]
        elif op == "in":
            parts = raw.split(",") if raw else []
            if len(parts) > MAX_IN:
                raise validation.Invalid(f"At most {MAX_IN} values.")
            ids = [validation.parse_query_value("refs", info, p) for p in parts]
        else:
            raise validation.Invalid(
                f"__{op} does not apply to lists; use =, __in or __isnull."
            )
    except validation.Invalid as exc:
        raise bad_query(key, str(exc)) from None
    return model_id.in_(sa.select(own).where(target.in_(ids)))


def _search(
    resource: Resource, names: frozenset[str], q: str
) -> list[sa.ColumnElement[bool]]:
    columns = [
        resource.attribute(name)
        for name in resource.search
        if name in names and fields.is_text(resource.fields[name].type)
    ]
    if "\x00" in q or len(q) > 1000:
        raise bad_query("q", "Must be at most 1000 characters of text.")
    words = q.split()[:MAX_WORDS]
    if not columns:
        return [sa.false()] if words else []
    return [
        sa.or_(*(column.ilike(_like(word), escape="\\") for column in columns))
        for word in words
    ]


def parse_list_query(
    resource: Resource, names: frozenset[str], params: list[tuple[str, str]]
) -> ListQuery:
    """The list parameters of ``params`` (the query string); 400 naming a bad one."""
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
        offset = _integer_parameter("offset", seen["offset"], 0, MAX_OFFSET)
    if "offset" in seen and "cursor" in seen:
        raise bad_query("cursor", "Use either cursor or offset, not both.")
    sort_text = seen.get("sort") or ",".join(resource.default_sort)
    keys = parse_sort(resource, names, sort_text)
    sort_text = ",".join(("-" if k.descending else "") + k.name for k in keys)
    cursor = (
        decode_cursor(seen["cursor"], sort_text, keys) if seen.get("cursor") else None
    )
    if "q" in seen:
        conditions.extend(_search(resource, names, seen["q"]))
    return ListQuery(limit, offset, keys, sort_text, cursor, conditions)


def list_records(
    database: Database,
    resource: Resource,
    user: CurrentUser | None,
    params: list[tuple[str, str]],
    *,
    count: bool = True,
    linkable: bool = False,
) -> dict[str, Any]:
    """One page of records: ``{"items", "next_cursor", "total"}`` (``total`` None without
    ``count``: a caller walking every page, such as an export, counts once). ``linkable``
    keeps only the records the user may also read: those a link may name (pickers)."""
    rule = permissions.condition(resource, _signed_in(user), "list")
    names = permissions.readable(resource, user)
    query = parse_list_query(resource, names, params)
    limits = [*query.conditions]
    if rule is not None:
        limits.append(rule)
    if (
        linkable
        and (readable := links.read_rule(resource, _signed_in(user))) is not None
    ):
        limits.append(readable)
    conditions = [*limits, *links.live(resource)]
    shape = projection(resource, user)
    select = shape.reading(user)
    if limits or select is not shape.select or query.cursor is not None or query.offset:
        after = [] if query.cursor is None else [_after(query.sort, query.cursor)]
        page = shape.page(select, [*conditions, *after], query.sort, query.offset)
        counting = (
            sa.select(sa.func.count()).select_from(resource.model).where(*conditions)
        )
    else:  # the plain first page, the most common request: prepared statements
        page, counting = shape.first_page(query.sort, query.sort_text), shape.count
    with database.engine.connect() as connection:
        total = connection.execute(counting).scalar_one() if count else None
        rows = connection.execute(page, {"page_limit": query.limit + 1}).all()
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        items = shape.items(connection, rows)
    next_cursor = None
    if more and rows:
        last = rows[-1]
        index = {name: i for name, _, i in shape.readers}
        values = [last[index[key.name]] for key in query.sort]
        next_cursor = encode_cursor(query.sort_text, values)
    return {"items": items, "next_cursor": next_cursor, "total": total}


# --- writing -------------------------------------------------------------------------------


def _signed_in(user: CurrentUser | None) -> CurrentUser:
    if user is None:
        raise ApiError(401, "not_authenticated", "Sign in first.")
    return user


@contextmanager
def integrity(resource: Resource, action: str) -> Iterator[None]:
    """Database constraint errors of a write as 409/422 answers naming the fields."""
    try:
        yield
    except sa.exc.IntegrityError as exc:
        raise integrity_error(resource, action, exc) from None
    except sa.exc.DataError as exc:
        raise ApiError(
            422, "validation_error", "A value does not fit its field."
        ) from exc


def _columns_to_fields(resource: Resource, columns: list[str]) -> list[str]:
    by_column = {
        info.column: name for name, info in resource.fields.items() if info.column
    }
    return [by_column.get(c.strip().strip('"'), c.strip()) for c in columns]


def integrity_error(
    resource: Resource, action: str, exc: sa.exc.IntegrityError
) -> ApiError:
    orig = exc.orig
    text = str(orig)
    state = getattr(orig, "sqlstate", None)
    diag = getattr(orig, "diag", None)
    if state == "23505" or "UNIQUE constraint failed" in text:
        columns: list[str] = []
        detail = getattr(diag, "message_detail", None) or ""
        found = re.search(r"Key \((.*?)\)=", detail)
        if found:
            columns = found.group(1).split(",")
        elif "UNIQUE constraint failed:" in text:
            columns = [c.rpartition(".")[2] for c in text.split(":", 1)[1].split(",")]
        names = _columns_to_fields(resource, columns)
        message = "Another record already has this value."
        return ApiError(
            409,
            "duplicate",
            f"A record with the same {', '.join(names) or 'values'} already exists.",
            {name: message for name in names},
        )
    if state == "23503" or "FOREIGN KEY constraint failed" in text:
        if action == "delete":
            return ApiError(
                409,
                "in_use",
                "Other records refer to this record: change or delete them first.",
            )
        return ApiError(422, "validation_error", "A linked record does not exist.")
    if state == "23502" or "NOT NULL constraint failed" in text:
        column = getattr(diag, "column_name", None) or text.rpartition(".")[2].strip()
        names = _columns_to_fields(resource, [column])
        return ApiError(
            422,
            "validation_error",
            "A required field is missing.",
            {name: "This field is required." for name in names},
        )
    return ApiError(422, "validation_error", "A value breaks a rule of its field.")


def _compute(
    resource: Resource, values: dict[str, Any], current: Mapping[str, Any]
) -> None:
    """Set the computed fields from the record's own columns (the stored row plus the change).

    Computed values are stored, so lists can filter and sort by them; an input that is
    missing leaves the value empty (see ``functions.evaluate``).
    """
    if not resource.computed:
        return
    record = SimpleNamespace(**{**current, **_column_values(resource, values)})
    for info in resource.computed:
        values[info.name] = fn.evaluate(info.compute, record)


def _column_values(resource: Resource, values: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, value in values.items():
        info = resource.fields[name]
        if info.is_list:
            continue
        row[info.column] = sa.null() if value is None and info.type == "json" else value
    return row


def _write_lists(
    session: Any, resource: Resource, record_id: int, values: dict[str, Any]
) -> None:
    for name, ids in values.items():
        info = resource.fields[name]
        if not info.is_list:
            continue
        assert info.join is not None
        own = info.join.c[info.join_own]
        session.execute(sa.delete(info.join).where(own == record_id))
        if ids:
            session.execute(
                sa.insert(info.join),
                [{info.join_own: record_id, info.join_target: i} for i in ids],
            )


def current_lists(
    session: Any, resource: Resource, record_id: int, names: list[str]
) -> dict[str, list[int]]:
    """The stored ids of the many-to-many lists ``names`` of record ``record_id``, sorted."""
    current: dict[str, list[int]] = {}
    for name in names:
        info = resource.fields[name]
        assert info.join is not None
        own, target = info.join.c[info.join_own], info.join.c[info.join_target]
        current[name] = list(
            session.execute(
                sa.select(target).where(own == record_id).order_by(target)
            ).scalars()
        )
    return current


def _payload_object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ApiError(
            422, "validation_error", "The request body must be a JSON object."
        )
    return payload


def create_record(
    database: Database,
    resource: Resource,
    user: CurrentUser | None,
    payload: Any,
    ip: str | None,
) -> dict[str, Any]:
    """``POST /api/<path>``: the new record as ``user`` reads it (one transaction)."""
    user = _signed_in(user)
    with integrity(resource, "create"), database.session() as session:
        new_id = create_in(session, resource, user, payload, ip)
        record = fetch_one(session.connection(), resource, user, new_id, action=None)
    assert record is not None
    return record


def create_in(
    session: Any,
    resource: Resource,
    user: CurrentUser | None,
    payload: Any,
    ip: str | None,
) -> int:
    """Every check and write of ``create_record`` in the session's transaction (its caller
    commits, and turns database errors into answers with ``integrity``); the new id."""
    user = _signed_in(user)
    permissions.require(resource, user, "create")
    payload = dict(_payload_object(payload))
    roles = accounts.take_roles(resource.catalog, resource.name, payload)
    if resource.name == accounts.USER:
        accounts.check_create(resource.catalog, user, roles)
    permissions.check_writable(resource, user, payload, "create")
    values = validation.validate(resource, payload, partial=False)
    if resource.name == accounts.USER:
        accounts.check_email_free(session, resource.catalog, values.get("email"), None)
    rule = permissions.condition(resource, user, "create")
    also = {accounts.ROLES_FIELD: [None, roles]} if roles else None
    new_id = insert_row(
        session, resource, values, user, ip, rule=rule, also=also, reader=user
    )
    accounts.set_roles(session, resource.catalog, new_id, roles)
    return new_id


def insert_row(
    session: Any,
    resource: Resource,
    values: dict[str, Any],
    user: CurrentUser | None,
    ip: str | None,
    *,
    rule: sa.ColumnElement[bool] | None = None,
    also: Mapping[str, list[Any]] | None = None,
    reader: CurrentUser | None = None,
) -> int:
    """INSERT one record in the session's transaction: defaults, *before create* processes,
    the owner (left empty, it is the creating ``user``), computed fields, required fields
    (422), links (the ones ``values`` held on entry must be within ``reader``'s read rule:
    ``links.check``), the record rule ``rule`` (403), the audit entry (with the changes
    ``also`` gives), then the *after create* processes. Returns the new id."""
    asked = links.ids_of(resource, values)
    events = resource.catalog.events  # the spec's processes and the app's own hooks
    for info in resource.fields.values():
        if info.default is not None and info.name not in values:
            values[info.name] = fn.evaluate(info.default, user)
    events.fire(Event("before_create", session, resource, user, values=values))
    if (
        resource.owner is not None
        and user is not None
        and values.get(resource.owner) is None
    ):
        values[resource.owner] = (
            user.id
        )  # a record nobody owns would vanish from its creator
    _compute(resource, values, {})
    missing = {
        info.name: "This field is required."
        for info in resource.fields.values()
        if info.required and values.get(info.name) is None
    }
    if missing:
        raise ApiError(422, "validation_error", "Some fields are invalid.", missing)
    model = resource.model
    links.check(session, resource, values, reader=reader, asked=asked)
    table = model.__table__  # type: ignore[attr-defined]
    new_id = session.execute(
        sa.insert(table).values(_column_values(resource, values)).returning(table.c.id)
    ).scalar_one()
    _write_lists(session, resource, new_id, values)
    if rule is not None:
        visible = session.execute(
            sa.select(model.id).where(model.id == new_id, rule)
        ).first()  # type: ignore[attr-defined]
        if visible is None:
            raise ApiError(403, "forbidden", "Your role may not create such a record.")
    changes = {
        name: [None, json_ready(value)] for name, value in sorted(values.items())
    }
    changes.update(also or {})
    audit.record(
        session,
        resource.catalog,
        user=user,
        ip=ip,
        entity=resource.name,
        record_id=new_id,
        action="create",
        changes=changes,
    )
    events.fire(
        Event("after_create", session, resource, user, values=values, record_id=new_id)
    )
    return int(new_id)


def update_record(
    database: Database,
    resource: Resource,
    user: CurrentUser | None,
    record_id: int,
    payload: Any,
    ip: str | None,
) -> dict[str, Any]:
    """``PATCH /api/<path>/{id}``: the changed record as ``user`` reads it (one transaction)."""
    user = _signed_in(user)
    with integrity(resource, "update"), database.session() as session:
        update_in(session, resource, user, record_id, payload, ip)
        record = fetch_one(session.connection(), resource, user, record_id, action=None)
    assert record is not None
    return record


def update_in(
    session: Any,
    resource: Resource,
    user: CurrentUser | None,
    record_id: int,
    payload: Any,
    ip: str | None,
) -> None:
    """Every check and write of ``update_record`` in the session's transaction (its caller
    commits, and turns database errors into answers with ``integrity``)."""
    user = _signed_in(user)
    rule = permissions.condition(resource, user, "update")
    payload = dict(_payload_object(payload))
    version = payload.pop("version", None)
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int)
    ):
        raise ApiError(
            422,
            "validation_error",
            "Some fields are invalid.",
            {"version": "Must be the record's version (a whole number)."},
        )
    roles = accounts.take_roles(resource.catalog, resource.name, payload)
    permissions.check_writable(resource, user, payload, "update")
    values = validation.validate(resource, payload, partial=True)
    change = None
    if resource.name == accounts.USER:
        change = accounts.check_update(
            session, resource.catalog, user, record_id, values, roles, rule
        )
    also = None if change is None else change.audit()
    update_row(
        session,
        resource,
        record_id,
        values,
        user,
        ip,
        rule=rule,
        version=version,
        also=also,
        reader=user,
    )
    if change is not None:
        accounts.apply(session, resource.catalog, change)


def _stored(
    session: Any,
    resource: Resource,
    record_id: int,
    rule: sa.ColumnElement[bool] | None,
) -> dict[str, Any]:
    """The stored row of ``record_id`` by field name (404 when gone or outside ``rule``)."""
    model = resource.model
    table = model.__table__  # type: ignore[attr-defined]
    stmt = sa.select(table).where(table.c.id == record_id, *links.live(resource))
    if rule is not None:
        stmt = stmt.where(rule)
    row = session.execute(stmt).mappings().first()
    if row is None:
        raise not_found(resource.label)
    stored = {
        name: row[name]
        for name in ("id", "version", "created_at", "updated_at", "deleted_at")
        if name in row
    }
    for info in resource.fields.values():
        if info.column:
            stored[info.name] = row[info.column]
    return stored


def update_row(
    session: Any,
    resource: Resource,
    record_id: int,
    values: dict[str, Any],
    user: CurrentUser | None,
    ip: str | None,
    *,
    rule: sa.ColumnElement[bool] | None = None,
    version: int | None = None,
    also: Mapping[str, list[Any]] | None = None,
    reader: CurrentUser | None = None,
) -> None:
    """UPDATE one record in the session's transaction: the version check (409), *before
    update* processes (which may change ``values``), links (those ``values`` held on entry and
    the record did not hold must be within ``reader``'s read rule: ``links.check``), computed
    fields, the audit entry (with the changes ``also`` gives) and the *after update* processes
    (given the fields whose value changed)."""
    asked = links.ids_of(resource, values)
    model = resource.model
    stored = _stored(session, resource, record_id, rule)
    if version is not None and version != stored["version"]:
        raise ApiError(
            409,
            "stale",
            f"The record was changed by someone else (it is now version {stored['version']}): reload it and try again.",
            {"version": f"Stale: the current version is {stored['version']}."},
        )
    events = resource.catalog.events
    watched = events.watches("before_update", resource.name) or events.watches(
        "after_update", resource.name
    )
    lists = [
        name
        for name, info in resource.fields.items()
        if info.is_list and (watched or name in values)
    ]
    stored.update(current_lists(session, resource, record_id, lists))
    if watched:
        changing = frozenset(_changed(stored, values))
        events.fire(
            Event(
                "before_update",
                session,
                resource,
                user,
                values,
                stored,
                changing,
                record_id,
            )
        )
    links.check(session, resource, values, reader=reader, asked=asked, stored=stored)
    table = model.__table__  # type: ignore[attr-defined]
    before = dict(stored)
    if resource.computed:
        current = (
            session.execute(sa.select(table).where(table.c.id == record_id))
            .mappings()
            .one()
        )
        _compute(resource, values, current)
    done = session.execute(
        sa.update(table)
        .where(table.c.id == record_id, table.c.version == stored["version"])
        .values(**_column_values(resource, values), version=stored["version"] + 1)
    )
    if done.rowcount != 1:
        raise ApiError(
            409,
            "stale",
            "The record was changed at the same time: reload it and try again.",
            {"version": "Stale."},
        )
    _write_lists(session, resource, record_id, values)
    changes = {
        name: [json_ready(before.get(name)), json_ready(value)]
        for name, value in sorted(values.items())
        if json_ready(before.get(name)) != json_ready(value)
    }
    changed = set(changes)
    changes.update(also or {})
    audit.record(
        session,
        resource.catalog,
        user=user,
        ip=ip,
        entity=resource.name,
        record_id=record_id,
        action="update",
        changes=changes,
    )
    if watched:
        events.fire(
            Event(
                "after_update",
                session,
                resource,
                user,
                values,
                stored,
                frozenset(changed),
                record_id,
            )
        )


def _changed(stored: Mapping[str, Any], values: Mapping[str, Any]) -> set[str]:
    """The fields ``values`` gives a value different from the stored one."""
    return {
        name
        for name, value in values.items()
        if json_ready(stored.get(name)) != json_ready(value)
    }


def delete_record(
    database: Database,
    resource: Resource,
    user: CurrentUser | None,
    record_id: int,
    ip: str | None,
) -> None:
    user = _signed_in(user)
    rule = permissions.condition(resource, user, "delete")
    with integrity(resource, "delete"), database.session() as session:
        if resource.name == accounts.USER:
            accounts.check_delete(session, resource.catalog, user, record_id, rule)
        delete_row(session, resource, record_id, user, ip, rule=rule)


def delete_row(
    session: Any,
    resource: Resource,
    record_id: int,
    user: CurrentUser | None,
    ip: str | None,
    *,
    rule: sa.ColumnElement[bool] | None = None,
) -> None:
    """DELETE (or soft-delete) one record in the session's transaction, with the *before*
    and *after delete* processes and the audit entry."""
    table = resource.model.__table__  # type: ignore[attr-defined]
    stored = _stored(session, resource, record_id, rule)
    events = resource.catalog.events
    events.fire(
        Event(
            "before_delete", session, resource, user, stored=stored, record_id=record_id
        )
    )
    if resource.soft_delete:
        session.execute(
            sa.update(table)
            .where(table.c.id == record_id)
            .values(deleted_at=utcnow(), version=stored["version"] + 1)
        )
    else:
        session.execute(sa.delete(table).where(table.c.id == record_id))
    audit.record(
        session,
        resource.catalog,
        user=user,
        ip=ip,
        entity=resource.name,
        record_id=record_id,
        action="delete",
        changes={},
    )
    events.fire(
        Event(
            "after_delete", session, resource, user, stored=stored, record_id=record_id
        )
    )


# --- endpoints -----------------------------------------------------------------------------


def record_id_of(request: Request) -> int:
    """The record id of the path (``{id}``); 404 when it is not a valid id."""
    raw = request.path_params["id"]
    if not re.fullmatch(r"[0-9]{1,10}", raw) or not 0 < int(raw) <= validation.MAX_ID:
        raise not_found()
    return int(raw)


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def endpoints(resource: Resource) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The collection and item endpoints of ``resource``.

    Each request makes one hop to the thread pool, where the signed-in user is looked up
    (``auth.user_of``), the role checked and the database work done.
    """

    async def collection(request: Request) -> Response:
        database: Database = request.app.state.db
        if request.method == "POST":
            body = await request.body()
            record = await run_in_threadpool(_create, database, resource, request, body)
            location = f"/api/{resource.path}/{record['id']}"
            return JSONResponse(record, status_code=201, headers={"Location": location})
        params = request.query_params.multi_items()
        page = await run_in_threadpool(_list, database, resource, request, params)
        return JSONResponse(page)

    async def item(request: Request) -> Response:
        database: Database = request.app.state.db
        if request.method == "GET":
            record = await run_in_threadpool(_read, database, resource, request)
            return JSONResponse(record)
        if request.method == "PATCH":
            body = await request.body()
            record = await run_in_threadpool(_update, database, resource, request, body)
            return JSONResponse(record)
        await run_in_threadpool(_delete, database, resource, request)
        return Response(status_code=204)

    return collection, item


def _create(
    database: Database, resource: Resource, request: Request, body: bytes
) -> dict[str, Any]:
    user = auth.user_of(request)
    permissions.require(resource, user, "create")
    return create_record(database, resource, user, parse_json(body), _ip(request))


def _list(
    database: Database,
    resource: Resource,
    request: Request,
    params: list[tuple[str, str]],
) -> dict[str, Any]:
    return list_records(database, resource, auth.user_of(request), params)


def _update(
    database: Database, resource: Resource, request: Request, body: bytes
) -> dict[str, Any]:
    user = auth.user_of(request)
    permissions.require(resource, user, "update")
    record_id = record_id_of(request)
    return update_record(
        database, resource, user, record_id, parse_json(body), _ip(request)
    )


def _delete(database: Database, resource: Resource, request: Request) -> None:
    user = auth.user_of(request)
    permissions.require(resource, user, "delete")
    delete_record(database, resource, user, record_id_of(request), _ip(request))


def _read(database: Database, resource: Resource, request: Request) -> dict[str, Any]:
    user = auth.user_of(request)
    permissions.require(resource, user, "read")
    record_id = record_id_of(request)
    with database.engine.connect() as connection:
        record = fetch_one(connection, resource, user, record_id)
    if record is None:
        raise not_found(resource.label)
    return record


def routes(resource: Resource) -> list[BaseRoute]:
    """The routes of ``resource`` below ``/api``, for the actions its API enables."""
    collection, item = endpoints(resource)
    many = [
        m for a, m in (("list", "GET"), ("create", "POST")) if a in resource.actions
    ]
    one = [
        m
        for a, m in (("read", "GET"), ("update", "PATCH"), ("delete", "DELETE"))
        if a in resource.actions
    ]
    found: list[BaseRoute] = []
    if many:
        found.append(
            Route(
                f"/{resource.path}",
                collection,
                methods=many,
                name=f"{resource.path}_collection",
            )
        )
    if one:
        found.append(
            Route(
                f"/{resource.path}/" + "{id}",
                item,
                methods=one,
                name=f"{resource.path}_item",
            )
        )
    return found
