"""The signed-in user of a request: a pending lookup runs once, off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from crmgen_runtime import principal
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from starlette.requests import Request

ALICE = CurrentUser(1, "alice@example.com", "Alice", frozenset({"sales"}))


def run(function: Callable[[Request], Awaitable[Any]], asked: Request) -> Any:
    """``function(asked)`` on an event loop of its own thread (a test before may have left one
    running on this thread: Playwright's)."""

    async def main() -> Any:
        return await function(asked)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def request(state: dict[str, object]) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "state": state})


def test_the_lookup_runs_once_and_its_answer_is_kept() -> None:
    calls: list[int] = []

    def lookup() -> CurrentUser:
        calls.append(1)
        return ALICE

    asked = request({"user": None, principal.USER_LOOKUP: lookup})
    assert principal.user_of(asked) is ALICE
    assert principal.user_of(asked) is ALICE
    assert calls == [1]


def test_async_code_gets_the_user_from_the_thread_pool() -> None:
    asked = request({"user": None, principal.USER_LOOKUP: lambda: ALICE})
    assert run(principal.current_user, asked) is ALICE
    assert run(principal.require_user, asked) is ALICE


def test_an_anonymous_request_is_a_401_where_a_user_is_required() -> None:
    assert run(principal.current_user, request({"user": None})) is None
    assert principal.user_of(request({})) is None
    with pytest.raises(ApiError) as refused:
        run(principal.require_user, request({"user": None}))
    assert refused.value.status == 401


def test_user_on_runs_the_lookup_on_the_callers_connection_when_it_can() -> None:
    class Lookup:
        def __init__(self) -> None:
            self.on_calls: list[object] = []

        def __call__(self) -> CurrentUser:
            raise AssertionError("the lookup of its own connection is not used")

        def on(self, connection: object) -> CurrentUser:
            self.on_calls.append(connection)
            return ALICE

    lookup, connection = Lookup(), object()
    asked = request({"user": None, principal.USER_LOOKUP: lookup})
    assert principal.user_on(asked, connection) is ALICE  # type: ignore[arg-type]
    assert principal.user_on(asked, connection) is ALICE  # type: ignore[arg-type]
    assert lookup.on_calls == [connection], "once, on the connection given"
    plain = request({"user": None, principal.USER_LOOKUP: lambda: ALICE})
    assert principal.user_on(plain, connection) is ALICE  # type: ignore[arg-type]
    assert principal.user_on(request({"user": None}), connection) is None  # type: ignore[arg-type]
