"""Notifications: what the app tells its users in the app (the bell) and in an e-mail digest.

Three kinds: ``assignment`` (a record's owner became someone else than the one who changed it:
``register`` puts the hooks on every entity with an owner), ``mention`` (``@`` in a comment:
``crmgen_runtime.comments``) and ``process`` (a process's ``notify`` step, such as the reference
CRM's reminders: ``processes.Run.notify``). ``notify`` adds the rows in the caller's
transaction, so nobody is told of a write that is rolled back.

Each user chooses per kind (``crm_notification_settings``; no row: in the app): ``app`` (in the
app), ``digest`` (in the app, and the unread ones in one e-mail now and then: ``send_digests``,
the scheduled job ``DIGEST_JOB``, through the outbox) or ``off`` (not stored at all).

``routes(catalog)`` serve, below ``/api``, one's own notifications only (another user's id is a
404): ``GET /notifications`` (``unread=true``, ``limit``, ``offset``), ``GET
/notifications/count`` (the bell's one light request), ``POST /notifications/{id}/read``,
``POST /notifications/read-all`` and ``GET|PUT /notifications/preferences``. Only apps whose spec
uses notifications (a ``notify`` step, or comments) have them (``AppConfig.notifications``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import account_mail, params
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError
from crmgen_runtime.events import Event, Events
from crmgen_runtime.principal import require_user
from crmgen_runtime.resources import Catalog, Resource
from crmgen_runtime.responses import JSONResponse, parse_json
from crmgen_runtime.tables import (
    NotificationSettingTable,
    NotificationTable,
    UserRoleTable,
    utcnow,
)

KINDS = ("assignment", "mention", "process")
CHANNELS = ("app", "digest", "off")
DEFAULT_CHANNEL = "app"
DIGEST_JOB = "crm:notification_digest"  # the scheduled job (no process can take the name)
DIGEST_CRON = "0 7 * * *"  # every morning, in the app's time zone
DIGEST_ROWS = 50  # notifications listed in one digest mail
MESSAGE_LENGTH = 2000  # the longest message kept
MESSAGES = Path(__file__).parent / "web" / "messages" / "notifications.json"


def enabled(catalog: Catalog) -> bool:
    """Whether ``catalog``'s app notifies its users (its spec uses notifications)."""
    return catalog.config.notifications


def record_url(catalog: Catalog, entity: str | None, record_id: int | None) -> str | None:
    """The web UI's page of the record a notification is about."""
    resource = catalog.by_name.get(entity or "")
    if resource is None or record_id is None:
        return None
    return f"/{resource.path}/{record_id}"


# --- telling -------------------------------------------------------------------------------


def channels(
    session: Session, catalog: Catalog, user_ids: Iterable[int], kind: str
) -> dict[int, str]:
    """Each user's channel for ``kind`` (``DEFAULT_CHANNEL`` when they chose none)."""
    ids = sorted(set(user_ids))
    model: Any = catalog.table(NotificationSettingTable)
    chosen: dict[int, str] = dict(
        session.execute(
            sa.select(model.user_id, model.channel).where(
                model.user_id.in_(ids), model.kind == kind
            )
        ).all()
    )
    return {i: chosen.get(i, DEFAULT_CHANNEL) for i in ids}


