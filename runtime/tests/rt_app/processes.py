"""The app's scheduled processes: ``nightly`` every day at 02:30, ``broken`` always fails."""

from __future__ import annotations

from crmgen_runtime.db import Database

SCHEDULES = {"nightly": "30 2 * * *", "broken": "0 * * * *"}
RUNS: list[str] = []


def run_scheduled(name: str, database: Database) -> None:
    RUNS.append(name)
    if name == "broken":
        raise RuntimeError("the process failed")
    with database.session():
        pass
