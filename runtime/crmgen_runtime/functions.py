"""The functions spec expressions may call, and how their results are evaluated.

crmgen compiles each expression of the spec (defaults, computed fields, rules, process steps)
into plain Python that calls these functions as ``fn.<name>``, where ``fn`` is the app's
``Functions`` (the generated ``settings.fn``): the functions below, with ``now``, ``today`` and
``date_`` read on the app's ``Clock``. ``evaluate`` runs a compiled expression and treats a
missing input as an empty result: ``None + 1`` gives ``None``, not an error, exactly as a
spreadsheet leaves a cell blank.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from crmgen_runtime.clock import Clock
from crmgen_runtime.replies import item


def evaluate(compiled: Callable[..., Any], *args: Any) -> Any:
    """``compiled(*args)``, or None when an input is missing or does not fit the operation."""
    try:
        return compiled(*args)
    except (TypeError, ValueError, ArithmeticError, AttributeError, InvalidOperation):
        return None


def ref_id(value: Any) -> Any:
    """A record (or the signed-in user) given where a link is stored: its id."""
    return getattr(value, "id", value)


def decimal(text: str) -> Decimal:
    """A decimal literal of the spec, exact (0.2 stays 0.2)."""
    return Decimal(text)


def minutes(n: int) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def hours(n: int) -> dt.timedelta:
    return dt.timedelta(hours=n)


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def weeks(n: int) -> dt.timedelta:
    return dt.timedelta(weeks=n)


class months:  # written months(n) in the spec, like days(n)
    """A number of calendar months; adding it to a date keeps the day where it can (Jan 31 + 1 -> Feb 28)."""

    def __init__(self, n: int) -> None:
        self.n = int(n)

    def __radd__(self, other: dt.date) -> dt.date:
        total = other.month - 1 + self.n
        year, month = other.year + total // 12, total % 12 + 1
        return other.replace(
            year=year, month=month, day=min(other.day, calendar.monthrange(year, month)[1])
        )

    def __rsub__(self, other: dt.date) -> dt.date:
        return months(-self.n).__radd__(other)


def len_(value: Any) -> int:
    return len(value)


def lower(value: Any) -> str:
    return str(value).lower()


def upper(value: Any) -> str:
    return str(value).upper()


def str_(value: Any) -> str:
    return "" if value is None else str(value)


def int_(value: Any) -> int:
    return int(value)


def float_(value: Any) -> Decimal:
    """A number from a text or a number (kept exact, as a Decimal)."""
    return Decimal(str(value))


def round_(value: Any, places: int = 0) -> Any:
    return round(value, places)


def abs_(value: Any) -> Any:
    return abs(value)


def min_(*values: Any) -> Any:
    present = [v for v in (values[0] if len(values) == 1 else values) if v is not None]
    return min(present) if present else None


def max_(*values: Any) -> Any:
    present = [v for v in (values[0] if len(values) == 1 else values) if v is not None]
    return max(present) if present else None


def coalesce(*values: Any) -> Any:
    """The first value that is not empty."""
    return next((v for v in values if v is not None and v != ""), None)


def has_role(user: Any, *names: str) -> bool:
    """True when the signed-in user has one of the roles (superusers have them all)."""
    return user is not None and user.has_role(*names)


def contains(haystack: Any, needle: Any) -> bool:
    """True when the text (or list) ``haystack`` contains ``needle``; case-insensitive for text."""
    if haystack is None or needle is None:
        return False
    if isinstance(haystack, str):
        return str(needle).lower() in haystack.lower()
    return needle in haystack


def startswith(text: Any, prefix: Any) -> bool:
    return (
        text is not None
        and prefix is not None
        and str(text).lower().startswith(str(prefix).lower())
    )


class Functions:
    """The functions of one app's expressions (``fn.<name>``), the clock's ones bound to it."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def __repr__(self) -> str:
        return f"Functions({self.clock!r})"

    evaluate = staticmethod(evaluate)
    ref_id = staticmethod(ref_id)
    decimal = staticmethod(decimal)
    minutes = staticmethod(minutes)
    hours = staticmethod(hours)
    days = staticmethod(days)
    weeks = staticmethod(weeks)
    months = months
    len_ = staticmethod(len_)
    lower = staticmethod(lower)
    upper = staticmethod(upper)
    str_ = staticmethod(str_)
    int_ = staticmethod(int_)
    float_ = staticmethod(float_)
    round_ = staticmethod(round_)
    abs_ = staticmethod(abs_)
    min_ = staticmethod(min_)
    max_ = staticmethod(max_)
    coalesce = staticmethod(coalesce)
    has_role = staticmethod(has_role)
    contains = staticmethod(contains)
    startswith = staticmethod(startswith)
    item = staticmethod(item)  # value[index] of an expression (an http step's reply)

    def now(self) -> dt.datetime:
        """The current moment (UTC, time-zone aware)."""
        return self.clock.now()

    def today(self) -> dt.date:
        """Today's date in the app's time zone."""
        return self.clock.today()

    def date_(self, value: Any) -> dt.date:
        """A date from a date, a date-time (its day in the app's zone) or an ISO text."""
        if isinstance(value, dt.datetime):
            return self.clock.local(value).date() if value.tzinfo else value.date()
        if isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(str(value))
