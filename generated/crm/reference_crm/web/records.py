"""An entity's detail page, its manual actions and its delete confirmation.

The detail page shows the record's fields (by form section), the related lists (the reverse
sides of relations pointing at it), an activity timeline (the related records that are events,
such as calls and meetings, merged with the record's audit entries, newest first) and a button
per manual process the user's role may run. Every list goes through ``crud.list_records`` with
the user, so the role's rules hide what the user may not read.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from crmgen_runtime import accounts, audit, crud, links, permissions
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import Resource
from crmgen_runtime.web.site import (
    allowed,
    client_ip,
    csrf_ok,
    fetch_record,
    read_form,
    redirect,
)
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from reference_crm.models import AuditEntry
from reference_crm.resources import CATALOG, RESOURCES
from reference_crm.settings import FORMATS
from reference_crm.web import documents
from reference_crm.web.core import (
    ENTITIES,
    PAGES,
    SPEC,
    cell,
    entity_context,
    error_page,
    guard,
    locale_of,
    pick,
    render,
    translator,
)

RELATED_ROWS = 10  # records per related list
TIMELINE_ROWS = 20  # entries per source of the timeline (and in all)
AUDIT_CHANGES = 8  # changed fields listed per audit entry


# --- values --------------------------------------------------------------------------------


def record_url(target: str | None, record_id: Any, user: CurrentUser) -> str | None:
    """The detail page of a linked record, when there is one the user may open."""
    resource = PAGES.get(target or "")
    if resource is None or not allowed(resource, user, "read"):
        return None
    return f"/{target}/{record_id}"


def moment(value: Any) -> dt.datetime | None:
    """A stored time as an aware datetime (ISO text or naive values are UTC)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def show_value(
    meta: dict[str, Any],
    value: Any,
    locale: str,
    user: CurrentUser,
    names: dict[int, str],
) -> dict[str, Any]:
    """One field of the detail page: text, or links (references), or a JSON block.

    ``names`` holds the display texts of the linked records within the user's reach that
    the record's value does not carry (``linked_names``). A linked record out of reach shows
    its id, and no link to a page the user cannot open.
    """
    target = meta.get("target")
    if meta["type"] == "refs" and isinstance(value, list):
        shown = [
            {
                "text": names.get(i) or f"#{i}",
                "url": record_url(target, i, user) if i in names else None,
            }
            for i in value
        ]
        return {"kind": "links", "links": shown}
    if isinstance(value, dict) and "id" in value and target:
        reached = bool(value.get("display")) or value["id"] in names
        url = record_url(target, value["id"], user) if reached else None
        return {
            "kind": "links",
            "links": [{"text": cell(meta, value, locale), "url": url}],
        }
    if meta["type"] == "json" and value is not None:
        text = json.dumps(value, ensure_ascii=False, indent=2)
        return {"kind": "json", "text": text}
    if (
        meta["type"] == "file"
        and isinstance(value, str)
        and value.startswith(("https://", "http://"))
    ):
        return {
            "kind": "links",
            "links": [
                {
                    "text": value.rsplit("/", 1)[-1] or value,
                    "url": value,
                    "external": True,
                }
            ],
        }
    return {"kind": "text", "text": cell(meta, value, locale)}


def roles_item(names: list[str], locale: str) -> dict[str, Any]:
    """A user's roles on the detail page, by their labels in ``locale``."""
    labels = [pick(SPEC["roles"].get(name), locale) or name for name in names]
    return {
        "label": translator(locale)("roles"),
        "kind": "text",
        "text": ", ".join(labels) or "—",
    }


def display_names(
    database: Any, user: CurrentUser, target: str | None, ids: set[int]
) -> dict[int, str]:
    """The display texts of the records of ``target`` within the user's reach (``links``:
    live and within their read rule), by id; the others are left out."""
    resource = RESOURCES.get(target or "")
    if resource is None or not ids:
        return {}
    with database.engine.connect() as connection:
        return links.names(connection, resource, user, ids)


