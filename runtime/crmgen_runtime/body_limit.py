"""Request bodies within a limit: ``BodyLimit`` stops reading one at the limit and answers 413.

Every request body is capped at ``Settings.max_body_bytes`` (``MAX_BODY_BYTES``, 2,000,000
bytes by default); a route that takes more (the import upload) raises the cap for its own
request with ``allow(request, size)`` before it reads the body. A body announced as larger
(``Content-Length``) is refused at its first read, a chunked one as soon as the bytes read pass
the cap: ``receive`` raises ``ApiError(413)``, which the app answers like any other error. So
no endpoint (the API, sign-in, forms, custom endpoints, actions, uploads) ever holds more than
the cap plus one chunk of a body, and a multipart upload never spools more than that to disk.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crmgen_runtime.errors import ApiError

SCOPE_KEY = "crmgen_runtime.body_limit"


@dataclass
class Limit:
    """The cap of one request's body, shared by every copy of its scope."""

    size: int


def too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"The request body is over {limit} bytes.")


def declared_length(scope: Scope) -> int | None:
    """The ``Content-Length`` of a request (None when it has none or a malformed one)."""
    value = Headers(scope=scope).get("content-length", "")
    return int(value) if value.isdigit() else None


class BodyLimit:
    """ASGI middleware: no request body beyond its cap is read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = Limit(self.max_bytes)
        scope[SCOPE_KEY] = limit
        declared = declared_length(scope)
        received = 0

        async def limited() -> Message:
            nonlocal received
            if declared is not None and declared > limit.size:
                raise too_large(limit.size)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.size:
                    raise too_large(limit.size)
            return message

        await self.app(scope, limited, send)


def allow(request: Request, size: int) -> None:
    """Let the body of ``request`` (not read yet) be up to ``size`` bytes."""
    limit = request.scope.get(SCOPE_KEY)
    if isinstance(limit, Limit):
        limit.size = size
