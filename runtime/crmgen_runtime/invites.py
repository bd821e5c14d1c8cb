"""Inviting people: a user made by a user manager, who chooses a password through a mailed link.

``POST /api/users/invite`` {email, name, roles} creates the user through the same entry point
as ``POST /api/users`` (``writes.create_in``: the ``create`` permission, user management, only
a superuser grants a superuser role, the audit log) and mails a one-time link to
``<PUBLIC_URL>/invite/<token>`` through the outbox; ``POST /api/users/{id}/invite`` sends a new
link and ends the old one. Both answer with the user, never the token.

An invited user is an active user without a password: nothing new in the model. Signing in
without a password already fails as a wrong password does (the same argon2 work, logged as
``no_password``), deactivating the user withdraws the invitation (an inactive user cannot sign
in, and no new link is sent), and ``active: false`` keeps meaning "deactivated by a manager".
The link is a row of the password links (``crm_password_resets``, ``auth.issue_link``) with
the invitation's lifetime (``INVITE_TTL_HOURS``, 72 by default): one use, stored as a hash,
dead after a password is set, an e-mail change or a resend. The page at ``/invite/<token>``
(``web.auth_pages``) sets the password with the reset's rules (``auth.confirm_reset``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import account_mail, accounts, auth, auth_routes, permissions
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError, not_found
from crmgen_runtime.principal import CurrentUser, user_of
from crmgen_runtime.reads import fetch_one, signed_in
from crmgen_runtime.resources import Catalog, Resource
from crmgen_runtime.responses import JSONResponse, parse_json
from crmgen_runtime.tables import utcnow
from crmgen_runtime.writes import create_in, integrity

TEMPLATE = "invite"  # the outbox payload's ``template``
MAY_NOT_INVITE = "Your role may not invite users: that needs user management (manage_users)."
HAS_PASSWORD = (
    "This user has set a password already: a forgotten password is reset at /password-reset."
)
DEACTIVATED = "This user is deactivated: activate the account (PATCH active: true) first."

Translate = Callable[[str], str]

# The mail in English, for an app without a web UI's words (its ``Site``).
ENGLISH = {
    "invite_mail_subject": "You are invited to {title}",
    "invite_mail_text": (
        "{inviter} invited you to {title}. To choose your password and sign in, open {link} "
        "within {hours} hours. If you did not expect this, ignore this message."
    ),
}


def lifetime_of(request: Request) -> dt.timedelta:
    """How long an invitation's link lives: the setting ``INVITE_TTL_HOURS``."""
    return dt.timedelta(hours=request.app.state.settings.invite_ttl_hours)


def words_of(request: Request) -> Translate:
    """The mail's words in the inviter's language (the web UI's choice of it), else English."""
    site = getattr(request.app.state, "site", None)
    if site is None:
        return ENGLISH.__getitem__
    return site.translator(site.locale_of(request))  # type: ignore[no-any-return]


def _may_invite(catalog: Catalog, actor: CurrentUser) -> None:
    if not catalog.manages_users(actor):
        raise ApiError(403, "forbidden", MAY_NOT_INVITE)


def _conflict(message: str, field: str = "email") -> ApiError:
    return ApiError(409, "conflict", message, {field: message})


def queue_invite(
    session: Session,
    catalog: Catalog,
    user_id: int,
    *,
    inviter: CurrentUser,
    base_url: str,
    lifetime: dt.timedelta,
    t: Translate,
) -> None:
    """A new invitation link for ``user_id`` and its mail, in the outbox (the caller commits)."""
    user = accounts.user_model(catalog)
    to: str = session.scalars(sa.select(user.email).where(user.id == user_id)).one()
    now = utcnow()
    token = auth.issue_link(catalog, session, user_id, lifetime, now)
    link = f"{base_url}/invite/{token}"  # the web UI's page
    values = {
        "title": catalog.config.plain_title,
        "inviter": inviter.name,
        "link": link,
        "hours": f"{lifetime.total_seconds() / 3600:g}",
    }
    account_mail.queue(
        session,
        catalog,
        to=to,
        subject=t("invite_mail_subject").format(**values),
        text=t("invite_mail_text").format(**values),
        template=TEMPLATE,
        key=f"invite:{auth.digest(token)}",
        link=link,
        now=now,
    )


