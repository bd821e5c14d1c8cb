"""Who may change a user's sign-in identity and power, and what such a change ends.

A user's e-mail, ``active`` flag and roles are changed only by a role that manages users
(``catalog.manages_users``); the same goes for creating and deleting users. A superuser's record
(a user holding a superuser role) is changed or deleted only by a superuser, and only a
superuser grants or removes a superuser role. Nobody changes their own roles or ``active``
flag, nor their own e-mail here: that is ``POST /api/auth/email`` (the password, then a link
mailed to the new address). The other User fields follow the entity's ``update`` rule.

The rules hold at the request entry points of ``crmgen_runtime.crud`` (``create_in``,
``update_in`` and ``delete_record``), which the API, the web forms, bulk delete, the kanban
board and the import all go through. Processes are the spec's own logic: they write users
through ``insert_row`` and ``update_row`` as the spec author wrote them.

A change of e-mail revokes the user's sessions and unused reset and e-mail-change links and
tells the old address; deactivating a user or taking a role away revokes their sessions.
Every function takes the app's ``Catalog``: its ``User`` model, its system tables
(``catalog.table(UserRoleTable)``, ...) and its roles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crmgen_runtime import account_mail
from crmgen_runtime.errors import ApiError, not_found
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import Catalog
from crmgen_runtime.tables import (
    EmailChangeTable,
    PasswordResetTable,
    UserRoleTable,
    UserSessionTable,
    utcnow,
)

USER = "User"
ROLES_FIELD = "roles"
INVITED_FIELD = "invited"  # read only: active and no password yet (``invited_of``)
EMAIL_FLOW = (
    "Change your own e-mail with POST /api/auth/email (your password, then a link mailed to "
    "the new address) or on the account page (/account)."
)
MANAGE = "Changing this needs user management (a role with manage_users)."
OWN = "Nobody changes their own roles or active flag."
SUPERUSER_GRANTS = "Only a superuser grants a superuser role."
SUPERUSER_ROLE_CHANGE = "Only a superuser grants or removes a superuser role."


def _forbidden(message: str, fields: Mapping[str, str] | None = None) -> ApiError:
    return ApiError(403, "forbidden_fields" if fields else "forbidden", message, dict(fields or {}))


def user_model(catalog: Catalog) -> Any:
    """The app's ``User`` model class."""
    return catalog.by_name[USER].model


# --- roles ---------------------------------------------------------------------------------


def take_roles(catalog: Catalog, entity: str, payload: dict[str, Any]) -> list[str] | None:
    """Remove ``roles`` from a User ``payload``: the sorted role names, or None when not given
    (or when ``entity`` is not User).

    422 naming the problem when it is not a list of the app's role names.
    """
    if entity != USER or ROLES_FIELD not in payload:
        return None
    raw = payload.pop(ROLES_FIELD)
    known = catalog.config.roles
    if not isinstance(raw, list) or not all(isinstance(name, str) for name in raw):
        problem = "Must be a list of role names."
    else:
        unknown = sorted(set(raw) - known)
        if not unknown:
            return sorted(set(raw))
        problem = f"Unknown role {unknown[0]!r} (the roles are: {', '.join(sorted(known))})."
    raise ApiError(422, "validation_error", "Some fields are invalid.", {ROLES_FIELD: problem})


def roles_of(
    connection: sa.Connection | Session, catalog: Catalog, user_ids: Iterable[int]
) -> dict[int, list[str]]:
    """The sorted role names of each of ``user_ids`` (one query)."""
    found: dict[int, list[str]] = {}
    ids = list(user_ids)
    if not ids:
        return found
    table = catalog.table(UserRoleTable)
    rows = connection.execute(
        sa.select(table.user_id, table.role)
        .where(table.user_id.in_(ids))
        .order_by(table.user_id, table.role)
    )
    for user_id, role in rows:
        found.setdefault(user_id, []).append(role)
    return found


def invited_of(
    connection: sa.Connection | Session, catalog: Catalog, user_ids: Iterable[int]
) -> set[int]:
    """Which of ``user_ids`` are invited and have not chosen a password yet: active users
    without a password (one query; ``crmgen_runtime.invites``)."""
    ids = list(user_ids)
    if not ids:
        return set()
    user = user_model(catalog)
    rows = connection.execute(
        sa.select(user.id).where(
            user.id.in_(ids), user.active.is_(True), user.password_hash.is_(None)
        )
    )
    return {user_id for (user_id,) in rows}


