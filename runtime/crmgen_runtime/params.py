"""Query parameters of API requests, checked: a bad value is a 422 naming the parameter."""

from __future__ import annotations

from starlette.requests import Request

from crmgen_runtime.errors import ApiError

DEFAULT_LIMIT = 50  # a page of a log (audit, outbox) when the request names none
MAX_LIMIT = 500  # the largest page


def query_integer(
    request: Request, name: str, default: int | None, low: int, high: int | None
) -> int | None:
    """The whole number of query parameter ``name`` between ``low`` and ``high`` (``default``
    when absent); 422 when it is not one."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        limit = f"between {low} and {high}" if high is not None else f"at least {low}"
        message = f"{name} must be a whole number {limit}."
        raise ApiError(422, "validation_error", message, {name: message})
    return value


def page(request: Request) -> tuple[int, int]:
    """The ``limit`` and ``offset`` of a log page (defaults 50 and 0; limit at most 500)."""
    limit = query_integer(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = query_integer(request, "offset", 0, 0, None)
    assert limit is not None and offset is not None
    return limit, offset
