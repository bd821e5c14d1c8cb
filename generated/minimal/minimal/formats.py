"""Values as people read them: dates, times, numbers and money in a locale (Babel).

The web UI (``web.core.cell``) and the documents (``documents``) format through these, so a
value reads the same on a page, in a PDF and in an XLSX file. Datetimes are stored in UTC and
shown in the app's time zone.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_currency, format_decimal

from minimal.settings import CURRENCY, TIMEZONE

ZONE = ZoneInfo(
    TIMEZONE
)  # datetimes are stored in UTC and shown in the app's time zone


@cache
def babel_locale(locale: str) -> Locale:
    """The Babel locale of a UI locale, with its likely territory (``en`` is ``en_US``).

    The territory decides the first day of the week; ``en_US`` when Babel does not know it.
    """
    code = locale.replace("-", "_")
    try:
        return Locale.parse(get_global("likely_subtags").get(code, code))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse("en_US")


def as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def as_moment(value: Any) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        try:
            value = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(ZONE)


def as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def format_day(value: Any, locale: str) -> str:
    """A date as the locale writes it (``12 мая 2024 г.``, ``May 12, 2024``)."""
    day = as_date(value)
    return (
        str(value)
        if day is None
        else format_date(day, "medium", locale=babel_locale(locale))
    )


def format_moment(value: Any, locale: str) -> str:
    """A date and time in the app's time zone, to the minute, as the locale writes it."""
    moment = as_moment(value)
    if moment is None:
        return str(value)
    where = babel_locale(locale)
    return (
        str(get_datetime_format("medium", locale=where))
        .replace("'", "")
        .format(
            format_time(moment, "short", locale=where),
            format_date(moment.date(), "medium", locale=where),
        )
    )


def format_number(value: Any, locale: str) -> str:
    """An integer or decimal with the locale's separators (``1 234,5``)."""
    number = as_decimal(value)
    return (
        str(value)
        if number is None
        else format_decimal(number, locale=babel_locale(locale))
    )


def format_money(value: Any, locale: str, currency: str = CURRENCY) -> str:
    """An amount in the app's currency (``1 234,50 ₽``)."""
    number = as_decimal(value)
    if number is None:
        return str(value)
    return format_currency(number, currency, locale=babel_locale(locale))
