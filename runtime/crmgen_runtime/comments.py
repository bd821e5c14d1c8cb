"""Comments on records, with ``@`` mentions, for the entities whose spec says ``comments: true``.

Who may read a record may read and write its comments; a record the user may not read answers
404, its comments too. ``@someone@example.com`` in a comment mentions that user: exactly the
mentioned users who may read the record are told (``notifications``, kind ``mention``), never
one who may not, nor the author. The author may edit a comment for ``COMMENT_EDIT_MINUTES``
(15 by default); the author, or whoever may update the record, may delete it, which keeps the
row as its trace ("comment deleted" by whom, when) with the text gone. Each write is in the
audit log (entity ``crm_comments``, the comment's id).

``routes(catalog)`` serve, below ``/api``, for each such entity: ``GET|POST
/<path>/{id}/comments`` (``limit``, ``offset``; ``{"body"}``), ``PATCH|DELETE
/<path>/{id}/comments/{cid}`` and ``GET /<path>/{id}/comments/mentions?q=PREFIX`` (the users who
may read the record whose name or e-mail starts with the prefix: the compose box's choices).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import audit, auth, notifications, params, permissions
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser, require_user
from crmgen_runtime.resources import Catalog, Resource
from crmgen_runtime.responses import JSONResponse, parse_json
from crmgen_runtime.tables import CommentTable, utcnow
from crmgen_runtime.validation import MAX_ID

AUDIT_ENTITY = "crm_comments"  # the audit log's entity of comments (no spec entity is named so)
MAX_BODY = 10000  # characters of one comment
EXCERPT = 200  # characters of a comment a mention's notification keeps
MENTION = re.compile(
    r"(?<![\w.+-])@([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
)
MENTION_CHOICES = 10  # users the compose box offers
MENTION_SCAN = 50  # users matching the prefix looked at to find them


def mentioned_emails(body: str) -> list[str]:
    """The e-mail addresses ``@``-mentioned in ``body``, lower-cased, each once, in order."""
    seen: dict[str, None] = {}
    for found in MENTION.finditer(body):
        seen.setdefault(found.group(1).lower(), None)
    return list(seen)


# --- who may read the record -------------------------------------------------------------------


def _visible(session: Session, resource: Resource, user: CurrentUser, record_id: int) -> bool:
    """Whether ``user`` may read record ``record_id`` of ``resource`` (live, within their rule)."""
    try:
        rule = permissions.condition(resource, user, "read")
    except ApiError:
        return False
    model = resource.model
    stmt = sa.select(model.id).where(model.id == record_id)
    if rule is not None:
        stmt = stmt.where(rule)
    if resource.soft_delete:
        stmt = stmt.where(model.deleted_at.is_(None))
    return session.scalar(stmt) is not None


def principal(session: Session, catalog: Catalog, user_id: int) -> CurrentUser | None:
    """The active user ``user_id`` with their roles, as a request would see them."""
    return auth.user_on_id(session, catalog, user_id)


def may_read(session: Session, resource: Resource, user_id: int, record_id: int) -> bool:
    """Whether the (active) user ``user_id`` may read the record."""
    someone = principal(session, resource.catalog, user_id)
    return someone is not None and _visible(session, resource, someone, record_id)


def _check_record(session: Session, resource: Resource, user: CurrentUser, record_id: int) -> None:
    """404 unless ``user`` may read the record (a record out of reach does not exist)."""
    permissions.require(resource, user, "read")
    if not 0 < record_id <= MAX_ID or not _visible(session, resource, user, record_id):
        raise ApiError(404, "not_found", f"{resource.label} not found.")


# --- reading ---------------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _names(session: Session, catalog: Catalog, ids: set[int]) -> dict[int, str]:
    users = catalog.by_name["User"].model
    if not ids:
        return {}
    rows = session.execute(sa.select(users.id, users.name, users.email).where(users.id.in_(ids)))
    return {row[0]: row[1] or row[2] for row in rows}


def edit_window(request: Request) -> dt.timedelta:
    """How long an author may edit a comment: ``COMMENT_EDIT_MINUTES``."""
    return dt.timedelta(minutes=request.app.state.settings.comment_edit_minutes)


def describe(
    row: Any, names: dict[int, str], user: CurrentUser, window: dt.timedelta, may_update: bool
) -> dict[str, Any]:
    """The JSON of one comment, as ``user`` sees it (whether they may edit or delete it)."""
    deleted = row.deleted_at is not None
    mine = row.author_id == user.id
    return {
        "id": row.id,
        "body": None if deleted else row.body,
        "author_id": row.author_id,
        "author": names.get(row.author_id) if row.author_id is not None else None,
        "mentions": list(row.mentions or []),
        "created_at": _iso(row.created_at),
        "edited_at": _iso(row.edited_at),
        "deleted": deleted,
        "deleted_at": _iso(row.deleted_at),
        "deleted_by_id": row.deleted_by_id,
        "deleted_by": names.get(row.deleted_by_id) if row.deleted_by_id is not None else None,
        "may_edit": not deleted and mine and utcnow() - _aware(row.created_at) <= window,
        "may_delete": not deleted and (mine or may_update),
    }


def _may_update(session: Session, resource: Resource, user: CurrentUser, record_id: int) -> bool:
    try:
        rule = permissions.condition(resource, user, "update")
    except ApiError:
        return False
    stmt = sa.select(resource.model.id).where(resource.model.id == record_id)
    return session.scalar(stmt.where(rule) if rule is not None else stmt) is not None


def listing(
    database: Database,
    resource: Resource,
    user: CurrentUser,
    record_id: int,
    *,
    window: dt.timedelta,
    limit: int = params.MAX_LIMIT,
    offset: int = 0,
    check: bool = True,
) -> dict[str, Any]:
    """A page of the record's comments, oldest first (deleted ones as their trace)."""
    model: Any = resource.catalog.table(CommentTable)
    mine = [model.entity == resource.name, model.record_id == record_id]
    with database.session() as session:
        if check:
            _check_record(session, resource, user, record_id)
        total = session.scalar(sa.select(sa.func.count(model.id)).where(*mine)) or 0
        rows = session.scalars(
            sa.select(model).where(*mine).order_by(model.id).limit(limit).offset(offset)
        ).all()
        ids = {r.author_id for r in rows if r.author_id} | {
            r.deleted_by_id for r in rows if r.deleted_by_id
        }
        names = _names(session, resource.catalog, ids)
        may_update = _may_update(session, resource, user, record_id)
        items = [describe(r, names, user, window, may_update) for r in rows]
    next_offset = offset + limit if offset + limit < total else None
    return {
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": next_offset,
    }


