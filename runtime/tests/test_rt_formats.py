"""``crmgen_runtime.formats``: values as people read them, per locale, in each app's zone and
currency (two apps with different zones side by side, as in one test process)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from crmgen_runtime.clock import Clock
from crmgen_runtime.formats import (
    Formats,
    as_date,
    as_decimal,
    babel_locale,
    format_compact,
    format_day,
    format_money,
    format_number,
)

NBSP, NNBSP = "\u00a0", "\u202f"
MOSCOW = Formats(Clock("Europe/Moscow"), "RUB")
UTC = Formats(Clock("UTC"), "USD")
MOMENT = dt.datetime(2024, 5, 12, 21, 30, tzinfo=dt.UTC)


def test_babel_locale_adds_the_likely_territory_and_falls_back_to_en_us() -> None:
    assert str(babel_locale("en")) == "en_US"
    assert str(babel_locale("ru")) == "ru_RU"
    assert str(babel_locale("zh-Hans")).startswith("zh")
    assert str(babel_locale("xx-nonsense")) == "en_US"


@pytest.mark.parametrize(
    ("value", "day"),
    [
        (dt.date(2024, 5, 12), dt.date(2024, 5, 12)),
        (MOMENT, dt.date(2024, 5, 12)),
        ("2024-05-12T10:00:00", dt.date(2024, 5, 12)),
        ("soon", None),
    ],
)
def test_as_date(value: object, day: dt.date | None) -> None:
    assert as_date(value) == day


@pytest.mark.parametrize(
    ("value", "number"),
    [(3, Decimal(3)), ("1.50", Decimal("1.50")), (True, None), ("NaN", None), ("x", None)],
)
def test_as_decimal(value: object, number: Decimal | None) -> None:
    assert as_decimal(value) == number


def test_days_numbers_and_money_follow_the_locale() -> None:
    assert format_day(dt.date(2024, 5, 12), "en") == "May 12, 2024"
    assert format_day(dt.date(2024, 5, 12), "ru") == f"12 мая 2024{NNBSP}г."
    assert format_day("not a date", "en") == "not a date"
    assert format_number(Decimal("1234.5"), "ru") == f"1{NBSP}234,5"
    assert format_number("many", "ru") == "many"
    assert format_number(2**63 - 1, "en") == "9,223,372,036,854,775,807"
    assert format_number(0.1 + 0.2, "en") == "0.3" and format_number(1e-7, "en") == "1E-7"
    assert (
        format_number(-1.5e300, "ru") == "-1,5E300" and format_number(float("inf"), "en") == "inf"
    )
    assert format_money(Decimal("1234.5"), "en", "USD") == "$1,234.50"
    assert format_money(None, "en", "USD") == "None"


def test_moments_are_shown_in_each_apps_own_zone() -> None:
    assert MOSCOW.format_moment(MOMENT, "ru") == f"13 мая 2024{NNBSP}г., 00:30"
    assert UTC.format_moment(MOMENT, "en").startswith("May 12, 2024")
    assert MOSCOW.format_moment("2024-05-12T21:30:00Z", "en").startswith("May 13, 2024")
    assert MOSCOW.format_moment("later", "en") == "later"
    assert MOSCOW.as_moment("2024-05-12T21:30:00") == MOMENT  # naive text is UTC, as stored
    assert MOSCOW.as_moment("later") is None


def test_money_defaults_to_the_apps_currency() -> None:
    assert MOSCOW.format_money(Decimal("1234.5"), "ru") == f"1{NBSP}234,50{NBSP}₽"
    assert UTC.format_money(Decimal("1234.5"), "en") == "$1,234.50"
    assert MOSCOW.format_money(Decimal(2), "en", "EUR") == "€2.00"
    assert MOSCOW.format_day(dt.date(2024, 5, 12), "en") == "May 12, 2024"
    assert MOSCOW.format_number(7, "en") == "7"
    assert repr(MOSCOW) == "Formats(Clock('Europe/Moscow'), 'RUB')"


@pytest.mark.parametrize(
    ("value", "locale", "currency", "text"),
    [
        (Decimal(125000), "en", "RUB", f"RUB{NBSP}125,000.00"),  # a word sign: spaced
        (Decimal(125000), "ru", "RUB", f"125{NBSP}000,00{NBSP}₽"),
        (Decimal(-5), "en", "RUB", f"-RUB{NBSP}5.00"),
        (Decimal(5), "en", "USD", "$5.00"),  # a symbol: no space
        (Decimal(5), "id", "USD", "US$5,00"),
        (Decimal(5), "bs", "RUB", f"5,00{NBSP}RUB"),
        (Decimal(5), "zh", "RUB", f"RUB{NBSP}5.00"),
    ],
)
def test_money_follows_cldr_currency_spacing(
    value: Decimal, locale: str, currency: str, text: str
) -> None:
    assert format_money(value, locale, currency) == text


@pytest.mark.parametrize(
    ("value", "locale", "currency", "text"),
    [
        (Decimal(1234567), "en", "USD", "$1.2M"),
        (Decimal(1234567), "ru", "RUB", f"1,2{NBSP}млн{NBSP}₽"),
        (Decimal(1234567), "en", "RUB", f"RUB{NBSP}1.2M"),
        (Decimal(125000), "en", None, "125K"),
        (Decimal(125000), "ru", None, f"125{NBSP}тыс."),
        (Decimal(1234567), "zh", None, "123.5万"),
        (Decimal(1234567), "id", None, f"1,2{NBSP}jt"),
        (Decimal(1234567), "bs", None, f"1,2{NBSP}mil."),
        (Decimal(-125000), "en", None, "-125K"),
        (Decimal("9999.5"), "en", "RUB", f"RUB{NBSP}9,999.50"),  # below 10,000: written out
        (7, "ru", None, "7"),
        ("x", "en", None, "x"),
    ],
)
def test_format_compact(value: Any, locale: str, currency: str | None, text: str) -> None:
    assert format_compact(value, locale, currency) == text


def test_format_compact_from_zero_for_chart_axes() -> None:
    assert format_compact(Decimal(500), "en", "RUB", Decimal(0)) == f"RUB{NBSP}500"
    assert format_compact(Decimal(2500), "ru", "RUB", Decimal(0)) == f"2,5{NBSP}тыс.{NBSP}₽"
    assert format_compact(0.5, "en", None, Decimal(0)) == "0.5"
