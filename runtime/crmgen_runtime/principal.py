"""Who is making a request: the signed-in user as the rest of the app sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from crmgen_runtime.errors import ApiError

if TYPE_CHECKING:
    import sqlalchemy as sa


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in user of a request (``request.state.user``; None when anonymous).

    ``extra`` holds the spec's own User fields (e.g. ``position_id``), read by record rules.
    """

    id: int
    email: str
    name: str | None
    roles: frozenset[str]
    superuser: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    locale: str | None = None  # the UI language they chose on their account page

    def has_role(self, *names: str) -> bool:
        """True when the user has any of ``names`` (superusers have every role)."""
        return self.superuser or any(name in self.roles for name in names)


# The signed-in user of a request. An authentication middleware puts ``user`` (None) on the
# request's state and, when the request carries credentials, ``user_lookup``: a blocking
# callable giving the user, run once, off the event loop, by the first code that asks. A
# lookup that also has ``on(connection)`` can run on a connection the caller holds
# (``user_on``): the request's reads and its session lookup then share one connection.
USER_LOOKUP = "user_lookup"


def user_of(request: HTTPConnection) -> CurrentUser | None:
    """The signed-in user of ``request`` (None when anonymous); blocking: call it off the loop.

    Runs the pending lookup once and keeps the answer on ``request.state``.
    """
    state = request.scope.setdefault("state", {})
    lookup = state.pop(USER_LOOKUP, None)
    if lookup is not None:
        state["user"] = lookup()
    user: CurrentUser | None = state.get("user")
    return user


def user_on(request: HTTPConnection, connection: sa.Connection) -> CurrentUser | None:
    """``user_of``, a pending lookup run on ``connection`` when the lookup can be (blocking:
    call it off the loop). The lookup still reads the session as it is now."""
    state = request.scope.setdefault("state", {})
    lookup = state.pop(USER_LOOKUP, None)
    if lookup is not None:
        on = getattr(lookup, "on", None)
        state["user"] = lookup() if on is None else on(connection)
    user: CurrentUser | None = state.get("user")
    return user


async def current_user(request: HTTPConnection) -> CurrentUser | None:
    """``user_of`` for async code: a pending lookup runs in the thread pool."""
    if USER_LOOKUP in request.scope.get("state", {}):
        return await run_in_threadpool(user_of, request)
    user: CurrentUser | None = request.scope.get("state", {}).get("user")
    return user


async def require_user(request: HTTPConnection) -> CurrentUser:
    """The signed-in user, or a 401."""
    user = await current_user(request)
    if user is None:
        raise ApiError(401, "not_authenticated", "Sign in first.")
    return user
