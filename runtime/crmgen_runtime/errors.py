"""Errors as JSON: ``{"error": {"code", "message", "fields"}}``, whatever went wrong.

``ApiError`` is raised by the handlers for anything the client can fix (400, 401, 403, 404,
409, 422); Starlette's ``HTTPException`` (404 for an unknown path, 405) gets the same shape;
any other exception is logged and answered with a 500 that tells nothing about the inside.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """An error the client can act on; ``fields`` maps a field to what is wrong with it."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message: str = "",
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or code or str(status))
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message or self.code.replace("_", " ").capitalize() + "."
        self.fields = dict(fields or {})
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}


def not_found(what: str = "record") -> ApiError:
    return ApiError(404, "not_found", f"No such {what}.")


def error_response(error: ApiError) -> Response:
    return Response(
        orjson.dumps(error.body()),
        status_code=error.status,
        media_type="application/json",
        headers=error.headers,
    )


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "No such page.", 405: "This method is not allowed here."}.get(
        exc.status_code, str(exc.detail)
    )
    headers = dict(exc.headers or {})
    return error_response(
        ApiError(exc.status_code, CODES.get(exc.status_code), message, headers=headers)
    )


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(ApiError(500, "internal_error", "Something went wrong."))


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApiError: api_error,
    HTTPException: http_error,
    Exception: server_error,
}