def notify(
    session: Session,
    catalog: Catalog,
    *,
    users: Iterable[int | None],
    kind: str,
    message: str,
    entity: str | None = None,
    record_id: int | None = None,
    actor_id: int | None = None,
) -> list[int]:
    """Tell ``users`` (each once) in the caller's transaction, as each chose for ``kind``;
    the ids of the users told."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r} (one of {', '.join(KINDS)})")
    wanted = {u for u in users if isinstance(u, int) and not isinstance(u, bool)}
    if not wanted:
        return []
    told = [u for u, c in channels(session, catalog, wanted, kind).items() if c != "off"]
    if told:
        table = catalog.table(NotificationTable).__table__  # type: ignore[attr-defined]
        now = utcnow()
        session.execute(
            sa.insert(table),
            [
                {
                    "user_id": u,
                    "kind": kind,
                    "message": message[:MESSAGE_LENGTH],
                    "entity": entity,
                    "record_id": record_id,
                    "actor_id": actor_id,
                    "created_at": now,
                }
                for u in told
            ],
        )
    return told


def role_members(session: Session, catalog: Catalog, role: str) -> list[int]:
    """The active users holding ``role``."""
    roles: Any = catalog.table(UserRoleTable)
    users = catalog.by_name["User"].model
    return list(
        session.scalars(
            sa.select(roles.user_id)
            .join(users, users.id == roles.user_id)
            .where(roles.role == role, users.active.is_(True))
            .order_by(roles.user_id)
        )
    )


# --- built-in: a record assigned to someone --------------------------------------------------


def _display(resource: Resource, record: Any) -> str:
    info = resource.fields.get(resource.display)
    value = getattr(record, info.attr if info is not None else resource.display, None)
    return f"#{record.id}" if value is None or value == "" else str(value)


def assigned(event: Event) -> None:
    """After a create or an owner change: tell the new owner, unless they did it themselves.
    The owner and the display value come from the write's values when it holds them (no
    query for a record one creates for oneself)."""
    resource: Resource = event.resource
    owner = resource.owner
    if owner is None or event.record_id is None:
        return
    record = None
    if owner in event.values:
        owner_id = event.values[owner]
    else:
        record = event.record()
        owner_id = getattr(record, resource.fields[owner].column, None)
    owner_id = getattr(owner_id, "id", owner_id)
    actor = event.user.id if event.user is not None else None
    if not isinstance(owner_id, int) or owner_id == actor:
        return
    shown = event.values.get(resource.display)
    if shown is None or shown == "":
        record = record if record is not None else event.record()
        shown = _display(resource, record) if record is not None else f"#{event.record_id}"
    notify(
        event.session,
        resource.catalog,
        users=[owner_id],
        kind="assignment",
        message=str(shown),
        entity=resource.name,
        record_id=event.record_id,
        actor_id=actor,
    )


def register(events: Events, catalog: Catalog) -> None:
    """Put the built-in notifications on ``events``: assignment hooks on each entity with an
    owner, and the digest job on its cron."""
    for resource in catalog.by_name.values():
        if resource.owner is not None and resource.name != "User":
            events.on("after_create", resource.name, assigned)
            events.on("after_update", resource.name, assigned, fields=[resource.owner])

    def digest(database: Any) -> None:
        send_digests(database, catalog)

    events.schedule(DIGEST_JOB, DIGEST_CRON, digest)


# --- reading ---------------------------------------------------------------------------------


def _aware(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


def describe(catalog: Catalog, row: Any, actors: dict[int, str]) -> dict[str, Any]:
    """The JSON of one notification."""
    return {
        "id": row.id,
        "kind": row.kind,
        "message": row.message,
        "entity": row.entity,
        "record_id": row.record_id,
        "url": record_url(catalog, row.entity, row.record_id),
        "actor_id": row.actor_id,
        "actor": actors.get(row.actor_id) if row.actor_id is not None else None,
        "created_at": _aware(row.created_at),
        "read": row.read_at is not None,
        "read_at": _aware(row.read_at),
    }


def _actor_names(session: Session, catalog: Catalog, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    users = catalog.by_name["User"].model
    rows = session.execute(sa.select(users.id, users.name, users.email).where(users.id.in_(ids)))
    return {row[0]: row[1] or row[2] for row in rows}


def unread_count(database: Database, catalog: Catalog, user_id: int) -> int:
    """How many of ``user_id``'s notifications are unread (one indexed count)."""
    model: Any = catalog.table(NotificationTable)
    with database.engine.connect() as connection:
        found = connection.scalar(
            sa.select(sa.func.count(model.id)).where(
                model.user_id == user_id, model.read_at.is_(None)
            )
        )
    return int(found or 0)


def page(
    database: Database, catalog: Catalog, user_id: int, *, unread: bool, limit: int, offset: int
) -> dict[str, Any]:
    """One page of ``user_id``'s notifications, newest first, with the total and the unread
    count."""
    model: Any = catalog.table(NotificationTable)
    mine = [model.user_id == user_id]
    if unread:
        mine.append(model.read_at.is_(None))
    with database.session() as session:
        total = session.scalar(sa.select(sa.func.count(model.id)).where(*mine)) or 0
        rows = session.scalars(
            sa.select(model).where(*mine).order_by(model.id.desc()).limit(limit).offset(offset)
        ).all()
        actors = _actor_names(session, catalog, {r.actor_id for r in rows if r.actor_id})
        items = [describe(catalog, row, actors) for row in rows]
    next_offset = offset + limit if offset + limit < total else None
    return {
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": next_offset,
        "unread": unread_count(database, catalog, user_id),
    }


