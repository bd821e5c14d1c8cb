"""What every request leaves behind: its id, an access log line and its metrics.

``RequestMiddleware`` wraps an app outside everything else it runs (``asgi.build``): it gives
each request its id (``crmgen_runtime.request_ids``) and answers with it in ``X-Request-ID``,
logs one line when the answer is sent (logger ``crmgen_runtime.access``, with ``method``,
``path``, ``status`` and ``duration`` as the record's fields: ``crmgen_runtime.logs``) and
counts it by route template (``crmgen_runtime.metrics``). A request that crashes is logged and
counted as a 500, the answer the app's error handler then gives.

Health checks are quiet: a ``GET /healthz`` that succeeds (Docker and Kubernetes ask every few
seconds) is logged at DEBUG, so it shows only with ``LOG_LEVEL=DEBUG``; one that fails (the
database does not answer: 503) is logged at INFO like any request, and counted either way.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crmgen_runtime import request_ids
from crmgen_runtime.metrics import HttpMetrics

log = logging.getLogger("crmgen_runtime.access")
QUIET_PATHS = frozenset({"/healthz"})  # polled by orchestrators: logged only when they fail
HEADER = request_ids.HEADER.lower().encode("latin-1")


class RequestMiddleware:
    """Pure ASGI: request ids, the access log and the request metrics (``metrics``: None
    counts nothing)."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_ids.begin(scope)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._done(scope, status, time.perf_counter() - started)

    def _done(self, scope: Scope, status: int, seconds: float) -> None:
        if self.metrics is not None:
            self.metrics.observe(scope, status, seconds)
        # as sent, still percent-encoded: a decoded %0A could forge a line of a text log
        raw = scope.get("raw_path")
        path = raw.decode("ascii", "backslashreplace") if raw else scope["path"]
        quiet = status < 400 and scope["path"] in QUIET_PATHS
        log.log(
            logging.DEBUG if quiet else logging.INFO,
            "%s %s %d %.1f ms",
            scope["method"],
            path,
            status,
            seconds * 1000,
            extra={
                "method": scope["method"],
                "path": path,
                "status": status,
                "duration": round(seconds, 6),
            },
        )