def mention_choices(
    database: Database, resource: Resource, user: CurrentUser, record_id: int, prefix: str
) -> list[dict[str, Any]]:
    """The active users who may read the record whose name (or a word of it) or e-mail starts
    with ``prefix``, at most ``MENTION_CHOICES``."""
    users = resource.catalog.by_name["User"].model
    text = prefix.strip().lower()[:100]
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    with database.session() as session:
        _check_record(session, resource, user, record_id)
        stmt = sa.select(users.id, users.name, users.email).where(users.active.is_(True))
        if escaped:
            stmt = stmt.where(
                sa.or_(
                    sa.func.lower(users.email).like(f"{escaped}%", escape="\\"),
                    sa.func.lower(users.name).like(f"{escaped}%", escape="\\"),
                    sa.func.lower(users.name).like(f"% {escaped}%", escape="\\"),
                )
            )
        rows = session.execute(stmt.order_by(users.name, users.id).limit(MENTION_SCAN)).all()
        found = []
        for row in rows:
            if may_read(session, resource, row[0], record_id):
                found.append({"id": row[0], "name": row[1], "email": row[2]})
            if len(found) == MENTION_CHOICES:
                break
    return found


# --- writing ---------------------------------------------------------------------------------


def _body(payload: Any) -> str:
    body = payload.get("body") if isinstance(payload, dict) else None
    if not isinstance(body, str) or not body.strip():
        message = "Write the comment's text."
        raise ApiError(422, "validation_error", message, {"body": message})
    if len(body) > MAX_BODY:
        message = f"At most {MAX_BODY} characters."
        raise ApiError(422, "validation_error", message, {"body": message})
    return body.strip()


