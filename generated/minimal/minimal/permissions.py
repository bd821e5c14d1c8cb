"""Who may do what: role x entity x action, record rules as SQL, field-level limits.

``require`` answers 401/403 before any work; ``scope`` adds the record rule of the user's
roles to a statement, so a record outside it is simply not found (404: existence does not
leak); ``readable`` and ``check_writable`` apply the hidden and read-only fields of each
role. A user with several roles gets the union of what they allow; superusers may do all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import sqlalchemy as sa
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser

from minimal.resources import SUPERUSER_ROLES, Access, Resource, Rule

Statement = TypeVar("Statement", bound=Any)


def is_superuser(user: CurrentUser) -> bool:
    return user.superuser or bool(user.roles & SUPERUSER_ROLES)


def _rules(resource: Resource, user: CurrentUser) -> list[Rule]:
    return [
        resource.rules[role] for role in sorted(user.roles) if role in resource.rules
    ]


def require(resource: Resource, user: CurrentUser | None, action: str) -> list[Access]:
    """The accesses of ``user``'s roles for ``action``; 401 when anonymous, 403 when none."""
    if user is None:
        raise ApiError(401, "not_authenticated", "Sign in first.")
    if is_superuser(user):
        return [Access("all")]
    granted = [
        access
        for rule in _rules(resource, user)
        if (access := rule.actions.get(action, Access("none"))).mode != "none"
    ]
    if not granted:
        raise ApiError(
            403, "forbidden", f"You may not {action} {resource.label} records."
        )
    return granted


def condition(
    resource: Resource, user: CurrentUser, action: str
) -> sa.ColumnElement[bool] | None:
    """The record rule of ``user`` for ``action`` as SQL; None when every record is allowed."""
    accesses = require(resource, user, action)
    parts: list[sa.ColumnElement[bool]] = []
    for access in accesses:
        if access.mode == "all":
            return None
        if access.mode == "own":
            if resource.owner is not None:
                parts.append(resource.attribute(resource.owner) == user.id)
            else:  # the User entity itself: a user owns their own record
                parts.append(resource.model.id == user.id)  # type: ignore[attr-defined]
        elif access.mode == "where" and access.where is not None:
            parts.append(access.where(user))
    return sa.or_(*parts) if parts else sa.false()


def scope(
    stmt: Statement, resource: Resource, user: CurrentUser | None, action: str
) -> Statement:
    """``stmt`` (a SELECT, UPDATE or DELETE of the resource) limited by the record rule."""
    if user is None:
        raise ApiError(401, "not_authenticated", "Sign in first.")
    rule = condition(resource, user, action)
    return stmt if rule is None else stmt.where(rule)


def readable(resource: Resource, user: CurrentUser | None) -> frozenset[str]:
    """The fields ``user`` may see (system columns included); hidden fields are left out."""
    everything = frozenset(resource.fields) | frozenset(resource.system_fields)
    if user is None or is_superuser(user):
        return everything
    visible: set[str] = set(resource.system_fields)
    for rule in _rules(resource, user):
        visible |= everything - rule.hidden
    return frozenset(visible)


def writable(resource: Resource, user: CurrentUser, action: str) -> frozenset[str]:
    """The fields ``user`` may write when doing ``action`` (create or update)."""
    everything = frozenset(resource.fields)
    if is_superuser(user):
        return everything
    allowed: set[str] = set()
    for rule in _rules(resource, user):
        if rule.actions.get(action, Access("none")).mode != "none":
            allowed |= everything - rule.read_only - rule.hidden
    return frozenset(allowed)


def check_writable(
    resource: Resource,
    user: CurrentUser,
    payload: Mapping[str, Any],
    action: str = "update",
) -> None:
    """Raise ``ApiError(403)`` naming every field of ``payload`` the user may not write."""
    allowed = writable(resource, user, action)
    refused = {
        name: "Your role may not change this field."
        for name in payload
        if name in resource.fields and name not in allowed
    }
    if refused:
        raise ApiError(
            403,
            "forbidden_fields",
            "Your role may not change some of these fields.",
            dict(sorted(refused.items())),
        )
