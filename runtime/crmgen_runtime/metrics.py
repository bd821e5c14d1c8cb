"""Prometheus metrics of an app (``prometheus_client``), as ``/metrics`` exposes them.

Requests: ``crm_http_requests_total`` (a counter by ``method``, ``route`` and ``status``) and
``crm_http_request_duration_seconds`` (a histogram by ``method`` and ``route``). ``route`` is
the template of the route that answered (``/api/contacts/{id}``), never the path itself, and
``unmatched`` for a path no route has; methods outside the standard ones count as ``other``:
no client can make the series grow without bound.

The database, read at each scrape (so every process and replica sees the same numbers):
``crm_outbox_pending_messages`` and ``crm_outbox_dead_messages``, the age of the oldest pending
message (``crm_outbox_oldest_pending_age_seconds``) and of the oldest one that is due and not
yet delivered (``crm_outbox_oldest_due_age_seconds``: near zero while a worker runs), and per
scheduled process the age of its last tick run (``crm_scheduler_last_run_age_seconds``) and
whether that run failed (``crm_scheduler_last_run_failed``). The workers, from their heartbeats
(``crmgen_runtime.heartbeats``): ``crm_workers_alive`` (``worker`` processes whose heartbeat is
at most ``WORKER_ALIVE_SECONDS`` old), ``crm_schedulers_alive`` (processes running the scheduler,
workers or web processes with ``RUN_SCHEDULER=1``, counted alike), the age of the freshest worker
heartbeat (``crm_worker_last_seen_age_seconds``: ``+Inf`` when there is none, so that one alert
``> 120`` also fires when no worker ever ran, with no ``absent()`` beside it), and the imports
a worker is running (``crm_imports_running``: leased) or that wait for one
(``crm_imports_queued``).

Several processes (``WEB_CONCURRENCY`` > 1): ``serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` to an
empty folder before it starts them; each process writes its counters there and a scrape adds
up every process's (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterable, Iterator, Sequence

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Mount
from starlette.types import Scope

from crmgen_runtime.db import Database
from crmgen_runtime.heartbeats import WORKER
from crmgen_runtime.resources import Catalog
from crmgen_runtime.tables import (
    ImportUploadTable,
    OutboxMessageTable,
    ScheduleRunTable,
    WorkerHeartbeatTable,
)

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
# Seconds: from a cached page to a slow export.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def route_templates(routes: Sequence[BaseRoute], prefix: str = "") -> dict[int, str]:
    """Each route's template below ``prefix``, by the route's ``id``: the mounts' paths joined
    with the routes' (``/api`` + ``/contacts/{id}``); a mount of an app that is no router (the
    static files) is its own template, ``/static/{path}``."""
    found: dict[int, str] = {}
    for route in routes:
        path_format = getattr(route, "path_format", None)
        if path_format is None:
            continue
        found[id(route)] = prefix + path_format
        if isinstance(route, Mount) and route.routes:
            found.update(route_templates(route.routes, prefix + route.path))
    return found


class HttpMetrics:
    """The request counter and histogram of one app, in its own ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "crm_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            registry=registry,
        )
        self.duration = Histogram(
            "crm_http_request_duration_seconds",
            "Time to answer HTTP requests, by method and route template.",
            ("method", "route"),
            buckets=BUCKETS,
            registry=registry,
        )
        self._templates: dict[int, str] | None = None

    def route(self, scope: Scope) -> str:
        """The template of the route that answered ``scope`` (``unmatched`` when none did)."""
        if self._templates is None:
            self._templates = route_templates(scope["app"].routes)
        route = scope.get("route")
        if route is None or (isinstance(route, Mount) and route.routes):
            return UNMATCHED  # no route, or a mount none of whose routes matched
        return self._templates.get(id(route), UNMATCHED)

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in METHODS else "other"
        route = self.route(scope)
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)


def _age(now: dt.datetime, then: dt.datetime | None) -> float:
    """Seconds from ``then`` (stored in UTC; naive on SQLite) to ``now``; 0 without one."""
    if then is None:
        return 0.0
    if then.tzinfo is None:
        then = then.replace(tzinfo=dt.UTC)
    return max(0.0, (now - then).total_seconds())


