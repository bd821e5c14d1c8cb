"""This app's own pages and API routes: mounted before the generated ones, behind the same
sign-in, CSRF and host checks (``request.state.user`` is the signed-in user, or None)."""

from __future__ import annotations

from starlette.routing import BaseRoute

# from starlette.requests import Request
# from starlette.responses import HTMLResponse, Response
# from starlette.routing import Route
#
#
# async def about(request: Request) -> Response:
#     return HTMLResponse("<h1>About us</h1>")


routes: list[BaseRoute] = [
    # Route("/about", about, methods=["GET"]),
]