def mark_read(database: Database, catalog: Catalog, user_id: int, ident: int | None) -> int:
    """Mark one (``ident``) or all of ``user_id``'s unread notifications read; how many were.
    Someone else's notification is not found (404)."""
    model: Any = catalog.table(NotificationTable)
    with database.session() as session:
        if ident is not None:
            owner = session.scalar(sa.select(model.user_id).where(model.id == ident))
            if owner != user_id:
                raise ApiError(404, "not_found", "No such notification.")
        stmt = (
            sa.update(model)
            .where(model.user_id == user_id, model.read_at.is_(None))
            .values(read_at=utcnow())
        )
        if ident is not None:
            stmt = stmt.where(model.id == ident)
        done = session.execute(stmt)
    return int(getattr(done, "rowcount", 0) or 0)


# --- preferences ---------------------------------------------------------------------------


def preferences(database: Database, catalog: Catalog, user_id: int) -> dict[str, str]:
    """``user_id``'s channel for each kind."""
    model: Any = catalog.table(NotificationSettingTable)
    with database.engine.connect() as connection:
        chosen: dict[str, str] = dict(
            connection.execute(
                sa.select(model.kind, model.channel).where(model.user_id == user_id)
            ).all()
        )
    return {kind: chosen.get(kind, DEFAULT_CHANNEL) for kind in KINDS}


def check_preferences(payload: Any) -> dict[str, str]:
    """The kinds and channels of a ``PUT`` body; 422 naming each bad one."""
    if not isinstance(payload, dict):
        raise ApiError(422, "validation_error", "Send an object of kind -> channel.")
    problems: dict[str, str] = {}
    for kind, channel in payload.items():
        if kind not in KINDS:
            problems[str(kind)] = f"Unknown kind: one of {', '.join(KINDS)}."
        elif channel not in CHANNELS:
            problems[kind] = f"Must be one of {', '.join(CHANNELS)}."
    if problems:
        raise ApiError(422, "validation_error", "Some preferences are not valid.", problems)
    return {str(k): str(v) for k, v in payload.items()}


def set_preferences(
    database: Database, catalog: Catalog, user_id: int, chosen: dict[str, str]
) -> dict[str, str]:
    """Store ``chosen`` (kind -> channel) for ``user_id``; their preferences now."""
    model: Any = catalog.table(NotificationSettingTable)
    with database.session() as session:
        for kind, channel in chosen.items():
            row = session.get(model, (user_id, kind))
            if row is None:
                session.add(model(user_id=user_id, kind=kind, channel=channel))
            else:
                row.channel = channel
    return preferences(database, catalog, user_id)


# --- the e-mail digest -----------------------------------------------------------------------


@functools.cache
def _messages() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(MESSAGES.read_text(encoding="utf-8"))
    return data


def words(locale: str) -> dict[str, str]:
    """The notifications' words in ``locale`` (else English), by key."""
    return {key: texts.get(locale) or texts["en"] for key, texts in _messages().items()}


def line(catalog: Catalog, row: Any, w: dict[str, str], actor: str | None) -> str:
    """One notification as a line of text (the digest mail)."""
    label = catalog.by_name[row.entity].label if row.entity in catalog.by_name else ""
    head = w[f"notification_{row.kind}"].format(actor=actor or w["notification_someone"])
    about = f"{label} «{row.message}»" if row.kind == "assignment" and label else row.message
    return f"{head}: {about}"


