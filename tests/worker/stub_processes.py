"""A stand-in for the generated ``processes`` module (until the process compiler renders it):
``SCHEDULES`` and ``run_scheduled(name, database)``. The scheduler tests load it through
``PROCESSES_MODULE=stub_processes``; every run appends a line to ``$STUB_RUNS_FILE``."""

from __future__ import annotations

import os
import time

import sqlalchemy as sa

SCHEDULES: dict[str, str] = {"every_minute": "* * * * *", "every_other_minute": "*/2 * * * *"}


def run_scheduled(name: str, database: object) -> None:
    if name not in SCHEDULES:
        raise KeyError(name)
    with database.session() as session:  # type: ignore[attr-defined]
        session.execute(sa.text("SELECT 1"))
    time.sleep(0.05)  # a run takes a moment: concurrent schedulers overlap
    line = f"{name} {os.getpid()} {time.time():.3f}\n"
    fd = os.open(os.environ["STUB_RUNS_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