def grantable(catalog: Catalog, actor: CurrentUser) -> list[str]:
    """The role names ``actor`` may give or take (none unless they manage users; a superuser
    role only for a superuser), sorted."""
    if not catalog.manages_users(actor):
        return []
    superuser = catalog.is_superuser(actor)
    return sorted(r for r in catalog.config.roles if superuser or r not in catalog.superuser_roles)


def _write_roles(session: Session, catalog: Catalog, user_id: int, roles: list[str]) -> None:
    table = catalog.table(UserRoleTable)
    session.execute(sa.delete(table).where(table.user_id == user_id))
    if roles:
        session.execute(sa.insert(table), [{"user_id": user_id, "role": r} for r in roles])


def set_roles(session: Session, catalog: Catalog, user_id: int, roles: list[str] | None) -> None:
    """Give a new user its ``roles`` (when given)."""
    if roles:
        _write_roles(session, catalog, user_id, roles)


# --- the checks at the entry points ----------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """What a write changes of a user's identity and power (for ``apply``)."""

    user_id: int
    old_email: str
    new_email: str
    deactivated: bool
    old_roles: tuple[str, ...]
    new_roles: tuple[str, ...] | None  # None: the roles stay

    @property
    def roles_removed(self) -> bool:
        return self.new_roles is not None and bool(set(self.old_roles) - set(self.new_roles))

    def audit(self) -> dict[str, list[Any]]:
        """The roles' entry of the audit log's changes (empty when they stay)."""
        if self.new_roles is None or list(self.new_roles) == list(self.old_roles):
            return {}
        return {ROLES_FIELD: [list(self.old_roles), list(self.new_roles)]}


def email_taken(session: Session, catalog: Catalog, email: str, user_id: int | None = None) -> bool:
    """Whether a user other than ``user_id`` signs in with ``email`` (case does not matter)."""
    user = user_model(catalog)
    stmt = sa.select(user.id).where(sa.func.lower(user.email) == email.strip().lower())
    if user_id is not None:
        stmt = stmt.where(user.id != user_id)
    return session.scalar(stmt.limit(1)) is not None


def check_email_free(session: Session, catalog: Catalog, email: Any, user_id: int | None) -> None:
    """409 when another user has ``email`` in any letter case (sign-in ignores case)."""
    if isinstance(email, str) and email_taken(session, catalog, email, user_id):
        message = "Another user has this e-mail."
        raise ApiError(409, "conflict", message, {"email": message})


def check_create(catalog: Catalog, actor: CurrentUser, roles: list[str] | None) -> None:
    """403 unless ``actor`` may create users (with ``roles``)."""
    if not catalog.manages_users(actor):
        raise _forbidden(
            "Your role may not create users: that needs user management (manage_users)."
        )
    if roles and set(roles) & catalog.superuser_roles and not catalog.is_superuser(actor):
        raise _forbidden(SUPERUSER_GRANTS, {ROLES_FIELD: SUPERUSER_GRANTS})


def check_update(
    session: Session,
    catalog: Catalog,
    actor: CurrentUser,
    user_id: int,
    values: Mapping[str, Any],
    roles: list[str] | None,
    rule: sa.ColumnElement[bool] | None,
) -> Change:
    """403 unless ``actor`` may write ``values`` and ``roles`` to the user ``user_id``.

    Only real changes count: a form that sends the unchanged e-mail saves. 404 when the user
    is gone or outside the ``update`` ``rule``.
    """
    user = user_model(catalog)
    stmt = sa.select(user.email, user.active).where(user.id == user_id)
    row = session.execute(stmt if rule is None else stmt.where(rule)).first()
    if row is None:
        raise not_found("user")
    old_roles = tuple(roles_of(session, catalog, [user_id]).get(user_id, []))
    change = Change(
        user_id=user_id,
        old_email=row.email,
        new_email=values.get("email", row.email),
        deactivated=row.active is True and values.get("active", True) is False,
        old_roles=old_roles,
        new_roles=None if roles is None or tuple(roles) == old_roles else tuple(roles),
    )
    changed = [
        name
        for name, differs in (
            ("email", change.new_email != change.old_email),
            ("active", "active" in values and values["active"] != row.active),
            (ROLES_FIELD, change.new_roles is not None),
        )
        if differs
    ]
    superuser = catalog.is_superuser(actor)
    if set(old_roles) & catalog.superuser_roles and not superuser:
        raise _forbidden("Only a superuser may change a superuser's account.")
    if user_id == actor.id:
        if "email" in changed:
            raise _forbidden(EMAIL_FLOW, {"email": EMAIL_FLOW})
        refused = dict.fromkeys(changed, OWN)
    elif not catalog.manages_users(actor):
        refused = dict.fromkeys(changed, MANAGE)
    else:
        refused = {}
    new_roles = set(old_roles if change.new_roles is None else change.new_roles)
    if (new_roles ^ set(old_roles)) & catalog.superuser_roles and not superuser:
        refused.setdefault(ROLES_FIELD, SUPERUSER_ROLE_CHANGE)
    if refused:
        raise _forbidden("You may not change some of these fields.", dict(sorted(refused.items())))
    if "email" in changed:
        check_email_free(session, catalog, change.new_email, user_id)
    return change