def linked_names(
    database: Any,
    user: CurrentUser,
    fields: dict[str, dict[str, Any]],
    record: dict[str, Any],
) -> dict[str, dict[int, str]]:
    """Display texts of the records the record links to, within the user's reach: those of
    its lists of references, and a reference's when its display value did not come with the
    record (out of reach, hidden from the user, or empty)."""
    wanted: dict[str, set[int]] = {}
    for name, meta in fields.items():
        value = record.get(name)
        if meta["type"] == "refs":
            wanted[name] = set(value or [])
        elif (
            meta.get("target") and isinstance(value, dict) and not value.get("display")
        ):
            wanted[name] = {value["id"]}
    return {
        name: display_names(database, user, fields[name]["target"], ids)
        for name, ids in wanted.items()
    }


# --- related lists and the timeline ----------------------------------------------------------


def related_list(
    database: Any,
    user: CurrentUser,
    source: dict[str, Any],
    record_id: int,
    locale: str,
) -> dict[str, Any] | None:
    """One related list: its first rows, its total, links to all of them and to a new one."""
    resource = PAGES.get(source["path"])
    if resource is None or not allowed(resource, user, "list"):
        return None
    meta = ENTITIES[source["path"]]
    params = [(source["field"], str(record_id)), ("limit", str(RELATED_ROWS))]
    if source["sort"]:
        params.append(("sort", source["sort"]))
    try:
        page = crud.list_records(database, resource, user, params)
    except ApiError:  # the user may not filter by the relation (a hidden field)
        return None
    readable = permissions.readable(resource, user)
    columns = [meta["fields"][c] for c in source["columns"] if c in readable]
    may_create = allowed(resource, user, "create") and source[
        "field"
    ] in permissions.writable(resource, user, "create")
    query = f"?{source['field']}={record_id}"
    return {
        "label": pick(source["label"], locale),
        "title_header": (
            pick(meta["fields"][meta["display"]]["label"], locale)
            if meta["display"] in meta["fields"]
            else "#"
        ),
        "headers": [pick(c["label"], locale) for c in columns],
        "rows": [
            {
                "url": f"/{source['path']}/{item['id']}",
                "title": cell({}, item.get(meta["display"]), locale)
                or f"#{item['id']}",
                "cells": [cell(c, item.get(c["name"]), locale) for c in columns],
            }
            for item in page["items"]
        ],
        "total": page["total"],
        "all_url": f"/{source['path']}/{query}",
        "new_url": f"/{source['path']}/new{query}" if may_create else None,
    }


def activity_entries(
    database: Any,
    user: CurrentUser,
    source: dict[str, Any],
    record_id: int,
    locale: str,
) -> list[dict[str, Any]]:
    """The events of one activity source (e.g. the calls and meetings with this contact)."""
    spec = source["activity"]
    resource = PAGES.get(source["path"])
    if spec is None or resource is None or not allowed(resource, user, "list"):
        return []
    if not allowed(resource, user, "read"):
        return []
    fields = ENTITIES[source["path"]]["fields"]
    params = [
        (source["field"], str(record_id)),
        ("sort", f"-{spec['time']}"),
        ("limit", str(TIMELINE_ROWS)),
    ]
    try:
        page = crud.list_records(database, resource, user, params)
    except ApiError:
        return []
    entries = []
    for item in page["items"]:
        when = moment(item.get(spec["time"]))
        if when is None:
            continue
        kind = spec["kind"]
        entries.append(
            {
                "at": when,
                "source": "activity",
                "title": cell({}, item.get(spec["title"]), locale) or f"#{item['id']}",
                "url": f"/{source['path']}/{item['id']}",
                "badge": cell(fields[kind], item.get(kind), locale) if kind else "",
                "text": (
                    cell({}, item.get(spec["text"]), locale) if spec["text"] else ""
                ),
                "who": cell({}, item.get(spec["who"]), locale) if spec["who"] else "",
                "changes": [],
            }
        )
    return entries


