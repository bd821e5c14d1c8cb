"""Errors for people: a browser asking for a page gets the UI's error page, not JSON.

``html_errors`` wraps the app's JSON exception handlers (``errors.EXCEPTION_HANDLERS``): a
request outside ``/api`` whose ``Accept`` header asks for HTML (what browsers send for pages) is
answered with ``error.html`` in the user's language and the UI's security headers, with the same
status (404, 403, 405, ...) and headers, and the request's id for a report; a page that needs a signed-in user sends them to sign in.
API clients, and anything that does not ask for HTML, keep the JSON error shape. ``favicon``
serves the app's icon at ``/favicon.ico``, where browsers look for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import assets
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser, current_user
from crmgen_runtime.resources import Resource
from crmgen_runtime.web.site import login_redirect, site_of

Handler = Callable[[Request, Exception], Awaitable[Response]]

# The UI's words for an error status; any other status gets the generic one.
MESSAGE_KEYS = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    500: "server_error",
}
# The UI's words for an error of its own code (a value the app's keys cannot decrypt).
CODE_KEYS = {"encryption_key": "encryption_key"}
# Headers of the JSON answer a page keeps (the rest come from the page itself).
KEPT_HEADERS = ("allow", "retry-after", "x-request-id")
FAVICON = "favicon.svg"
FAVICON_HEADERS = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}


def wants_page(request: Request) -> bool:
    """Whether ``request`` is a browser asking for a page (not an API call)."""
    path = request.url.path
    if path == "/api" or path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


async def _viewer(request: Request, status: int) -> CurrentUser | None:
    """The signed-in user for the page's menu; nobody when the server itself failed."""
    if status >= 500:
        return None
    try:
        return await current_user(request)
    except Exception:  # noqa: BLE001 - an error page must render whatever failed
        return None


def page_or_json(handler: Handler) -> Handler:
    """``handler``, answering a browser's page request with the error page instead."""

    async def handle(request: Request, exc: Exception) -> Response:
        answer = await handler(request, exc)
        if not wants_page(request):
            return answer
        status = answer.status_code
        user = await _viewer(request, status)
        if status == 401 and user is None:
            return login_redirect(request)
        key = MESSAGE_KEYS.get(status, "error")
        if isinstance(exc, ApiError) and exc.code in CODE_KEYS:
            key = CODE_KEYS[exc.code]
        page = site_of(request).error_page(request, status, key, user)
        for name in KEPT_HEADERS:
            if name in answer.headers:
                page.headers[name] = answer.headers[name]
        return page

    return handle


def html_errors(handlers: dict[Any, Handler]) -> dict[Any, Handler]:
    """The exception handlers of the app: ``handlers`` with pages for browsers."""
    return {kind: page_or_json(handler) for kind, handler in handlers.items()}


async def favicon(request: Request) -> Response:
    """The app's icon (its own ``static/favicon.svg``, else the runtime's)."""
    icon = assets.static_file(FAVICON, site_of(request).root)
    return Response(icon, media_type="image/svg+xml", headers=FAVICON_HEADERS)


def routes() -> list[BaseRoute]:
    return [Route("/favicon.ico", favicon, methods=["GET"], name="ui_favicon")]


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    return []