def invite(
    database: Database,
    resource: Resource,
    actor: CurrentUser | None,
    payload: Any,
    ip: str | None,
    *,
    base_url: str,
    lifetime: dt.timedelta,
    t: Translate,
) -> dict[str, Any]:
    """``POST /api/users/invite``: the new user as ``actor`` reads it (one transaction).

    403 unless ``actor`` manages users (before anything tells whether the e-mail is known);
    409 when a user has the e-mail (a pending one: resend instead); then every rule of
    ``POST /api/users``.
    """
    actor = signed_in(actor)
    catalog = resource.catalog
    permissions.require(resource, actor, "create")
    _may_invite(catalog, actor)
    if not isinstance(payload, dict):
        raise ApiError(422, "validation_error", "The request body must be a JSON object.")
    with integrity(resource, "create"), database.session() as session:
        address = payload.get("email")
        if isinstance(address, str):
            found = auth.find_user(catalog, session, auth.normalize_email(address))
            if found is not None and found.password_hash is None:
                raise _conflict(
                    f"This person is invited already: send a new link with "
                    f"POST /api/users/{found.id}/invite."
                )
            if found is not None:
                raise _conflict("A user with this e-mail exists already.")
        new_id = create_in(session, resource, actor, dict(payload), ip)
        queue_invite(
            session, catalog, new_id, inviter=actor, base_url=base_url, lifetime=lifetime, t=t
        )
        record = fetch_one(session.connection(), resource, actor, new_id, action=None)
    assert record is not None
    return record


def resend(
    database: Database,
    resource: Resource,
    actor: CurrentUser | None,
    user_id: int,
    *,
    base_url: str,
    lifetime: dt.timedelta,
    t: Translate,
) -> dict[str, Any]:
    """``POST /api/users/{id}/invite``: a new link for a user who has no password yet; the
    unused links sent before die. 403 for a superuser's account unless ``actor`` is one."""
    actor = signed_in(actor)
    catalog = resource.catalog
    permissions.require(resource, actor, "update")
    _may_invite(catalog, actor)
    user = accounts.user_model(catalog)
    rule = permissions.condition(resource, actor, "update")
    with database.session() as session:
        stmt = sa.select(user.active, user.password_hash).where(user.id == user_id)
        row = session.execute(stmt if rule is None else stmt.where(rule)).first()
        if row is None:
            raise not_found("user")
        held = set(accounts.roles_of(session, catalog, [user_id]).get(user_id, []))
        if held & catalog.superuser_roles and not catalog.is_superuser(actor):
            raise ApiError(403, "forbidden", "Only a superuser may change a superuser's account.")
        if row.password_hash is not None:
            raise _conflict(HAS_PASSWORD, "id")
        if row.active is not True:
            raise _conflict(DEACTIVATED, "active")
        accounts.end_links(session, catalog, user_id)
        queue_invite(
            session, catalog, user_id, inviter=actor, base_url=base_url, lifetime=lifetime, t=t
        )
        record = fetch_one(session.connection(), resource, actor, user_id, action=None)
    if record is None:
        raise not_found("user")
    return record


def routes(resource: Resource) -> list[BaseRoute]:
    """``POST /<users>/invite`` and ``POST /<users>/{id}/invite`` below ``/api``."""
    from crmgen_runtime.crud import record_id_of  # crud lists these routes

    async def invite_endpoint(request: Request) -> Response:
        body = parse_json(await request.body())
        record = await run_in_threadpool(
            lambda: invite(
                request.app.state.db,
                resource,
                user_of(request),
                body,
                auth_routes.client_of(request)[0],
                base_url=auth_routes.public_url(request),
                lifetime=lifetime_of(request),
                t=words_of(request),
            )
        )
        location = f"/api/{resource.path}/{record['id']}"
        return JSONResponse(record, status_code=201, headers={"Location": location})

    async def resend_endpoint(request: Request) -> Response:
        record_id = record_id_of(request)
        record = await run_in_threadpool(
            lambda: resend(
                request.app.state.db,
                resource,
                user_of(request),
                record_id,
                base_url=auth_routes.public_url(request),
                lifetime=lifetime_of(request),
                t=words_of(request),
            )
        )
        return JSONResponse(record)

    base = f"/{resource.path}"
    return [
        Route(f"{base}/invite", invite_endpoint, methods=["POST"], name="users_invite"),
        Route(base + "/{id}/invite", resend_endpoint, methods=["POST"], name="users_invite_resend"),
    ]
