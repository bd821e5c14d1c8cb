"""Values as people read them: dates, times, numbers and money in a locale (Babel).

The web UI (``Site.cell``) and the documents (``documents``) format through an app's
``Formats`` (the generated ``settings.FORMATS``), so a value reads the same on a page, in a PDF
and in an XLSX file. Datetimes are stored in UTC and shown in the app's time zone, amounts in
its currency: both belong to the ``Formats`` object, not to this module, so apps with different
zones can share a process.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import (
    format_compact_currency,
    format_compact_decimal,
    format_currency,
    format_decimal,
    format_scientific,
    get_currency_symbol,
)

from crmgen_runtime.clock import Clock


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
    """A date from a date, a datetime or an ISO text; None when it is none of them."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def as_decimal(value: Any) -> Decimal | None:
    """A finite decimal from a number or a text; None otherwise (booleans too)."""
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
    return str(value) if day is None else format_date(day, "medium", locale=babel_locale(locale))


FLOAT_DIGITS = 15  # the significant digits a float shows: what a double holds, as Excel does
PLAIN_FLOATS = (Decimal("1e-6"), Decimal("1e15"))  # beyond: a float shows as 1.5E20


def format_number(value: Any, locale: str) -> str:
    """An integer or decimal with the locale's separators (``1 234,5``); a float with its
    significant digits, very large or small ones in scientific notation (``1E308``)."""
    if isinstance(value, float):
        return _format_float(value, locale)
    number = as_decimal(value)
    return str(value) if number is None else format_decimal(number, locale=babel_locale(locale))


def _format_float(value: float, locale: str) -> str:
    number = as_decimal(f"{value:.{FLOAT_DIGITS}g}")
    if number is None:
        return str(value)
    if number and not PLAIN_FLOATS[0] <= abs(number) < PLAIN_FLOATS[1]:
        return format_scientific(number, "0.##############E0", locale=babel_locale(locale))
    return format_decimal(number, "#,##0.##############", locale=babel_locale(locale))


NBSP = "\u00a0"
COMPACT_FROM = Decimal(10000)  # a KPI of this size or more reads compact: "12K", "1,2 млн ₽"


def _letter(char: str) -> bool:
    """Whether CLDR's currency spacing separates ``char`` from a digit (not a symbol or space)."""
    return unicodedata.category(char)[0] not in "SZ"


def currency_spacing(text: str, currency: str, locale: str) -> str:
    """``text`` with a no-break space between the currency's sign and the digits where that sign
    is a word (CLDR's currency spacing, which Babel does not apply): ``RUB125.00`` becomes
    ``RUB 125.00`` while ``$125.00`` stays."""
    symbol = get_currency_symbol(currency, locale=babel_locale(locale))
    at = text.find(symbol)
    if not symbol or at < 0:
        return text
    end = at + len(symbol)
    if end < len(text) and _letter(symbol[-1]) and (text[end].isdigit() or text[end] == "-"):
        text = text[:end] + NBSP + text[end:]
    if at > 0 and _letter(symbol[0]) and text[at - 1].isdigit():
        text = text[:at] + NBSP + text[at:]
    return text


def format_money(value: Any, locale: str, currency: str) -> str:
    """An amount in ``currency`` (``1 234,50 ₽``, ``RUB 1,234.50``)."""
    number = as_decimal(value)
    if number is None:
        return str(value)
    text = format_currency(number, currency, locale=babel_locale(locale))
    return currency_spacing(text, currency, locale)


def format_compact(
    value: Any, locale: str, currency: str | None = None, at_least: Decimal = COMPACT_FROM
) -> str:
    """A number or amount (in ``currency``) shortened the locale's way when it is ``at_least``
    this large: ``1.2M``, ``1,2 млн ₽``, ``RUB 125K``, ``RUB 500``; smaller ones in full, as
    ``format_number`` and ``format_money`` write them."""
    number = as_decimal(value)
    if number is None:
        return str(value)
    where = babel_locale(locale)
    if abs(number) < at_least:
        if currency is None:
            return format_number(number, locale)
        return format_money(number, locale, currency)
    if currency is None:
        return format_compact_decimal(number, locale=where, fraction_digits=1)
    text = format_compact_currency(number, currency, locale=where, fraction_digits=1)
    return currency_spacing(text, currency, locale)


class Formats:
    """How one app shows values: its clock's time zone for datetimes, its currency for money."""

    def __init__(self, clock: Clock, currency: str) -> None:
        self.clock = clock
        self.zone = clock.zone
        self.currency = currency

    def __repr__(self) -> str:
        return f"Formats({self.clock!r}, {self.currency!r})"

    def as_moment(self, value: Any) -> dt.datetime | None:
        """A datetime (or its ISO text) in the app's time zone; naive ones are UTC."""
        if not isinstance(value, dt.datetime):
            try:
                value = dt.datetime.fromisoformat(str(value))  # "Z" is UTC
            except ValueError:
                return None
        return self.clock.local(value)

    def format_day(self, value: Any, locale: str) -> str:
        """A date as the locale writes it (``format_day``)."""
        return format_day(value, locale)

    def format_moment(self, value: Any, locale: str) -> str:
        """A date and time in the app's time zone, to the minute, as the locale writes it."""
        moment = self.as_moment(value)
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

    def format_number(self, value: Any, locale: str) -> str:
        """An integer or decimal with the locale's separators (``format_number``)."""
        return format_number(value, locale)

    def format_money(self, value: Any, locale: str, currency: str | None = None) -> str:
        """An amount in ``currency``, by default the app's (``1 234,50 ₽``)."""
        return format_money(value, locale, currency or self.currency)
