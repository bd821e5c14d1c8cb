"""``crmgen_runtime.hosts``: the ``Host`` header's name, the allowed patterns, the middleware."""

from __future__ import annotations

import pytest
from crmgen_runtime.hosts import AllowedHostsMiddleware, allowed, host_name
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("example.com", "example.com"),
        ("Example.COM:8000", "example.com"),
        ("  crm.example.com.  ", "crm.example.com"),
        ("crm.example.com.:443", "crm.example.com"),
        ("[::1]:8000", "::1"),
        ("[2001:DB8::1]", "2001:db8::1"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("host:notaport", "host:notaport"),
        ("", ""),
    ],
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize(
    ("host", "patterns", "expected"),
    [
        ("crm.example.com", ["crm.example.com"], True),
        ("crm.example.com", ["*"], True),
        ("crm.example.com", ["*.example.com"], True),
        ("a.b.example.com", ["*.example.com"], True),
        ("example.com", ["*.example.com"], False),  # the parent itself is not a subdomain
        ("evilexample.com", ["*.example.com"], False),
        ("crm.example.com", ["example.com", "localhost"], False),
        ("anything", [], False),
    ],
)
def test_allowed(host: str, patterns: list[str], expected: bool) -> None:
    assert allowed(host, patterns) is expected


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"hello {request.url.path}")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hi")
    await websocket.close()


def client(hosts: list[str]) -> TestClient:
    app = Starlette(
        routes=[
            Route("/", hello),
            Route("/healthz", hello),
            WebSocketRoute("/ws", echo),
        ]
    )
    return TestClient(AllowedHostsMiddleware(app, hosts), base_url="http://crm.example.com")


def test_an_allowed_host_is_served() -> None:
    with client(["crm.example.com"]) as http:
        assert http.get("/", headers={"host": "CRM.example.com:8000"}).text == "hello /"
        assert http.get("/").status_code == 200


def test_another_host_is_refused_with_400_json() -> None:
    with client(["crm.example.com"]) as http:
        response = http.get("/", headers={"host": "evil.example.net"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_host" and error["fields"] == {}
    assert "ALLOWED_HOSTS" in error["message"]


def test_healthz_answers_any_host() -> None:
    with client(["crm.example.com"]) as http:
        response = http.get("/healthz", headers={"host": "10.1.2.3:8000"})
    assert response.status_code == 200 and response.text == "hello /healthz"


def test_websockets_of_another_host_are_closed() -> None:
    with client(["crm.example.com"]) as http:
        with http.websocket_connect("/ws", headers={"host": "crm.example.com"}) as socket:
            assert socket.receive_text() == "hi"
        evil = {"host": "evil.example.net"}
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            http.websocket_connect("/ws", headers=evil),
        ):
            pass
    assert closed.value.code == 1008