def check_delete(
    session: Session,
    catalog: Catalog,
    actor: CurrentUser,
    user_id: int,
    rule: sa.ColumnElement[bool] | None,
) -> None:
    """403 unless ``actor`` may delete the user ``user_id`` (404 outside the ``rule``); then
    the user's sessions end."""
    user = user_model(catalog)
    stmt = sa.select(user.id).where(user.id == user_id)
    if session.execute(stmt if rule is None else stmt.where(rule)).first() is None:
        raise not_found("user")
    if not catalog.manages_users(actor):
        raise _forbidden(
            "Your role may not delete users: that needs user management (manage_users)."
        )
    if user_id == actor.id:
        raise _forbidden("Nobody deletes their own account.")
    held = set(roles_of(session, catalog, [user_id]).get(user_id, []))
    if held & catalog.superuser_roles and not catalog.is_superuser(actor):
        raise _forbidden("Only a superuser may delete a superuser's account.")
    end_sessions(session, catalog, user_id)


def apply(session: Session, catalog: Catalog, change: Change) -> None:
    """After the write: the roles, then what the change ends (sessions, links, the old mail)."""
    if change.new_roles is not None:
        _write_roles(session, catalog, change.user_id, list(change.new_roles))
    if change.new_email != change.old_email:
        end_sessions(session, catalog, change.user_id)
        end_links(session, catalog, change.user_id)
        tell_old_address(session, catalog, change.user_id, change.old_email, change.new_email)
    elif change.deactivated or change.roles_removed:
        end_sessions(session, catalog, change.user_id)


# --- what a change ends ----------------------------------------------------------------------


def end_sessions(
    session: Session, catalog: Catalog, user_id: int, *, keep: str | None = None
) -> None:
    """Revoke the open sessions of ``user_id`` but the one whose token hash is ``keep``."""
    table = catalog.table(UserSessionTable)
    stmt = sa.update(table).where(table.user_id == user_id, table.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(table.token_hash != keep)
    session.execute(stmt.values(revoked_at=utcnow()))


def end_links(session: Session, catalog: Catalog, user_id: int) -> None:
    """Mark every unused password-reset and e-mail-change link of ``user_id`` used."""
    now = utcnow()
    tables: tuple[Any, ...] = (
        catalog.table(PasswordResetTable),
        catalog.table(EmailChangeTable),
    )
    for table in tables:
        session.execute(
            sa.update(table)
            .where(table.user_id == user_id, table.used_at.is_(None))
            .values(used_at=now)
        )


def tell_old_address(session: Session, catalog: Catalog, user_id: int, old: str, new: str) -> None:
    """Mail ``old`` (through the outbox) that the account's e-mail is now ``new``."""
    now = utcnow()
    title = catalog.config.plain_title
    account_mail.queue(
        session,
        catalog,
        to=old,
        subject=f"Your e-mail was changed: {title}",
        text=(
            f"The e-mail of your account was changed from {old} to {new}; "
            "sign in with the new one from now on. If you did not ask for this, "
            "tell your administrator at once."
        ),
        template="email_changed",
        key=f"email-changed:{user_id}:{now.isoformat()}:{new}",
        now=now,
    )
