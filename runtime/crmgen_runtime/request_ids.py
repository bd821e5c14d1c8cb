"""The id of each request: what ties a log line, an error body and a proxy's log together.

A request keeps the ``X-Request-ID`` its proxy sent when that is a sane token (letters, digits
and ``._:-``, at most 128 characters, beginning with a letter or digit); anything else, or none,
gets a new random id. ``RequestMiddleware`` (``crmgen_runtime.observe``) puts it in the request's
scope (``of``), in this context (``current``, what log records carry) and in the response's
``X-Request-ID`` header; error bodies name it (``crmgen_runtime.errors``).
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

from starlette.types import Scope

HEADER = "X-Request-ID"
SCOPE_KEY = "crmgen.request_id"
MAX_LENGTH = 128
_SANE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:-]{{0,{MAX_LENGTH - 1}}}")
_CURRENT: ContextVar[str | None] = ContextVar("crmgen_request_id", default=None)


def sane(value: str) -> bool:
    """Whether ``value`` may be kept as a request id (no spaces, quotes or control characters
    that could forge a log line or a header)."""
    return bool(_SANE.fullmatch(value))


def new() -> str:
    """A new random request id (32 hexadecimal digits)."""
    return secrets.token_hex(16)


def accept(header: bytes | None) -> str:
    """The proxy's id in ``header`` when it is sane, else a new one."""
    if header:
        value = header.decode("latin-1")
        if sane(value):
            return value
    return new()


def begin(scope: Scope) -> str:
    """The id of the request ``scope`` (its proxy's or a new one), kept in the scope and the
    current context."""
    header = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), None)
    request_id = accept(header)
    scope[SCOPE_KEY] = request_id
    _CURRENT.set(request_id)
    return request_id


def of(scope: Scope) -> str | None:
    """The id of the request ``scope``, once ``begin`` has given it one."""
    value = scope.get(SCOPE_KEY)
    return value if isinstance(value, str) else None


def current() -> str | None:
    """The id of the request being served in this context (None outside requests)."""
    return _CURRENT.get()
