"""The shop's own pages and API: mounted before the generated routes, under its middleware."""

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route


async def hello(request: Request) -> Response:
    user = request.state.user
    return JSONResponse({"hello": user.email if user else None})


async def page(request: Request) -> Response:
    return HTMLResponse("<h1>Our own page</h1>")


routes: list[BaseRoute] = [
    Route("/api/hello", hello, methods=["GET"]),
    Route("/pages/about", page, methods=["GET"]),
]
