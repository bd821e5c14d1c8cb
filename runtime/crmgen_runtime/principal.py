"""Who is making a request: the signed-in user as the rest of the app sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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

    def has_role(self, *names: str) -> bool:
        """True when the user has any of ``names`` (superusers have every role)."""
        return self.superuser or any(name in self.roles for name in names)
