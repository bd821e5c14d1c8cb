"""The app's scheduled processes: ``nightly`` every day at 02:30, ``broken`` always fails."""

from __future__ import annotations

from crmgen_runtime.db import Database
from crmgen_runtime.events import Events

EVENTS = Events()
RUNS: list[str] = []


def nightly(database: Database) -> None:
    RUNS.append("nightly")
    with database.session():
        pass


def broken(database: Database) -> None:
    RUNS.append("broken")
    raise RuntimeError("the process failed")


EVENTS.schedule("nightly", "30 2 * * *", nightly)
EVENTS.schedule("broken", "0 * * * *", broken)
