"""``crmgen_runtime.clock``: the current moment and today's date in one app's time zone."""

from __future__ import annotations

import datetime as dt

from crmgen_runtime.clock import Clock

LATE_EVENING_UTC = dt.datetime(2024, 5, 12, 21, 30, tzinfo=dt.UTC)  # 00:30 next day in Moscow


def test_today_is_the_date_in_the_clock_zone() -> None:
    moscow, utc = Clock("Europe/Moscow"), Clock("UTC")
    moscow.now = lambda: LATE_EVENING_UTC  # type: ignore[method-assign]
    utc.now = lambda: LATE_EVENING_UTC  # type: ignore[method-assign]
    assert moscow.today() == dt.date(2024, 5, 13)
    assert utc.today() == dt.date(2024, 5, 12)


def test_now_is_aware_utc() -> None:
    now = Clock("Asia/Jakarta").now()
    assert now.tzinfo is dt.UTC
    assert abs(now - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)


def test_local_reads_naive_moments_as_utc() -> None:
    clock = Clock("Europe/Moscow")
    naive = LATE_EVENING_UTC.replace(tzinfo=None)
    assert clock.local(naive) == clock.local(LATE_EVENING_UTC)
    assert clock.local(naive).hour == 0 and clock.local(naive).tzinfo == clock.zone
    assert repr(clock) == "Clock('Europe/Moscow')"
