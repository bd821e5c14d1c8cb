"""``GET /metrics``: the app's Prometheus metrics (``crmgen_runtime.metrics``), never public.

Off (404, as for any unknown path) until ``METRICS_TOKEN`` or ``METRICS_ALLOW_IPS`` is set.
Then a scrape must send ``Authorization: Bearer METRICS_TOKEN`` when a token is set, and come
from one of the ``METRICS_ALLOW_IPS`` networks when those are set (both, when both are); any
other request gets a 401. The client's address is the one uvicorn saw, or the one a trusted
proxy (``FORWARDED_ALLOW_IPS``) forwarded.
"""

from __future__ import annotations

import hmac
import ipaddress

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime.errors import ApiError
from crmgen_runtime.metrics import AppMetrics
from crmgen_runtime.settings import Settings

PATH = "/metrics"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="metrics"'}


def _token_sent(request: Request, token: str) -> bool:
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        sent.strip().encode("utf-8"), token.encode("utf-8")
    )


def _from_networks(request: Request, networks: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network) for network in networks)


def may_scrape(request: Request, settings: Settings) -> bool:
    """Whether ``request`` passes every guard ``settings`` set (token, networks)."""
    if settings.metrics_token and not _token_sent(request, settings.metrics_token):
        return False
    return not settings.metrics_networks or _from_networks(request, settings.metrics_networks)


async def metrics(request: Request) -> Response:
    """The metrics in Prometheus's text format, to a scrape that may read them."""
    settings: Settings = request.app.state.settings
    if not settings.metrics_enabled:
        raise ApiError(404, "not_found", "No such page.")
    if not may_scrape(request, settings):
        raise ApiError(
            401, "not_authenticated", "Reading the metrics needs their token.", headers=CHALLENGE
        )
    app_metrics: AppMetrics = request.app.state.metrics
    body = await run_in_threadpool(generate_latest, app_metrics.scrape_registry())
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def routes() -> list[BaseRoute]:
    return [Route(PATH, metrics, methods=["GET"], name="metrics")]