def audit_entries(
    database: Any,
    user: CurrentUser,
    resource: Resource,
    fields: dict[str, dict[str, Any]],
    record_id: int,
    locale: str,
) -> list[dict[str, Any]]:
    """The record's audit entries, for the roles that may read the audit log; only the
    changes of fields the user may read are listed."""
    if not CATALOG.config.may_read_audit(user):
        return []
    with database.session() as session:
        rows = session.scalars(
            sa.select(AuditEntry)
            .where(
                AuditEntry.entity == resource.name, AuditEntry.record_id == record_id
            )
            .order_by(AuditEntry.id.desc())
            .limit(TIMELINE_ROWS)
        ).all()
        described = [audit.describe(row) for row in rows]
    readable = permissions.readable(resource, user)
    shown = [
        [
            (name, pair)
            for name, pair in (entry["changes"] or {}).items()
            if name in fields
            and name in readable
            and isinstance(pair, list)
            and len(pair) == 2
        ]
        for entry in described
    ]
    # Entries keep the ids of linked records: show their names, as the user may see them.
    linked: dict[str, set[int]] = {}
    for changes in shown:
        for name, pair in changes:
            if fields[name]["target"]:
                for value in pair:
                    linked.setdefault(name, set()).update(
                        value if isinstance(value, list) else [value]
                    )
    names = {
        name: display_names(database, user, fields[name]["target"], ids)
        for name, ids in linked.items()
    }

    def text(name: str, value: Any) -> str:
        if name not in names or value is None:
            return cell(fields[name], value, locale)
        ids = value if isinstance(value, list) else [value]
        return ", ".join(names[name].get(i) or f"#{i}" for i in ids)

    t = translator(locale)
    entries = []
    for entry, pairs in zip(described, shown, strict=True):
        changes = [
            {
                "label": pick(fields[name]["label"], locale),
                "old": text(name, pair[0]),
                "new": text(name, pair[1]),
            }
            for name, pair in pairs
        ]
        entries.append(
            {
                "at": moment(entry["at"]),
                "source": "audit",
                "title": t(f"audit_{entry['action']}"),
                "url": None,
                "badge": t("audit"),
                "text": "",
                "who": entry["user_email"] or t("system"),
                "changes": changes[:AUDIT_CHANGES],
                "more": max(0, len(changes) - AUDIT_CHANGES),
            }
        )
    return entries


def detail_data(
    database: Any,
    user: CurrentUser,
    resource: Resource,
    path: str,
    record: dict[str, Any],
    locale: str,
) -> dict[str, Any]:
    """Everything the detail page shows besides the record's own fields (blocking)."""
    entity = ENTITIES[path]
    record_id = record["id"]
    related, timeline = (
        [],
        audit_entries(database, user, resource, entity["fields"], record_id, locale),
    )
    for source in entity["records"]["related"]:
        shown = related_list(database, user, source, record_id, locale)
        if shown is not None:
            related.append(shown)
        if source["activity"] is not None:
            timeline += activity_entries(database, user, source, record_id, locale)
    timeline.sort(key=lambda e: e["at"], reverse=True)
    for entry in timeline:
        entry["when"], entry["iso"] = (
            FORMATS.format_moment(entry["at"], locale),
            entry["at"].isoformat(),
        )
    return {
        "related": related,
        "timeline": timeline[:TIMELINE_ROWS],
        "names": linked_names(database, user, entity["fields"], record),
    }


def may_run(action: dict[str, Any], user: CurrentUser) -> bool:
    """Whether ``user``'s role may press the button of a manual process (as the API checks)."""
    return CATALOG.is_superuser(user) or user.has_role(*action["roles"])