def _mention(
    session: Session,
    resource: Resource,
    user: CurrentUser,
    record_id: int,
    body: str,
    already: set[int],
) -> list[int]:
    """The users ``body`` mentions (active, by e-mail); those who may read the record and were
    not mentioned before (``already``) are told. All mentioned ids are returned."""
    emails = mentioned_emails(body)
    if not emails:
        return []
    users = resource.catalog.by_name["User"].model
    rows = session.execute(
        sa.select(users.id, sa.func.lower(users.email)).where(
            sa.func.lower(users.email).in_(emails), users.active.is_(True)
        )
    ).all()
    by_email = {row[1]: row[0] for row in rows}
    ids = [by_email[e] for e in emails if e in by_email]
    told = [
        i
        for i in ids
        if i != user.id and i not in already and may_read(session, resource, i, record_id)
    ]
    excerpt = " ".join(body.split())
    if len(excerpt) > EXCERPT:
        excerpt = excerpt[: EXCERPT - 1] + "…"
    notifications.notify(
        session,
        resource.catalog,
        users=told,
        kind="mention",
        message=excerpt,
        entity=resource.name,
        record_id=record_id,
        actor_id=user.id,
    )
    return ids


def _audit(
    session: Session,
    resource: Resource,
    user: CurrentUser,
    ip: str | None,
    comment_id: int,
    action: str,
    changes: dict[str, list[Any]],
) -> None:
    audit.record(
        session,
        resource.catalog,
        user=user,
        ip=ip,
        entity=AUDIT_ENTITY,
        record_id=comment_id,
        action=action,
        changes=changes,
    )


