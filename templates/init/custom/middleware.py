"""This app's own middleware: added after the sign-in middleware (``request.state.user`` is
set), inside the body-size and allowed-host checks."""

from __future__ import annotations

from starlette.middleware import Middleware

# from starlette.middleware.gzip import GZipMiddleware

middleware: list[Middleware] = [
    # Middleware(GZipMiddleware, minimum_size=1000),
]