class DatabaseCollector(Collector):
    """The outbox's, the scheduler's and the workers' state, read from the database at each
    scrape; each query is answered from an index (the outbox's status, the runs' process and
    tick) or reads a table of a few rows (one per running process, per import in progress).
    A heartbeat counts as alive for ``alive_seconds``."""

    def __init__(self, catalog: Catalog, database: Database, alive_seconds: float = 60.0) -> None:
        self.catalog = catalog
        self.database = database
        self.alive_seconds = alive_seconds

    def collect(self) -> Iterator[Metric]:
        now = dt.datetime.now(dt.UTC)
        with self.database.engine.connect() as connection:
            yield from self._outbox(connection, now)
            yield from self._scheduler(connection, now)
            yield from self._workers(connection, now)

    def _outbox(self, connection: sa.Connection, now: dt.datetime) -> Iterable[Metric]:
        outbox = self.catalog.table(OutboxMessageTable).__table__  # type: ignore[attr-defined]
        pending = outbox.c.status == "pending"
        count, oldest = connection.execute(
            sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)).where(pending)
        ).one()
        due = connection.scalar(
            sa.select(sa.func.min(outbox.c.next_attempt_at)).where(
                pending, outbox.c.next_attempt_at <= now
            )
        )
        dead = connection.scalar(
            sa.select(sa.func.count()).select_from(outbox).where(outbox.c.status == "dead")
        )
        yield GaugeMetricFamily(
            "crm_outbox_pending_messages", "Messages waiting in the outbox.", value=count
        )
        yield GaugeMetricFamily(
            "crm_outbox_dead_messages", "Messages given up after every attempt.", value=dead or 0
        )
        yield GaugeMetricFamily(
            "crm_outbox_oldest_pending_age_seconds",
            "Age of the oldest message waiting in the outbox (0 when none waits).",
            value=_age(now, oldest),
        )
        yield GaugeMetricFamily(
            "crm_outbox_oldest_due_age_seconds",
            "How long the oldest due message has waited for a worker (0 when none is due).",
            value=_age(now, due),
        )

    def _scheduler(self, connection: sa.Connection, now: dt.datetime) -> Iterable[Metric]:
        runs = self.catalog.table(ScheduleRunTable).__table__  # type: ignore[attr-defined]
        age = GaugeMetricFamily(
            "crm_scheduler_last_run_age_seconds",
            "Seconds since the tick of the last run of each scheduled process.",
            labels=("process",),
        )
        failed = GaugeMetricFamily(
            "crm_scheduler_last_run_failed",
            "1 when the last run of the scheduled process failed.",
            labels=("process",),
        )
        for process in sorted(self.catalog.events.schedules):
            last = connection.execute(
                sa.select(runs.c.tick, runs.c.status)
                .where(runs.c.process == process)
                .order_by(runs.c.tick.desc())
                .limit(1)
            ).first()
            if last is None:
                continue
            age.add_metric((process,), _age(now, last.tick))
            failed.add_metric((process,), 1.0 if last.status == "failed" else 0.0)
        yield age
        yield failed

    def _workers(self, connection: sa.Connection, now: dt.datetime) -> Iterable[Metric]:
        beats = self.catalog.table(WorkerHeartbeatTable).__table__  # type: ignore[attr-defined]
        uploads = self.catalog.table(ImportUploadTable).__table__  # type: ignore[attr-defined]
        rows = connection.execute(
            sa.select(beats.c.role, beats.c.scheduler, beats.c.last_seen_at)
        ).all()
        ages = [(row.role, bool(row.scheduler), _age(now, row.last_seen_at)) for row in rows]
        workers = [age for role, _, age in ages if role == WORKER]
        alive = self.alive_seconds
        yield GaugeMetricFamily(
            "crm_workers_alive",
            f"Worker processes whose heartbeat is at most {alive:g} s old.",
            value=sum(1 for age in workers if age <= alive),
        )
        yield GaugeMetricFamily(
            "crm_schedulers_alive",
            f"Processes running the scheduler whose heartbeat is at most {alive:g} s old.",
            value=sum(1 for _, scheduler, age in ages if scheduler and age <= alive),
        )
        yield GaugeMetricFamily(
            "crm_worker_last_seen_age_seconds",
            "Age of the freshest worker heartbeat (+Inf when no worker is known).",
            value=min(workers, default=math.inf),
        )
        leased = sa.and_(uploads.c.locked_until.is_not(None), uploads.c.locked_until > now)
        running, queued = connection.execute(
            sa.select(
                sa.func.count().filter(leased), sa.func.count().filter(sa.not_(leased))
            ).where(uploads.c.status == "importing")
        ).one()
        yield GaugeMetricFamily(
            "crm_imports_running", "Imports a worker is running now.", value=running or 0
        )
        yield GaugeMetricFamily(
            "crm_imports_queued", "Imports waiting for a worker.", value=queued or 0
        )


def multiprocess() -> bool:
    """Whether this process shares its counters with others (``PROMETHEUS_MULTIPROC_DIR``)."""
    return bool(os.environ.get(MULTIPROCESS_VARIABLE))


class AppMetrics:
    """Everything ``/metrics`` shows of one app: its requests and its database's state."""

    def __init__(self, catalog: Catalog, database: Database, alive_seconds: float = 60.0) -> None:
        self.registry = CollectorRegistry()
        self.http = HttpMetrics(self.registry)
        self.database = DatabaseCollector(catalog, database, alive_seconds)
        self.registry.register(self.database)

    def scrape_registry(self) -> CollectorRegistry:
        """The registry a scrape reads: this process's counters, or every process's in
        multiprocess mode, with the database's state."""
        if not multiprocess():
            return self.registry
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(self.database)
        return registry