def create(
    database: Database,
    resource: Resource,
    user: CurrentUser,
    record_id: int,
    payload: Any,
    ip: str | None,
) -> int:
    """Add a comment to the record (mentions told); its id."""
    body = _body(payload)
    model: Any = resource.catalog.table(CommentTable)
    with database.session() as session:
        _check_record(session, resource, user, record_id)
        row = model(
            entity=resource.name,
            record_id=record_id,
            author_id=user.id,
            body=body,
            mentions=[],
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        row.mentions = _mention(session, resource, user, record_id, body, set())
        about = f"{resource.name}#{record_id}"
        _audit(
            session,
            resource,
            user,
            ip,
            row.id,
            "create",
            {"body": [None, body], "on": [None, about]},
        )
        return int(row.id)


def _comment(session: Session, resource: Resource, record_id: int, comment_id: int) -> Any:
    model: Any = resource.catalog.table(CommentTable)
    row = session.get(model, comment_id) if 0 < comment_id <= MAX_ID else None
    if row is None or row.entity != resource.name or row.record_id != record_id:
        raise ApiError(404, "not_found", "No such comment.")
    return row


def edit(
    database: Database,
    resource: Resource,
    user: CurrentUser,
    record_id: int,
    comment_id: int,
    payload: Any,
    ip: str | None,
    window: dt.timedelta,
) -> None:
    """Change a comment's text: its author only, within ``window`` of writing it; new
    mentions are told."""
    body = _body(payload)
    with database.session() as session:
        _check_record(session, resource, user, record_id)
        row = _comment(session, resource, record_id, comment_id)
        if row.deleted_at is not None:
            raise ApiError(409, "conflict", "This comment was deleted.")
        if row.author_id != user.id:
            raise ApiError(403, "forbidden", "Only its author may edit a comment.")
        if utcnow() - _aware(row.created_at) > window:
            minutes = int(window.total_seconds() // 60)
            raise ApiError(
                403, "forbidden", f"A comment may be edited within {minutes} minutes of writing it."
            )
        old = row.body
        before = set(row.mentions or [])
        row.mentions = _mention(session, resource, user, record_id, body, before)
        row.body = body
        row.edited_at = utcnow()
        _audit(session, resource, user, ip, row.id, "update", {"body": [old, body]})


def delete(
    database: Database,
    resource: Resource,
    user: CurrentUser,
    record_id: int,
    comment_id: int,
    ip: str | None,
) -> None:
    """Delete a comment (its author, or who may update the record): the text goes, the trace
    of who deleted it and when stays."""
    with database.session() as session:
        _check_record(session, resource, user, record_id)
        row = _comment(session, resource, record_id, comment_id)
        if row.deleted_at is not None:
            raise ApiError(404, "not_found", "No such comment.")
        if row.author_id != user.id and not _may_update(session, resource, user, record_id):
            raise ApiError(403, "forbidden", "You may not delete this comment.")
        old = row.body
        row.body = ""
        row.deleted_at = utcnow()
        row.deleted_by_id = user.id
        _audit(session, resource, user, ip, row.id, "delete", {"body": [old, None]})


# --- the API -------------------------------------------------------------------------------


def _ids(request: Request) -> tuple[int, int | None]:
    try:
        record_id = int(request.path_params["id"])
        raw = request.path_params.get("cid")
        comment_id = None if raw is None else int(raw)
    except ValueError:
        raise ApiError(404, "not_found", "Not found.") from None
    return record_id, comment_id


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def resource_routes(resource: Resource) -> list[BaseRoute]:
    """The comment routes of one entity, relative to ``/api``."""
    base = f"/{resource.path}/{{id:int}}/comments"

    async def collection(request: Request) -> Response:
        user = await require_user(request)
        database = request.app.state.db
        record_id, _ = _ids(request)
        if request.method == "POST":
            payload = parse_json(await request.body())
            new_id = await run_in_threadpool(
                create, database, resource, user, record_id, payload, _ip(request)
            )
            data = await run_in_threadpool(
                listing, database, resource, user, record_id, window=edit_window(request)
            )
            item = next(i for i in data["items"] if i["id"] == new_id)
            headers = {"Location": f"/api{base.replace('{id:int}', str(record_id))}/{new_id}"}
            return JSONResponse(item, status_code=201, headers=headers)
        limit, offset = params.page(request)
        data = await run_in_threadpool(
            lambda: listing(
                database,
                resource,
                user,
                record_id,
                window=edit_window(request),
                limit=limit,
                offset=offset,
            )
        )
        return JSONResponse(data)

    async def item(request: Request) -> Response:
        user = await require_user(request)
        database = request.app.state.db
        record_id, comment_id = _ids(request)
        assert comment_id is not None
        if request.method == "DELETE":
            await run_in_threadpool(
                delete, database, resource, user, record_id, comment_id, _ip(request)
            )
            return Response(status_code=204)
        payload = parse_json(await request.body())
        window = edit_window(request)
        await run_in_threadpool(
            edit, database, resource, user, record_id, comment_id, payload, _ip(request), window
        )
        data = await run_in_threadpool(listing, database, resource, user, record_id, window=window)
        return JSONResponse(next(i for i in data["items"] if i["id"] == comment_id))

    async def mentions(request: Request) -> Response:
        user = await require_user(request)
        record_id, _ = _ids(request)
        prefix = request.query_params.get("q", "")
        found = await run_in_threadpool(
            mention_choices, request.app.state.db, resource, user, record_id, prefix
        )
        return JSONResponse({"items": found})

    name = f"{resource.path}_comments"
    return [
        Route(base, collection, methods=["GET", "POST"], name=name),
        Route(f"{base}/mentions", mentions, methods=["GET"], name=f"{name}_mentions"),
        Route(f"{base}/{{cid:int}}", item, methods=["PATCH", "DELETE"], name=f"{name}_item"),
    ]


def routes(catalog: Catalog) -> list[BaseRoute]:
    """The comment routes of every entity of ``catalog`` with comments, relative to ``/api``."""
    found: list[BaseRoute] = []
    for resource in catalog.resources.values():
        if resource.comments:
            found.extend(resource_routes(resource))
    return found
