"""Allowed hosts: a request whose ``Host`` header names a host this app does not serve is
refused with a 400 before anything else runs.

The hosts are ``Settings.hosts``: the loopback names, ``PUBLIC_URL``'s host and
``ALLOWED_HOSTS`` (a name, ``*.example.com`` for its subdomains, or ``*`` for any). Nothing the
app builds comes from the ``Host`` header (mailed links start with ``PUBLIC_URL``), and this
keeps out what a forged or rebound name could still reach. ``/healthz`` and ``/metrics`` (which
guards itself: ``crmgen_runtime.metrics_route``) answer any host: Kubernetes probes and
Prometheus ask them with the pod's address.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from crmgen_runtime.errors import ApiError, error_response

# Paths every host may ask: the health check of probes and load balancers, and the metrics
# that Prometheus scrapes from each pod.
ANY_HOST_PATHS = frozenset({"/healthz", "/metrics"})


def host_name(header: str) -> str:
    """The host of a ``Host`` header: lower case, without its port, brackets or final dot."""
    value = header.strip().lower()
    if value.startswith("["):  # [::1]:8000
        return value[1:].partition("]")[0]
    name, colon, port = value.rpartition(":")
    if colon and port.isdigit():
        value = name
    return value.rstrip(".")


def allowed(host: str, patterns: Iterable[str]) -> bool:
    """Whether ``host`` is one of ``patterns`` (``*.example.com``: a subdomain; ``*``: any)."""
    for pattern in patterns:
        if pattern in ("*", host):
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


class AllowedHostsMiddleware:
    """Pure ASGI: refuses (400 ``invalid_host``) requests for hosts outside ``hosts``."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = tuple(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"] not in ANY_HOST_PATHS:
            header = next((v for k, v in scope["headers"] if k == b"host"), b"")
            if not allowed(host_name(header.decode("latin-1")), self.hosts):
                await _refuse(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    message = "This server does not answer for the host the request names (see ALLOWED_HOSTS)."
    response = error_response(ApiError(400, "invalid_host", message), scope)
    await response(scope, receive, send)
