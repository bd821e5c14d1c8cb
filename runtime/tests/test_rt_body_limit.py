"""``crmgen_runtime.body_limit``: no body past its cap is read; the answer is a 413 in JSON."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from crmgen_runtime.body_limit import BodyLimit, allow, declared_length
from crmgen_runtime.errors import EXCEPTION_HANDLERS
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

LIMIT = 100


async def size(request: Request) -> JSONResponse:
    return JSONResponse({"size": len(await request.body())})


async def upload(request: Request) -> JSONResponse:
    allow(request, 1000)  # this route takes more
    return JSONResponse({"size": len(await request.body())})


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(await websocket.receive_text())
    await websocket.close()


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = Starlette(
        routes=[Route("/", size, methods=["POST"]), Route("/upload", upload, methods=["POST"])]
        + [WebSocketRoute("/ws", echo)],
        middleware=[Middleware(BodyLimit, max_bytes=LIMIT)],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    with TestClient(app) as http:
        yield http


def chunks(count: int, size: int) -> Iterator[bytes]:
    for _ in range(count):
        yield b"x" * size


def test_a_body_within_the_limit_is_read(client: TestClient) -> None:
    assert client.post("/", content=b"x" * LIMIT).json() == {"size": LIMIT}
    assert client.post("/", content=chunks(4, 25)).json() == {"size": LIMIT}


def test_a_body_declared_larger_is_refused_with_413_json(client: TestClient) -> None:
    response = client.post("/", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "too_large",
            "message": f"The request body is over {LIMIT} bytes.",
            "fields": {},
        }
    }


def test_a_chunked_body_is_refused_once_it_passes_the_limit(client: TestClient) -> None:
    response = client.post("/", content=chunks(5, 30))
    assert "content-length" not in response.request.headers
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_a_route_may_raise_its_own_limit(client: TestClient) -> None:
    assert client.post("/upload", content=b"x" * 900).json() == {"size": 900}
    assert client.post("/upload", content=chunks(10, 90)).json() == {"size": 900}
    refused = client.post("/upload", content=b"x" * 1001)
    assert refused.status_code == 413
    assert refused.json()["error"]["message"] == "The request body is over 1000 bytes."


def test_other_scopes_pass_through(client: TestClient) -> None:
    with client.websocket_connect("/ws") as socket:
        socket.send_text("y" * (LIMIT * 3))
        assert socket.receive_text() == "y" * (LIMIT * 3)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"content-length", b"12")], 12),
        ([(b"content-length", b"-1")], None),
        ([(b"content-length", b"12abc")], None),
        ([], None),
    ],
)
def test_declared_length(headers: list[tuple[bytes, bytes]], expected: int | None) -> None:
    assert declared_length({"type": "http", "headers": headers}) == expected


def test_allow_outside_the_middleware_changes_nothing() -> None:
    request = Request({"type": "http", "headers": [], "method": "POST", "path": "/"})
    allow(request, 10)  # no limit in the scope: nothing to raise, no error
    assert "crmgen_runtime.body_limit" not in request.scope
