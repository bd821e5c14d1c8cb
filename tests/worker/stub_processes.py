"""A stand-in for the generated ``processes`` module: its registry ``EVENTS`` with two
scheduled processes. The scheduler tests load it through ``PROCESSES_MODULE=stub_processes``;
every run appends a line to ``$STUB_RUNS_FILE``."""

from __future__ import annotations

import os
import time
from functools import partial

import sqlalchemy as sa
from crmgen_runtime.events import Events

EVENTS = Events()


def run(name: str, database: object) -> None:
    with database.session() as session:  # type: ignore[attr-defined]
        session.execute(sa.text("SELECT 1"))
    time.sleep(0.05)  # a run takes a moment: concurrent schedulers overlap
    line = f"{name} {os.getpid()} {time.time():.3f}\n"
    fd = os.open(os.environ["STUB_RUNS_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


EVENTS.schedule("every_minute", "* * * * *", partial(run, "every_minute"))
EVENTS.schedule("every_other_minute", "*/2 * * * *", partial(run, "every_other_minute"))
