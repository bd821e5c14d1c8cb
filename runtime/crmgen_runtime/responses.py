"""JSON in and out of the API: orjson bodies, values as JSON carries them, request bodies.

Decimals travel as strings of every digit (``0.000000000001``, never ``1E-12``), dates and
times in ISO 8601, times always in UTC (SQLite hands back naive datetimes, stored in UTC).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import Response

from crmgen_runtime.errors import ApiError


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(data: Any) -> bytes:
    """``data`` as JSON bytes (orjson, decimals as strings of digits)."""
    return orjson.dumps(data, default=_default)


class JSONResponse(Response):
    """A JSON response rendered by orjson (decimals as strings of digits, dates in ISO 8601)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def aware(value: dt.datetime) -> dt.datetime:
    """``value`` in UTC (a naive datetime is taken as UTC, as SQLite stores it)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def json_ready(value: Any) -> Any:
    """``value`` as JSON carries it: dates in ISO 8601, decimals as strings of every digit."""
    if isinstance(value, dt.datetime):
        return aware(value).isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def parse_json(body: bytes) -> Any:
    """A request's JSON body (its size capped by ``body_limit``); 400 when it is missing or
    malformed."""
    if not body.strip():
        raise ApiError(400, "invalid_json", "The request body is empty: send a JSON object.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None
