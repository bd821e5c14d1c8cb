"""The API's docs for people: Swagger UI at ``/docs`` and ReDoc at ``/redoc``.

Both pages read the app's own ``/openapi.json`` and run from files shipped in the runtime
(``web/static/vendor/<package>-<version>/``, recorded with their sha256 and licences in
``web/vendor.json``), never from a CDN. Like ``/openapi.json`` they are public: the document
says no more than the API answers anyone who asks, and "Try it out" calls the API with the
caller's own credentials (their session or an API key). ``API_DOCS=0`` turns both pages off
(404, as for any unknown path); ``/openapi.json`` stays.

Each page keeps the UI's Content-Security-Policy except where its viewer needs more, and only
on that page (measured in Chromium: ``tests/browser/test_api_docs.py`` fails on any violation).
Swagger UI needs nothing more. ReDoc needs two inline ``<style>`` contents, allowed by their
hashes (``REDOC_STYLES``; no ``'unsafe-inline'``), and ``worker-src blob:`` for its search.
Neither needs ``'unsafe-eval'``; scripts stay ``'self'``. ReDoc's bundle is shipped with one
change: the Redocly logo it would load from its CDN is left empty (``web/vendor.json``). The
vendored files live below ``/static/vendor/`` in versioned folders, so they are served with a
year-long, immutable cache lifetime (``assets.LayeredStaticFiles``).

Both pages follow the UI's theme (``static/theme.js``, ``tokens.css``): ``static/api_docs.js``
starts the viewers, setting Swagger UI's own ``dark-mode`` class (restyled by
``static/swagger_theme.css``) or giving ReDoc a ``theme`` built from the tokens.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime.errors import ApiError
from crmgen_runtime.settings import Settings
from crmgen_runtime.web.site import SECURITY_HEADERS, site_of

SWAGGER_UI = "vendor/swagger-ui-5.35.0"  # swagger-ui-dist 5.35.0 (Apache-2.0)
REDOC = "vendor/redoc-2.5.4"  # redoc 2.5.4 (MIT)
SPEC_URL = "/openapi.json"
BASE_POLICY = SECURITY_HEADERS["Content-Security-Policy"]
# ReDoc's styled-components first adds an empty <style> element (the hash of "") and one fixed
# rule set, then fills its sheets through the CSSOM, which CSP does not govern.
REDOC_STYLES = (
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
)
# What each page changes in the UI's policy (each directive replaces the UI's of that name).
EXTRA: dict[str, dict[str, str]] = {
    "swagger": {},
    "redoc": {
        "style-src": " ".join(("'self'", *REDOC_STYLES)),
        "worker-src": "blob:",  # its search index runs in a worker made from a blob: URL
    },
}


def policy(viewer: str) -> str:
    """The Content-Security-Policy of the page of ``viewer`` (``swagger`` or ``redoc``)."""
    directives = dict(part.strip().split(" ", 1) for part in BASE_POLICY.split(";"))
    directives.update(EXTRA[viewer])
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _page(request: Request, viewer: str) -> Response:
    settings: Settings = request.app.state.settings
    if not settings.api_docs:
        raise ApiError(404, "not_found", "No such page.")
    site = site_of(request)
    context = {
        "viewer": viewer,
        "spec_url": SPEC_URL,
        "swagger_ui": f"/static/{SWAGGER_UI}",
        "redoc": f"/static/{REDOC}",
    }
    response = site.render(request, "api_docs.html", context)
    response.headers["Content-Security-Policy"] = policy(viewer)
    return response


async def swagger(request: Request) -> Response:
    """``GET /docs``: Swagger UI over the app's OpenAPI document ("Try it out" included)."""
    return _page(request, "swagger")


async def redoc(request: Request) -> Response:
    """``GET /redoc``: ReDoc, the same document as a three-column reference."""
    return _page(request, "redoc")


def routes() -> list[BaseRoute]:
    """The two pages, beside ``/openapi.json`` (``asgi.build``)."""
    return [
        Route("/docs", swagger, methods=["GET"], name="api_docs_swagger"),
        Route("/redoc", redoc, methods=["GET"], name="api_docs_redoc"),
    ]
