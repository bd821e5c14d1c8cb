"""``crmgen_runtime.functions``: what compiled spec expressions call as ``fn.<name>``, with
today's date and a moment's day read in each app's zone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from crmgen_runtime import functions
from crmgen_runtime.clock import Clock
from crmgen_runtime.functions import Functions, months
from crmgen_runtime.principal import CurrentUser

LATE_EVENING_UTC = dt.datetime(2024, 5, 12, 21, 30, tzinfo=dt.UTC)


def frozen(timezone: str) -> Functions:
    clock = Clock(timezone)
    clock.now = lambda: LATE_EVENING_UTC  # type: ignore[method-assign]
    return Functions(clock)


def test_today_now_and_date_follow_each_apps_zone() -> None:
    moscow, utc = frozen("Europe/Moscow"), frozen("UTC")
    assert moscow.today() == dt.date(2024, 5, 13) and utc.today() == dt.date(2024, 5, 12)
    assert moscow.now() == LATE_EVENING_UTC
    assert moscow.date_(LATE_EVENING_UTC) == dt.date(2024, 5, 13)
    assert utc.date_(LATE_EVENING_UTC) == dt.date(2024, 5, 12)
    assert moscow.date_(LATE_EVENING_UTC.replace(tzinfo=None)) == dt.date(2024, 5, 12)
    assert moscow.date_(dt.date(2024, 1, 2)) == dt.date(2024, 1, 2)
    assert moscow.date_("2024-12-31") == dt.date(2024, 12, 31)
    assert repr(moscow) == "Functions(Clock('Europe/Moscow'))"


def test_evaluate_leaves_a_missing_input_empty() -> None:
    fn = frozen("UTC")
    assert fn.evaluate(lambda a: a + 1, 2) == 3
    assert fn.evaluate(lambda a: a + 1, None) is None
    assert fn.evaluate(lambda: Decimal(1) / 0) is None


def test_durations_and_calendar_months() -> None:
    fn = frozen("UTC")
    assert fn.minutes(90) == fn.hours(1) + dt.timedelta(minutes=30)
    assert fn.days(14) == fn.weeks(2)
    assert dt.date(2024, 1, 31) + fn.months(1) == dt.date(2024, 2, 29)
    assert dt.date(2024, 3, 31) - fn.months(13) == dt.date(2023, 2, 28)
    assert dt.date(2024, 11, 15) + months(2) == dt.date(2025, 1, 15)


def test_text_and_number_functions() -> None:
    fn = frozen("UTC")
    assert fn.decimal("0.2") + fn.decimal("0.1") == Decimal("0.3")
    assert (fn.len_("abc"), fn.lower("AbC"), fn.upper("abc")) == (3, "abc", "ABC")
    assert (fn.str_(None), fn.str_(5), fn.int_("7")) == ("", "5", 7)
    assert fn.float_("1.10") == Decimal("1.10")
    assert (fn.round_(Decimal("2.345"), 2), fn.abs_(-3)) == (Decimal("2.34"), 3)
    assert (fn.min_(3, None, 1), fn.max_([3, None, 9]), fn.min_([None])) == (1, 9, None)
    assert fn.coalesce(None, "", "x") == "x" and fn.coalesce(None) is None


def test_links_roles_and_text_search() -> None:
    fn = frozen("UTC")
    record: Any = type("Record", (), {"id": 42})()
    assert (fn.ref_id(record), fn.ref_id(7)) == (42, 7)
    sales = CurrentUser(id=1, email="s@example.com", name=None, roles=frozenset({"sales"}))
    assert fn.has_role(sales, "manager", "sales") and not fn.has_role(sales, "manager")
    assert not fn.has_role(None, "sales")
    assert fn.contains("Hello World", "world") and fn.contains([1, 2], 2)
    assert not fn.contains(None, "x") and not fn.contains("x", None)
    assert fn.startswith("Hello", "he") and not fn.startswith(None, "he")


@pytest.mark.parametrize("name", ["evaluate", "ref_id", "days", "months", "coalesce", "contains"])
def test_the_object_offers_the_modules_functions(name: str) -> None:
    assert getattr(Functions, name) is getattr(functions, name)
