"""The signed-in user of a request: a pending lookup runs once, off the event loop."""

from __future__ import annotations

import asyncio

import pytest
from crmgen_runtime import principal
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from starlette.requests import Request

ALICE = CurrentUser(1, "alice@example.com", "Alice", frozenset({"sales"}))


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
    assert asyncio.run(principal.current_user(asked)) is ALICE
    assert asyncio.run(principal.require_user(asked)) is ALICE


def test_an_anonymous_request_is_a_401_where_a_user_is_required() -> None:
    assert asyncio.run(principal.current_user(request({"user": None}))) is None
    assert principal.user_of(request({})) is None
    with pytest.raises(ApiError) as refused:
        asyncio.run(principal.require_user(request({"user": None})))
    assert refused.value.status == 401
