"""``crmgen_runtime.errors``: every error is ``{"error": {"code", "message", "fields"}}``."""

from __future__ import annotations

import logging

import pytest
from crmgen_runtime.errors import EXCEPTION_HANDLERS, ApiError, error_response, not_found
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient


def test_api_error_defaults_its_code_and_message_from_the_status() -> None:
    error = ApiError(409)
    assert (error.status, error.code, error.message) == (409, "conflict", "Conflict.")
    assert error.body() == {"error": {"code": "conflict", "message": "Conflict.", "fields": {}}}
    assert str(error) == "409" and str(ApiError(404, "gone")) == "gone"
    assert ApiError(418).code == "error"
    assert ApiError(422, fields={"name": "Required."}).body()["error"]["fields"] == {
        "name": "Required."
    }
    assert not_found("deal").body()["error"] == {
        "code": "not_found",
        "message": "No such deal.",
        "fields": {},
    }


def test_error_response_is_json_with_the_status_and_headers() -> None:
    response = error_response(ApiError(429, headers={"Retry-After": "3"}))
    assert response.status_code == 429
    assert response.media_type == "application/json"
    assert response.headers["retry-after"] == "3"
    assert response.body == (
        b'{"error":{"code":"too_many_requests","message":"Too many requests.","fields":{}}}'
    )


async def invalid(request: Request) -> Response:
    raise ApiError(422, "validation_error", "Check the fields.", {"email": "Not an email."})


async def teapot(request: Request) -> Response:
    raise HTTPException(400, "Bad thing", headers={"X-Why": "because"})


async def broken(request: Request) -> Response:
    raise RuntimeError("secret connection string postgresql://user:pw@db")


@pytest.fixture
def client() -> TestClient:
    app = Starlette(
        routes=[
            Route("/invalid", invalid),
            Route("/teapot", teapot),
            Route("/broken", broken),
            Route("/only-get", invalid, methods=["GET"]),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    return TestClient(app, raise_server_exceptions=False)


def test_api_errors_keep_their_code_message_and_fields(client: TestClient) -> None:
    response = client.get("/invalid")
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "validation_error",
            "message": "Check the fields.",
            "fields": {"email": "Not an email."},
        }
    }


def test_starlettes_http_errors_get_the_same_shape(client: TestClient) -> None:
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": "not_found",
        "message": "No such page.",
        "fields": {},
    }
    wrong = client.post("/only-get")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    assert wrong.json()["error"]["message"] == "This method is not allowed here."
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "HEAD"}
    bad = client.get("/teapot")
    assert bad.status_code == 400 and bad.headers["x-why"] == "because"
    assert bad.json()["error"] == {"code": "bad_request", "message": "Bad thing", "fields": {}}


def test_a_crash_is_a_500_that_tells_nothing_but_is_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="crmgen_runtime.errors"):
        response = client.get("/broken")
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Something went wrong.", "fields": {}}
    }
    assert "secret" not in response.text
    assert "unexpected error on GET /broken" in caplog.text
    assert "secret connection string" in caplog.text  # the traceback is in the log only
