"""Errors as JSON: ``{"error": {"code", "message", "fields", "request_id"}}``, whatever went wrong.

``ApiError`` is raised by the handlers for anything the client can fix (400, 401, 403, 404,
409, 422); Starlette's ``HTTPException`` (404 for an unknown path, 405) gets the same shape;
any other exception is logged and answered with a 500 that tells nothing about the inside.
Every error names its request's id (``crmgen_runtime.request_ids``) in the body and in the
``X-Request-ID`` header, so a user's report can be found in the logs.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from crmgen_runtime import request_ids

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
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message or code or str(status))
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message or self.code.replace("_", " ").capitalize() + "."
        self.fields = dict(fields or {})
        self.headers = headers
        # more of the error's body beside code, message and fields (a 409
        # possible_duplicate's candidates)
        self.extra = dict(extra or {})

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "fields": self.fields}
        error.update(self.extra)
        if request_id is not None:
            error["request_id"] = request_id
        return {"error": error}


def not_found(what: str = "record") -> ApiError:
    return ApiError(404, "not_found", f"No such {what}.")


def error_response(error: ApiError, scope: Scope | None = None) -> Response:
    """The JSON answer of ``error``, naming the id of the request ``scope`` when it has one."""
    request_id = request_ids.of(scope) if scope is not None else None
    headers = dict(error.headers or {})
    if request_id is not None:
        headers[request_ids.HEADER] = request_id
    return Response(
        orjson.dumps(error.body(request_id)),
        status_code=error.status,
        media_type="application/json",
        headers=headers,
    )


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc, request.scope)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "No such page.", 405: "This method is not allowed here."}.get(
        exc.status_code, str(exc.detail)
    )
    headers = dict(exc.headers or {})
    return error_response(
        ApiError(exc.status_code, CODES.get(exc.status_code), message, headers=headers),
        request.scope,
    )


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(ApiError(500, "internal_error", "Something went wrong."), request.scope)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApiError: api_error,
    HTTPException: http_error,
    Exception: server_error,
}
