"""Where-conditions of processes, dashboards and reports as SQLAlchemy conditions.

crmgen compiles a condition of the spec (``status: done``, ``amount__gte: 100``,
``owner: '= user'``) into a call of one of these functions on a model's column, for example
``where.eq(models.Task.status, "done")``; a dotted path is wrapped in ``has()``/``any()`` by
the generator. The value is known only when the query runs (a step's local, the user), so
``None`` is handled here, with the meaning the list filters of the API give it:

- ``eq(c, None)`` is ``c IS NULL``; ``ne(c, v)`` keeps records without a value;
- an ordered comparison (``gt`` ...) with ``None`` matches nothing;
- ``in_(c, [..., None])`` also matches records without a value;
- ``contains`` is a case-insensitive substring match with ``%`` and ``_`` taken literally.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

__all__ = [
    "contains",
    "eq",
    "gt",
    "gte",
    "ids",
    "in_",
    "isnull",
    "isnull_list",
    "lt",
    "lte",
    "ne",
    "phone",
]

_LIKE_ESCAPE = re.compile(r"([\\%_])")
Condition = sa.ColumnElement[bool]


def phone(value: Any, region: str) -> Any:
    """A value compared with a phone field of an app that stores phones in E.164: in that form
    when it reads as a number of ``region`` (or has its country code), else as it is; lists
    item by item (``in``)."""
    from crmgen_runtime.phones import stored

    return stored(value, region)


def eq(column: Any, value: Any) -> Condition:
    """Equal; ``None`` means no value."""
    return column.is_(None) if value is None else column == value  # type: ignore[no-any-return]


def ne(column: Any, value: Any) -> Condition:
    """Not equal; records without a value count as different (as in the list filters)."""
    if value is None:
        return column.is_not(None)  # type: ignore[no-any-return]
    return sa.or_(column != value, column.is_(None))


def _ordered(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Condition]:
    def compare(column: Any, value: Any) -> Condition:
        return sa.false() if value is None else op(column, value)

    return compare


gt = _ordered(operator.gt)
gte = _ordered(operator.ge)
lt = _ordered(operator.lt)
lte = _ordered(operator.le)


def in_(column: Any, values: Any) -> Condition:
    """One of ``values`` (a single value counts as a list of one); ``None`` in it: no value."""
    if values is None:
        return sa.false()
    values = list(values) if isinstance(values, (list, tuple, set, frozenset)) else [values]
    present = [v for v in values if v is not None]
    test = column.in_(present)
    return sa.or_(test, column.is_(None)) if len(present) < len(values) else test


def contains(column: Any, text: Any) -> Condition:
    """The text holds ``text``, ignoring case; nothing matches ``None``."""
    if text is None:
        return sa.false()
    pattern = "%" + _LIKE_ESCAPE.sub(r"\\\1", str(text)) + "%"
    return column.ilike(pattern, escape="\\")  # type: ignore[no-any-return]


def isnull(column: Any, empty: Any) -> Condition:
    """No value (``empty`` true) or a value (false)."""
    return column.is_(None) if empty else column.is_not(None)  # type: ignore[no-any-return]


def isnull_list(relationship: Any, empty: Any) -> Condition:
    """A many-to-many list that is empty (``empty`` true) or not."""
    return sa.not_(relationship.any()) if empty else relationship.any()  # type: ignore[no-any-return]


def ids(values: Any) -> list[Any]:
    """Record ids of a record, a list of records or of ids (``None``: none)."""
    if values is None:
        return []
    if not isinstance(values, (list, tuple, set, frozenset)):
        values = [values]
    return [getattr(v, "id", v) for v in values]
