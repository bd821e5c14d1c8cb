"""How many records a list query matches, at a cost that stays flat on big tables (``count=``).

``count=exact`` counts every matching record; ``count=none`` counts nothing (``total`` null);
``count=estimate``, the default, is exact up to a threshold (``LIST_EXACT_COUNT_LIMIT``, 10,000
by default) and an estimate above it, in the spirit of PostgREST's ``count=estimated``:

- on PostgreSQL, the planner's estimate of the reader's own query (``EXPLAIN (FORMAT JSON)`` of
  the filtered SELECT, record rule included: the top node's ``Plan Rows``), never the table's
  size, so a seller does not learn how many records others hold. It is asked first: above the
  threshold it is the answer; at or below it, a count bounded by a ``LIMIT`` of the threshold
  + 1 gives the exact number (or, when the planner guessed low, the larger of the two as the
  estimate), so no count reads more than the threshold's rows;
- on SQLite, which keeps no such estimate of a query, the bounded count: exact, or "at least
  threshold + 1".

A first page that holds every record needs no count (``reads.read_page``): its length is the
exact total, whatever ``count=`` asks (but ``none``).

The answer says which it is: ``total_kind`` is ``exact``, ``estimate``, ``at_least`` or null.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

KINDS = ("exact", "estimate", "none")  # what ``count=`` takes
DEFAULT = "estimate"
EXACT_COUNT_LIMIT = 10_000  # LIST_EXACT_COUNT_LIMIT
MAX_OFFSET = 10_000  # LIST_MAX_OFFSET


@dataclass(frozen=True)
class ListLimits:
    """The settings of lists: up to how many records ``count=estimate`` counts exactly, and
    the largest ``offset`` (deeper pages are reached with ``cursor``)."""

    exact_count: int = EXACT_COUNT_LIMIT
    max_offset: int = MAX_OFFSET


@dataclass(frozen=True)
class Total:
    """A list's ``total`` and ``total_kind`` (both None for ``count=none``)."""

    value: int | None
    kind: str | None

    def fields(self) -> dict[str, Any]:
        return {"total": self.value, "total_kind": self.kind}


NONE = Total(None, None)


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON) <select>`` on PostgreSQL, the select's parameters bound."""

    inherit_cache = False

    def __init__(self, select: sa.Select[Any]) -> None:
        self.select = select


@compiles(_Explain, "postgresql")
def _explain(element: _Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + str(compiler.process(element.select, **kw))


def planned_rows(connection: sa.Connection, select: sa.Select[Any]) -> int:
    """The planner's estimate of the rows ``select`` gives (PostgreSQL)."""
    plan = connection.execute(_Explain(select)).scalar_one()
    return int(plan[0]["Plan"]["Plan Rows"])


def total(
    connection: sa.Connection,
    model: Any,
    conditions: list[sa.ColumnElement[bool]],
    kind: str,
    limits: ListLimits,
    exact: sa.Select[Any] | None = None,
) -> Total:
    """The total of the records of ``model`` that meet ``conditions``, as ``kind`` asks
    (``exact``, ``estimate`` or ``none``); ``exact`` is the prepared exact count of the same
    records, when the caller has one."""
    if kind == "none":
        return NONE
    if kind == "exact":
        counting = exact
        if counting is None:
            counting = sa.select(sa.func.count()).select_from(model).where(*conditions)
        return Total(connection.execute(counting).scalar_one(), "exact")
    matching = sa.select(model.id).where(*conditions)
    threshold = limits.exact_count
    planned = None
    if connection.dialect.name == "postgresql":
        planned = planned_rows(connection, matching)
        if planned > threshold:  # many: not worth reading the threshold's rows to say so
            return Total(planned, "estimate")
    bounded = matching.limit(threshold + 1).subquery()
    found: int = connection.execute(sa.select(sa.func.count()).select_from(bounded)).scalar_one()
    if found <= threshold:
        return Total(found, "exact")
    if planned is not None:  # more than the planner thought
        return Total(max(planned, found), "estimate")
    return Total(found, "at_least")
