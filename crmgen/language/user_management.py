"""Who may manage users: the warning where a role may change User records without ``manage_users``.

The generated app lets only roles with ``manage_users`` (and superusers) create and delete users
and change their sign-in identity and power (e-mail, ``active``, roles); other roles that may
update users change only the other fields. A spec that grants such a role ``create``, ``update``
or ``delete`` on User gets a located warning that says so and how to give user management.
"""

from __future__ import annotations

from collections.abc import Iterable

from crmgen.diagnostics import did_you_mean
from crmgen.language.context import USER, Context
from crmgen.language.model import App, Entity, Permission, Role

IDENTITY_FIELDS = ("email", "active")
CHANGING = ("create", "update", "delete")


def check_user_management(ctx: Context, roles: Iterable[Role], entities: Iterable[Entity]) -> None:
    """Warn at each User permission that changes users for a role without ``manage_users``."""
    managers = {role.name for role in roles if role.manage_users}
    user = next((entity for entity in entities if entity.name == USER), None)
    if user is None:
        return
    others = [f.name for f in user.fields if f.name not in IDENTITY_FIELDS]
    for permission in user.permissions:
        if permission.role not in managers:
            message = _message(permission, others)
            if message:
                path = ("entities", USER, "permissions", permission.role)
                ctx.warn(path, "user-management", message, at_key=True)


def _message(permission: Permission, others: list[str]) -> str | None:
    """What ``permission`` lets its role change of users, and what not; None: nothing."""
    granted = [a for a in CHANGING if permission.access(a).mode != "none"]
    if not granted:
        return None
    role = permission.role
    parts = [f"role '{role}' may {'/'.join(granted)} User records but has no manage_users"]
    if "update" in granted:
        fields = ", ".join(others) or "none"
        parts.append(
            f"it may change the other fields ({fields}) where its rule allows, "
            "not a user's e-mail, active flag or roles"
        )
    if {"create", "delete"} & set(granted):
        parts.append("it may not create or delete users")
    parts.append("nor touch a superuser's record")
    parts.append(f"to let it manage users, set manage_users: true under roles.{role}")
    return "; ".join(parts[:-2]) + ", " + "; ".join(parts[-2:])


def check_two_factor(ctx: Context, app: App, roles: Iterable[Role]) -> None:
    """An error at each role of ``auth.two_factor.required_for`` that the spec does not have."""
    names = [role.name for role in roles]
    for i, name in enumerate(app.two_factor_required):
        if name not in names:
            path = ("app", "auth", "two_factor", "required_for", i)
            hint = did_you_mean(name, names)
            known = ", ".join(names) or "none"
            ctx.error(path, "role", f"unknown role '{name}'{hint or f' (the roles: {known})'}")
