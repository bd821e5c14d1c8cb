"""The shop's own middleware: inside the default list, after sign-in."""

from typing import Any

from starlette.middleware import Middleware


class PoweredBy:
    """A pure ASGI middleware adding ``X-Powered-By: shop`` to every response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-powered-by", b"shop"))
            await send(message)

        await self.app(scope, receive, sending)


middleware = [Middleware(PoweredBy)]