def send_digests(database: Database, catalog: Catalog) -> int:
    """Queue one digest mail (in the user's language) per user who chose ``digest`` for some kind and has unread
    notifications of those kinds newer than their last digest; how many were queued. The
    outbox key names the newest notification held, so a digest is never mailed twice."""
    settings: Any = catalog.table(NotificationSettingTable)
    model: Any = catalog.table(NotificationTable)
    users = catalog.by_name["User"].model
    config = catalog.config
    try:
        base = config.settings.load().public_url or ""
    except ValueError:
        base = ""
    queued = 0
    with database.session() as session:
        rows = session.scalars(sa.select(settings).where(settings.channel == "digest")).all()
        by_user: dict[int, list[Any]] = {}
        for row in rows:
            by_user.setdefault(row.user_id, []).append(row)
        for user_id, chosen in sorted(by_user.items()):
            person = session.execute(
                sa.select(users.email, users.active, users.locale).where(users.id == user_id)
            ).first()
            if person is None or not person[1]:
                continue
            # in the language the user chose on their account page, else the app's
            chosen_locale = person[2] if person[2] in config.locales else None
            w = words(chosen_locale or config.default_locale)
            last = max((r.digested_id or 0 for r in chosen), default=0)
            found = session.scalars(
                sa.select(model)
                .where(
                    model.user_id == user_id,
                    model.read_at.is_(None),
                    model.kind.in_([r.kind for r in chosen]),
                    model.id > last,
                )
                .order_by(model.id.desc())
                .limit(DIGEST_ROWS)
            ).all()
            if not found:
                continue
            actors = _actor_names(session, catalog, {r.actor_id for r in found if r.actor_id})
            lines = []
            for n in found:
                url = record_url(catalog, n.entity, n.record_id)
                text = "- " + line(catalog, n, w, actors.get(n.actor_id))
                lines.append(text + (f"\n  {base}{url}" if url and base else ""))
            subject = w["digest_subject"].format(title=config.plain_title, count=len(found))
            body = "\n".join(
                [
                    w["digest_intro"].format(count=len(found)),
                    "",
                    *lines,
                    "",
                    f"{base}/notifications",
                ]
            )
            account_mail.queue(
                session,
                catalog,
                to=person[0],
                subject=subject,
                text=body,
                template="notification_digest",
                key=f"notification_digest:{user_id}:{found[0].id}",
            )
            now = utcnow()
            for r in chosen:
                r.digest_at = now
                r.digested_id = found[0].id
            queued += 1
    return queued


# --- the API -------------------------------------------------------------------------------


def routes(catalog: Catalog) -> list[BaseRoute]:
    """The notification routes of ``catalog``'s app, relative to ``/api``."""

    async def list_mine(request: Request) -> Response:
        """``GET /api/notifications``: one's own, newest first; ``unread=true`` for the
        unread ones only."""
        user = await require_user(request)
        limit, offset = params.page(request)
        unread = request.query_params.get("unread", "").lower() in ("true", "1", "yes")
        data = await run_in_threadpool(
            page, request.app.state.db, catalog, user.id, unread=unread, limit=limit, offset=offset
        )
        return JSONResponse(data)

    async def count(request: Request) -> Response:
        """``GET /api/notifications/count``: ``{"unread": N}`` (the bell asks once a minute)."""
        user = await require_user(request)
        unread = await run_in_threadpool(unread_count, request.app.state.db, catalog, user.id)
        return JSONResponse({"unread": unread}, headers={"Cache-Control": "no-store"})

    async def read_one(request: Request) -> Response:
        user = await require_user(request)
        ident = int(request.path_params["id"])
        await run_in_threadpool(mark_read, request.app.state.db, catalog, user.id, ident)
        return JSONResponse({"id": ident, "read": True})

    async def read_all(request: Request) -> Response:
        user = await require_user(request)
        done = await run_in_threadpool(mark_read, request.app.state.db, catalog, user.id, None)
        return JSONResponse({"read": done})

    async def prefs(request: Request) -> Response:
        """``GET|PUT /api/notifications/preferences``: kind -> app, digest or off."""
        user = await require_user(request)
        database = request.app.state.db
        if request.method == "PUT":
            chosen = check_preferences(parse_json(await request.body()))
            data = await run_in_threadpool(set_preferences, database, catalog, user.id, chosen)
        else:
            data = await run_in_threadpool(preferences, database, catalog, user.id)
        return JSONResponse(data)

    return [
        Route("/notifications", list_mine, methods=["GET"], name="notifications_list"),
        Route("/notifications/count", count, methods=["GET"], name="notifications_count"),
        Route("/notifications/read-all", read_all, methods=["POST"], name="notifications_read_all"),
        Route(
            "/notifications/preferences",
            prefs,
            methods=["GET", "PUT"],
            name="notifications_preferences",
        ),
        Route(
            "/notifications/{id:int}/read", read_one, methods=["POST"], name="notifications_read"
        ),
    ]
