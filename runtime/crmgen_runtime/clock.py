"""An app's time zone: the current moment and today's date where the app's users are.

Datetimes are stored in UTC and read in the app's zone. A ``Clock`` is made once per app (the
generated ``settings.CLOCK``) and handed to what needs it (``Formats``, ``Functions``), so
several apps with different zones can share one process.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


class Clock:
    """The time in one zone (an IANA name such as ``Europe/Moscow``)."""

    def __init__(self, timezone: str) -> None:
        self.timezone = timezone
        self.zone = ZoneInfo(timezone)

    def __repr__(self) -> str:
        return f"Clock({self.timezone!r})"

    def now(self) -> dt.datetime:
        """The current moment (UTC, time-zone aware)."""
        return dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        """Today's date in the app's zone."""
        return self.now().astimezone(self.zone).date()

    def local(self, moment: dt.datetime) -> dt.datetime:
        """``moment`` in the app's zone; a naive moment is taken as UTC (as stored)."""
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
        return aware.astimezone(self.zone)