# --- pages ---------------------------------------------------------------------------------


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    entity = ENTITIES[path]
    fields: dict[str, dict[str, Any]] = entity["fields"]
    actions = {
        a["name"]: a
        for a in entity["records"]["actions"]
        if a["name"] in CATALOG.events.endpoints
    }

    async def show_detail(
        request: Request,
        user: CurrentUser,
        record: dict[str, Any],
        *,
        notice: str | None = None,
        problem: str | None = None,
        status: int = 200,
    ) -> Response:
        locale = locale_of(request)
        data = await run_in_threadpool(
            detail_data, request.app.state.db, user, resource, path, record, locale
        )
        names = data.pop("names")
        groups = []
        for section in entity["records"]["sections"]:
            items = [
                {
                    "label": pick(fields[name]["label"], locale),
                    **show_value(
                        fields[name],
                        record.get(name),
                        locale,
                        user,
                        names.get(name, {}),
                    ),
                }
                for name in section["fields"]
                if name in record
            ]
            if items:
                groups.append({"label": pick(section["label"], locale), "items": items})
        if resource.name == accounts.USER and accounts.ROLES_FIELD in record:
            if not groups:
                groups.append({"label": "", "items": []})
            groups[0]["items"].append(roles_item(record[accounts.ROLES_FIELD], locale))
        buttons = [
            {"name": name, "label": pick(action["label"], locale)}
            for name, action in actions.items()
            if may_run(action, user)
        ]
        return render(
            request,
            "detail.html",
            entity_context(
                path,
                locale,
                record=record,
                title_text=cell({}, record.get(entity["display"]), locale)
                or f"#{record['id']}",
                groups=groups,
                buttons=buttons,
                documents=documents.links(path, record["id"], user, locale),
                notice=notice,
                problem=problem,
                may_update=allowed(resource, user, "update"),
                may_delete=allowed(resource, user, "delete"),
                **data,
            ),
            user=user,
            status=status,
        )

    async def detail_page(request: Request) -> Response:
        user, stop = await guard(request, resource, "read")
        if stop is not None:
            return stop
        record_id = request.path_params["id"]
        record = await run_in_threadpool(
            fetch_record, request.app.state.db, resource, user, record_id, "read"
        )
        if record is None:
            return error_page(request, 404, "not_found", user)
        done = actions.get(request.query_params.get("done", ""))
        notice = None
        if done is not None:
            t = translator(locale_of(request))
            notice = t("action_done").format(
                action=pick(done["label"], locale_of(request))
            )
        return await show_detail(request, user, record, notice=notice)

    async def action_page(request: Request) -> Response:
        """A manual process's button: the same code as ``POST /api/<path>/{id}/actions/<name>``."""
        user, stop = await guard(request, resource, "read")
        if stop is not None:
            return stop
        form = await read_form(request)
        if not csrf_ok(request, form):
            return error_page(request, 403, "csrf", user)
        name, record_id = request.path_params["name"], request.path_params["id"]
        action = actions.get(name)
        if action is None:
            return error_page(request, 404, "not_found", user)
        if not may_run(action, user):
            return error_page(request, 403, "forbidden", user)
        try:
            await run_in_threadpool(
                CATALOG.events.endpoints[name].run,
                request.app.state.db,
                user,
                record_id,
            )
        except ApiError as exc:
            record = await run_in_threadpool(
                fetch_record, request.app.state.db, resource, user, record_id, "read"
            )
            if exc.status == 404 or record is None:
                return error_page(request, 404, "not_found", user)
            if exc.status == 403:
                return error_page(request, 403, "forbidden", user, detail=exc.message)
            return await show_detail(
                request, user, record, problem=exc.message, status=exc.status
            )
        return redirect(request, f"/{path}/{record_id}?done={name}")

    async def delete_page(request: Request) -> Response:
        user, stop = await guard(request, resource, "delete")
        if stop is not None:
            return stop
        locale = locale_of(request)
        record_id = request.path_params["id"]
        database = request.app.state.db
        if request.method == "GET":
            record = await run_in_threadpool(
                fetch_record, database, resource, user, record_id, "delete"
            )
            if record is None:
                return error_page(request, 404, "not_found", user)
            return render(
                request,
                "confirm_delete.html",
                entity_context(
                    path,
                    locale,
                    record_id=record_id,
                    title_text=cell({}, record.get(entity["display"]), locale)
                    or f"#{record_id}",
                ),
                user=user,
            )
        form = await read_form(request)
        if not csrf_ok(request, form):
            return error_page(request, 403, "csrf", user)
        try:
            await run_in_threadpool(
                crud.delete_record,
                database,
                resource,
                user,
                record_id,
                client_ip(request),
            )
        except ApiError as exc:
            if exc.status == 404:
                return error_page(request, 404, "not_found", user)
            return error_page(request, exc.status, "error", user, detail=exc.message)
        return redirect(request, f"/{path}/")

    return [
        Route(f"/{path}/{{id:int}}", detail_page, methods=["GET"]),
        Route(
            f"/{path}/{{id:int}}/actions/{{name}}",
            action_page,
            methods=["POST"],
        ),
        Route(f"/{path}/{{id:int}}/delete", delete_page, methods=["GET", "POST"]),
    ]


def routes() -> list[BaseRoute]:
    return []
