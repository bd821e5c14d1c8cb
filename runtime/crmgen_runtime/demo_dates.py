"""Demo dates around a given "today": the last twelve months and the coming weeks.

``Dates(today, zone)`` places a date field by what it holds (``when``): a birthday decades ago;
a deadline, a due or expected date, or the date an entity's calendar shows, around today (some
today, some overdue, most in the coming weeks); anything else (created, ordered, issued, paid,
happened) in the past twelve months, more often recently than long ago. The first records of
an entity fall in the current month (``recent``), so "this month" figures are never empty.
Datetimes fall in working hours of the app's time zone and are stored in UTC.
"""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

PAST_DAYS = 360  # within twelve months of today
FUTURE_WEEKS = 6  # how far ahead planned dates go
OVERDUE_DAYS = 21  # how far back a planned date may be
WORK_HOURS = (9, 18)  # the working day, local time
AROUND_WORDS = frozenset(
    [
        "due",
        "deadline",
        "expected",
        "expires",
        "expiry",
        "planned",
        "scheduled",
        "start",
        "starts",
        "end",
        "ends",
        "until",
        "next",
        "follow",
        "followup",
        "appointment",
        "meeting",
        "event",
        "valid",
        "remind",
        "reminder",
    ]
)
BIRTH_WORDS = frozenset({"birthday", "birth", "born", "dob", "birthdate"})


def when(name: str, calendar: bool = False) -> str:
    """How a date field is placed: ``birth``, ``around`` (today) or ``past``."""
    words = set(name.lower().split("_"))
    if words & BIRTH_WORDS:
        return "birth"
    return "around" if calendar or words & AROUND_WORDS else "past"


class Dates:
    """Dates and working-hour moments relative to ``today`` in the time zone ``zone``."""

    def __init__(self, today: dt.date, zone: str = "UTC") -> None:
        self.today = today
        self.zone = ZoneInfo(zone)

    @property
    def earliest(self) -> dt.date:
        return self.today - dt.timedelta(days=PAST_DAYS)

    @property
    def latest(self) -> dt.date:
        return self.today + dt.timedelta(weeks=FUTURE_WEEKS)

    def day(self, how: str, rng: random.Random, i: int, recent: bool = False) -> dt.date:
        """The date of the ``i``-th record for a field placed ``how``."""
        if how == "birth":
            return self.today - dt.timedelta(days=rng.randint(22 * 365, 65 * 365))
        if how == "around":
            if i % 5 == 0:  # every fifth record: today
                return self.today
            return self.today + dt.timedelta(days=rng.randint(-OVERDUE_DAYS, FUTURE_WEEKS * 7))
        if recent:  # within the current month, up to today
            return self.today - dt.timedelta(days=rng.randint(0, self.today.day - 1))
        return self.today - dt.timedelta(days=round(PAST_DAYS * rng.random() ** 1.5))

    def moment(self, day: dt.date, rng: random.Random) -> dt.datetime:
        """A moment of ``day`` in working hours (local), in UTC, to the quarter hour."""
        return dt.datetime.combine(day, self.time(rng), self.zone).astimezone(dt.UTC)

    def time(self, rng: random.Random) -> dt.time:
        """A time of day in working hours, to the quarter hour."""
        start, end = WORK_HOURS
        minutes = rng.randrange(start * 60, end * 60, 15)
        return dt.time(minutes // 60, minutes % 60)
