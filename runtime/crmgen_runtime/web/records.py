"""An entity's detail page, its manual actions and its delete confirmation.

The detail page shows the record's fields (by form section), the related lists (the reverse
sides of relations pointing at it), a timeline (``TIMELINE_SOURCES``, newest first: the
record's history from the audit log, in full for audit roles and its creation and milestones
for every other reader, and the related records that are events, such as calls and meetings,
that the reader may read), a button per manual process the user's role may run and the print
formats they may download. A related list is the API's back side of the relation
(``crud.list_related``: ``GET /api/companies/5/deals``) with the user, so the role's rules hide
what the user may not read; a linked record out of the user's reach shows its id, with no name
and no link.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import accounts, audit, backs, crud, links, permissions, workflows
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import Catalog, Resource
from crmgen_runtime.tables import AuditEntryTable
from crmgen_runtime.web import attachments, badges, people, print_formats
from crmgen_runtime.web.site import (
    Site,
    allowed,
    client_ip,
    csrf_ok,
    fetch_record,
    read_form,
    redirect,
    site_of,
)
from crmgen_runtime.web.totals import total_text

RELATED_ROWS = 10  # records per related list
TIMELINE_ROWS = 20  # entries per source of the timeline (and in all)
AUDIT_CHANGES = 8  # changed fields listed per audit entry
HISTORY_SCAN = 200  # audit entries read to find a reader's milestones (no audit rights)
Fields = dict[str, dict[str, Any]]  # an entity's fields in ui.json, by name


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


def milestones(entity: dict[str, Any]) -> list[str]:
    """The fields whose changes every reader of a record sees on its timeline: the generator's
    ``records.milestones`` (the spec's ``ui.timeline``, else the kanban's field); an app
    generated before it had them falls back on the field its kanban board groups by."""
    named = entity["records"].get("milestones")
    if named is not None:
        return list(named)
    kanban = (entity.get("boards") or {}).get("kanban")
    return [kanban["by"]] if kanban else []


def actions_of(site: Site, path: str) -> dict[str, dict[str, Any]]:
    """The manual processes of the entity at ``path`` that the app serves, by name."""
    endpoints = site.catalog.events.endpoints
    return {
        a["name"]: a for a in site.entities[path]["records"]["actions"] if a["name"] in endpoints
    }


def transitions(
    site: Site,
    resource: Resource,
    path: str,
    record: dict[str, Any],
    user: CurrentUser,
    locale: str,
) -> list[dict[str, str]]:
    """The workflow's buttons on the detail page: each state ``user`` may move ``record`` to
    (by its state and the user's roles; ``workflows.moves``), with its label. None for a user
    who may not update the record's workflow field."""
    workflow = resource.workflow
    if workflow is None or workflow.field not in permissions.writable(resource, user, "update"):
        return []
    meta = site.entities[path]["fields"].get(workflow.field, {})
    superuser = site.catalog.is_superuser(user)
    t = site.translator(locale)
    return [
        {"state": state, "label": t("transition_to").format(state=site.cell(meta, state, locale))}
        for state in workflows.moves(workflow, record.get(workflow.field), user, superuser)
    ]


def transition_problem(
    site: Site, resource: Resource, path: str, exc: ApiError, state: str, locale: str
) -> str:
    """Why a move to ``state`` was refused, in ``locale``: the role (403), someone's change in
    the meantime, or the fields the API named (the allowed next states, a required field, the
    transition's conditions)."""
    t = site.translator(locale)
    fields = site.entities[path]["fields"]
    workflow = resource.workflow
    meta = fields.get(workflow.field, {}) if workflow is not None else {}
    label = site.cell(meta, state, locale) or state
    if exc.status == 409 and exc.code == "stale":
        return str(t("transition_stale"))
    if exc.status == 403:
        return str(t("transition_forbidden").format(state=label))
    reasons = [
        f"{site.pick(fields[name]['label'], locale) if name in fields else name}: {text}"
        for name, text in site.field_errors(exc.fields or {}, locale).items()
    ]
    return f"{t('transition_refused').format(state=label)} {' '.join(reasons) or exc.message}"


def may_run(catalog: Catalog, action: dict[str, Any], user: CurrentUser) -> bool:
    """Whether ``user``'s role may press the button of a manual process (as the API checks)."""
    return catalog.is_superuser(user) or user.has_role(*action["roles"])


@dataclass(frozen=True)
class Viewer:
    """Someone looking at one entity's records on an app's site: what the detail page shows
    them, as their role may see it, in their locale (the database calls block)."""

    site: Site
    database: Any
    user: CurrentUser
    locale: str

    # --- values ----------------------------------------------------------------------------

    def record_url(self, target: str | None, record_id: Any) -> str | None:
        """The detail page of a linked record, when there is one the user may open."""
        resource = self.site.pages.get(target or "")
        if resource is None or not allowed(resource, self.user, "read"):
            return None
        return f"/{target}/{record_id}"

    def show_value(self, meta: dict[str, Any], value: Any, names: dict[int, str]) -> dict[str, Any]:
        """One field of the detail page: text, or links (references), or a JSON block.

        ``names`` holds the display texts of the linked records within the user's reach that
        the record's value does not carry (``linked_names``). A linked record out of reach
        shows its id, and no link to a page the user cannot open.
        """
        target, cell = meta.get("target"), self.site.cell
        if meta["type"] == "refs" and isinstance(value, list):
            shown = [
                {
                    "text": names.get(i) or f"#{i}",
                    "url": self.record_url(target, i) if i in names else None,
                }
                for i in value
            ]
            return {"kind": "links", "links": shown}
        if isinstance(value, dict) and "id" in value and target:
            reached = bool(value.get("display")) or value["id"] in names
            url = self.record_url(target, value["id"]) if reached else None
            text = cell(meta, value, self.locale)
            return {
                "kind": "links",
                "links": [{"text": text, "url": url}],
                "avatar": badges.avatar(meta, value, self.site.users_path, text),
            }
        if meta["type"] == "json" and value is not None:
            return {"kind": "json", "text": json.dumps(value, ensure_ascii=False, indent=2)}
        stored_file = attachments.value_of(meta, value)  # an uploaded file: its link
        if stored_file is not None:
            return stored_file
        if (
            meta["type"] in ("file", "image")
            and isinstance(value, str)
            and value.startswith(("https://", "http://"))
        ):
            name = value.rsplit("/", 1)[-1] or value
            return {"kind": "links", "links": [{"text": name, "url": value, "external": True}]}
        return {
            "kind": "text",
            "text": cell(meta, value, self.locale),
            "tone": badges.tone(meta, value),
        }

    def roles_item(self, names: list[str]) -> dict[str, Any]:
        """A user's roles on the detail page, by their labels in the locale."""
        site = self.site
        labels = [site.pick(site.spec["roles"].get(name), self.locale) or name for name in names]
        text = ", ".join(labels) or "—"
        return {"label": site.translator(self.locale)("roles"), "kind": "text", "text": text}

    def display_names(self, meta: dict[str, Any], ids: set[int]) -> dict[int, str]:
        """The display texts (the field the link field ``meta`` shows) of the records of its
        target within the user's reach (``links``: live and within their read rule), by id;
        the others are left out."""
        resource = self.site.catalog.resources.get(meta.get("target") or "")
        if resource is None or not ids:
            return {}
        with self.database.engine.connect() as connection:
            return links.names(connection, resource, self.user, ids, meta.get("display") or "")

    def linked_names(self, fields: Fields, record: dict[str, Any]) -> dict[str, dict[int, str]]:
        """Display texts of the records the record links to, within the user's reach: those of
        its lists of references, and a reference's when its display value did not come with
        the record (out of reach, hidden from the user, or empty)."""
        wanted: dict[str, set[int]] = {}
        for name, meta in fields.items():
            value = record.get(name)
            if meta["type"] == "refs":
                wanted[name] = set(value or [])
            elif meta.get("target") and isinstance(value, dict) and not value.get("display"):
                wanted[name] = {value["id"]}
        return {name: self.display_names(fields[name], ids) for name, ids in wanted.items()}

    # --- related lists and the timeline ----------------------------------------------------

    def related_page(
        self, source: dict[str, Any], record_id: int, params: list[tuple[str, str]]
    ) -> dict[str, Any] | None:
        """A page of the records of a related list (``source``: those of ``source["path"]``
        whose relation ``source["field"]`` links to record ``record_id``), as the API's back
        side of the relation gives it; None when the user may not see them (no list right, a
        hidden relation) or there is no such relation."""
        resource = self.site.pages.get(source["path"])
        if resource is None or not allowed(resource, self.user, "list"):
            return None
        info = resource.fields.get(source["field"])
        if info is None or not info.back:
            return None
        back = backs.backs(resource.target(info)).get(info.back)
        if back is None:
            return None
        try:
            return crud.list_related(self.database, back, self.user, record_id, params)
        except ApiError:
            return None

    def related_list(self, source: dict[str, Any], record_id: int) -> dict[str, Any] | None:
        """One related list: its first rows, its total, links to all of them and to a new one."""
        site, user, locale = self.site, self.user, self.locale
        params = [("limit", str(RELATED_ROWS))]
        if source["sort"]:
            params.append(("sort", source["sort"]))
        page = self.related_page(source, record_id, params)
        if page is None:
            return None
        resource = site.pages[source["path"]]
        meta = site.entities[source["path"]]
        readable = permissions.readable(resource, user)
        columns = [meta["fields"][c] for c in source["columns"] if c in readable]
        may_create = allowed(resource, user, "create") and source["field"] in permissions.writable(
            resource, user, "create"
        )
        query = f"?{source['field']}={record_id}"
        display = meta["fields"].get(meta["display"])
        return {
            "label": site.pick(source["label"], locale),
            "title_header": site.pick(display["label"], locale) if display else "#",
            "headers": [site.pick(c["label"], locale) for c in columns],
            "rows": [
                {
                    "url": f"/{source['path']}/{item['id']}",
                    "title": site.cell({}, item.get(meta["display"]), locale) or f"#{item['id']}",
                    "cells": [site.cell(c, item.get(c["name"]), locale) for c in columns],
                }
                for item in page["items"]
            ],
            "total": page["total"],
            "total_text": total_text(
                site.translator(locale), page["total"], page["total_kind"], locale
            ),
            "all_url": f"/{source['path']}/{query}",
            "new_url": f"/{source['path']}/new{query}" if may_create else None,
        }

    def activity_entries(self, source: dict[str, Any], record_id: int) -> list[dict[str, Any]]:
        """The events of one activity source (e.g. the calls and meetings with this contact)."""
        site, user, locale = self.site, self.user, self.locale
        spec = source["activity"]
        resource = site.pages.get(source["path"])
        if spec is None or resource is None or not allowed(resource, user, "read"):
            return []
        fields = site.entities[source["path"]]["fields"]
        params = [("sort", f"-{spec['time']}"), ("limit", str(TIMELINE_ROWS))]
        page = self.related_page(source, record_id, params)
        if page is None:
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
                    "title": site.cell({}, item.get(spec["title"]), locale) or f"#{item['id']}",
                    "url": f"/{source['path']}/{item['id']}",
                    "badge": site.cell(fields[kind], item.get(kind), locale) if kind else "",
                    "text": site.cell({}, item.get(spec["text"]), locale) if spec["text"] else "",
                    "who": site.cell({}, item.get(spec["who"]), locale) if spec["who"] else "",
                    "changes": [],
                }
            )
        return entries

    def history_entries(
        self, resource: Resource, path: str, record_id: int
    ) -> list[dict[str, Any]]:
        """The record's history from the audit log, as the user may see it.

        The roles that may read the audit log see every entry, each with the changes of the
        fields they may read. Every other reader sees the record's creation and the changes of
        its milestone fields (``milestones``) that they may read, and nothing of an entry that
        changed only other fields: not even that something changed.
        """
        site, user, locale = self.site, self.user, self.locale
        fields: Fields = site.entities[path]["fields"]
        readable = permissions.readable(resource, user)
        full = site.catalog.config.may_read_audit(user)
        shown_fields = {
            name
            for name in (fields if full else milestones(site.entities[path]))
            if name in fields and name in readable
        }
        entry_model = site.catalog.table(AuditEntryTable)
        with self.database.session() as session:
            rows = session.scalars(
                sa.select(entry_model)
                .where(entry_model.entity == resource.name, entry_model.record_id == record_id)
                .order_by(entry_model.id.desc())
                .limit(TIMELINE_ROWS if full else HISTORY_SCAN)
            ).all()
            described = [audit.describe(row) for row in rows]
        if not full:  # the creation, and the entries that changed a milestone the user reads
            described = [
                entry
                for entry in described
                if entry["action"] == "create" or shown_fields & set(entry["changes"] or {})
            ][:TIMELINE_ROWS]
        shown = [
            [
                (name, pair)
                for name, pair in (entry["changes"] or {}).items()
                if name in shown_fields and isinstance(pair, list) and len(pair) == 2
            ]
            for entry in described
        ]
        # Entries keep the ids of linked records: show their names, as the user may see them.
        linked: dict[str, set[int]] = {}
        for pairs in shown:
            for name, pair in pairs:
                if fields[name]["target"]:
                    for value in pair:
                        linked.setdefault(name, set()).update(
                            value if isinstance(value, list) else [value]
                        )
        names = {name: self.display_names(fields[name], ids) for name, ids in linked.items()}

        def text(name: str, value: Any) -> str:
            if name not in names or value is None:
                return site.cell(fields[name], value, locale)
            ids = value if isinstance(value, list) else [value]
            return ", ".join(names[name].get(i) or f"#{i}" for i in ids)

        t = site.translator(locale)
        entries = []
        for entry, pairs in zip(described, shown, strict=True):
            listed = [
                {
                    "label": site.pick(fields[name]["label"], locale),
                    "old": text(name, pair[0]),
                    "new": text(name, pair[1]),
                }
                for name, pair in pairs
                if full or entry["action"] != "create" or pair[1] is not None
            ]
            entries.append(
                {
                    "at": moment(entry["at"]),
                    "source": "audit" if full else "milestone",
                    "title": t(
                        "audit_merge"
                        if audit.MERGED_FROM in (entry["changes"] or {})
                        else f"audit_{entry['action']}"
                    ),
                    "url": None,
                    "badge": t("audit"),
                    "text": "",
                    "who": entry["user_email"] or t("system"),
                    "changes": listed[:AUDIT_CHANGES],
                    "more": max(0, len(listed) - AUDIT_CHANGES),
                }
            )
        return entries

    def activities(self, resource: Resource, path: str, record_id: int) -> list[dict[str, Any]]:
        """The events of all the entity's activity sources the user may read."""
        entries: list[dict[str, Any]] = []
        for source in self.site.entities[path]["records"]["related"]:
            if source["activity"] is not None:
                entries += self.activity_entries(source, record_id)
        return entries

    def timeline(self, resource: Resource, path: str, record_id: int) -> list[dict[str, Any]]:
        """The record's timeline: the entries of every source in ``TIMELINE_SOURCES``, newest
        first, at most ``TIMELINE_ROWS``."""
        entries = [
            entry
            for source in TIMELINE_SOURCES
            for entry in source(self, resource, path, record_id)
            if entry["at"] is not None
        ]
        entries.sort(key=lambda e: e["at"], reverse=True)
        entries = entries[:TIMELINE_ROWS]
        formats = self.site.formats
        for entry in entries:
            entry["when"] = formats.format_moment(entry["at"], self.locale)
            entry["iso"] = entry["at"].isoformat()
        return entries

    def detail(self, resource: Resource, path: str, record: dict[str, Any]) -> dict[str, Any]:
        """Everything the detail page shows besides the record's own fields."""
        entity = self.site.entities[path]
        record_id = record["id"]
        related = []
        for source in entity["records"]["related"]:
            shown = self.related_list(source, record_id)
            if shown is not None:
                related.append(shown)
        return {
            "related": related,
            "timeline": self.timeline(resource, path, record_id),
            "names": self.linked_names(entity["fields"], record),
            "panels": [
                shown
                for panel in PANELS
                if (shown := panel(self, resource, path, record)) is not None
            ],
        }

    def groups(
        self,
        resource: Resource,
        path: str,
        record: dict[str, Any],
        names: dict[str, dict[int, str]],
    ) -> list[dict[str, Any]]:
        """The record's fields by the spec's form sections (a user's roles after them)."""
        site, locale = self.site, self.locale
        entity = site.entities[path]
        fields: Fields = entity["fields"]
        result: list[dict[str, Any]] = []
        for section in entity["records"]["sections"]:
            items = [
                {
                    "label": site.pick(fields[name]["label"], locale),
                    **self.show_value(fields[name], record.get(name), names.get(name, {})),
                }
                for name in section["fields"]
                if name in record
            ]
            if items:
                result.append({"label": site.pick(section["label"], locale), "items": items})
        if resource.name == accounts.USER and accounts.ROLES_FIELD in record:
            if not result:
                result.append({"label": "", "items": []})
            result[0]["items"].append(self.roles_item(record[accounts.ROLES_FIELD]))
        return result


def gdpr_notice(site: Site, request: Request) -> str | None:
    """The notice of the detail page an erasure returns to (``gdpr_pages``: ``?gdpr=erased``)."""
    key = {"erased": "gdpr_erased", "nothing": "gdpr_nothing_to_erase"}.get(
        request.query_params.get("gdpr", "")
    )
    return None if key is None else site.translator(site.locale_of(request))(key)


TimelineSource = Callable[[Viewer, Resource, str, int], list[dict[str, Any]]]
"""A source of timeline entries: ``source(viewer, resource, path, record_id)`` gives the entries
about record ``record_id`` of the entity at ``path`` that the viewer's user may see, each a dict
with ``at`` (an aware datetime), ``source`` (its CSS class), ``title``, ``url`` (or None),
``badge``, ``text``, ``who`` and ``changes`` (``label``/``old``/``new`` dicts; ``more``: how
many were left out)."""

TIMELINE_SOURCES: list[TimelineSource] = [Viewer.history_entries, Viewer.activities]
"""The sources of the detail page's timeline. Comments and e-mails logged on a record are to be
further sources, appended here; each decides alone what the user may see."""

Panel = Callable[[Viewer, Resource, str, dict[str, Any]], dict[str, Any] | None]
"""A part of the detail page that a module adds: ``panel(viewer, resource, path, record)``
gives None (nothing to show this user) or a dict with ``template`` (the partial that shows it,
included with the page's context and the dict as ``panel``) and ``place``: ``"actions"`` (among
the buttons at the top), ``"status"`` (above the record's fields) or ``"section"`` (below
them)."""

PANELS: list[Panel] = [people.detail_panel]
"""The detail page's parts from other modules: a user's account status and its buttons
(``people``); comments (``comment_pages``) and "Write an e-mail" (``mail_pages``) append
theirs when the app has them."""


# --- pages ---------------------------------------------------------------------------------


async def show_detail(
    request: Request,
    path: str,
    resource: Resource,
    user: CurrentUser,
    record: dict[str, Any],
    *,
    notice: str | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    """The detail page of ``record`` (a notice or a problem above it)."""
    site = site_of(request)
    locale = site.locale_of(request)
    viewer = Viewer(site, request.app.state.db, user, locale)
    data = await run_in_threadpool(viewer.detail, resource, path, record)
    database = request.app.state.db
    data.update(await run_in_threadpool(attachments.detail, database, resource, record, user))
    groups = viewer.groups(resource, path, record, data.pop("names"))
    buttons = [
        {"name": name, "label": site.pick(action["label"], locale)}
        for name, action in actions_of(site, path).items()
        if may_run(site.catalog, action, user)
    ]
    display = site.entities[path]["display"]
    context = site.entity_context(
        path,
        locale,
        record=record,
        title_text=site.cell({}, record.get(display), locale) or f"#{record['id']}",
        groups=groups,
        buttons=buttons,
        documents=print_formats.links(site, path, record["id"], user, locale),
        transitions=transitions(site, resource, path, record, user, locale),
        notice=notice,
        problem=problem,
        may_update=allowed(resource, user, "update"),
        may_delete=allowed(resource, user, "delete"),
        **data,
    )
    return site.render(request, "detail.html", context, user=user, status=status)


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    """The detail page, the action buttons and the delete confirmation of the entity at
    ``path``."""

    async def detail_page(request: Request) -> Response:
        site = site_of(request)
        user, stop = await site.guard(request, resource, "read")
        if stop is not None:
            return stop
        record_id = request.path_params["id"]
        record = await run_in_threadpool(
            fetch_record, request.app.state.db, resource, user, record_id, "read"
        )
        if record is None:
            return site.error_page(request, 404, "not_found", user)
        done = actions_of(site, path).get(request.query_params.get("done", ""))
        notice = None
        if request.query_params.get("sent") == "email":
            notice = site.translator(site.locale_of(request))("email_sent")
        if request.query_params.get("merged", "").isdigit():  # after a merge (duplicate_pages)
            merged = request.query_params["merged"]
            notice = site.translator(site.locale_of(request))("merge_done").format(id=merged)
        if done is not None:
            locale = site.locale_of(request)
            label = site.pick(done["label"], locale)
            notice = site.translator(locale)("action_done").format(action=label)
        moved = request.query_params.get("moved")
        if moved and resource.workflow is not None:
            locale = site.locale_of(request)
            meta = site.entities[path]["fields"].get(resource.workflow.field, {})
            if moved in {value for value, _ in meta.get("choices", [])}:
                shown = site.cell(meta, moved, locale)
                notice = site.translator(locale)("transition_done").format(state=shown)
        notice = notice or people.notice_of(site, request) or gdpr_notice(site, request)
        return await show_detail(request, path, resource, user, record, notice=notice)

    async def transition_page(request: Request) -> Response:
        """A workflow button: the record's workflow field gets the chosen state, as a PATCH
        would (the transition's roles, required fields and conditions); a refusal is shown
        on the detail page."""
        site = site_of(request)
        user, stop = await site.guard(request, resource, "update")
        if stop is not None:
            return stop
        form = await read_form(request)
        if not csrf_ok(request, form):
            return site.error_page(request, 403, "csrf", user)
        workflow = resource.workflow
        if workflow is None:
            return site.error_page(request, 404, "not_found", user)
        record_id = request.path_params["id"]
        state = form.get("state", "")
        payload: dict[str, Any] = {workflow.field: state or None}
        version = form.get("version", "").strip()
        if version.isdigit() and len(version) < 19:
            payload["version"] = int(version)
        database = request.app.state.db
        try:
            await run_in_threadpool(
                crud.update_record,
                database,
                resource,
                user,
                record_id,
                payload,
                client_ip(request),
            )
        except ApiError as exc:
            record = await run_in_threadpool(
                fetch_record, database, resource, user, record_id, "read"
            )
            if exc.status == 404 or record is None:
                return site.error_page(request, 404, "not_found", user)
            problem = transition_problem(site, resource, path, exc, state, site.locale_of(request))
            return await show_detail(
                request, path, resource, user, record, problem=problem, status=exc.status
            )
        return redirect(request, f"/{path}/{record_id}?{urlencode({'moved': state})}")

    async def action_page(request: Request) -> Response:
        """A manual process's button: the same code as ``POST /api/<path>/{id}/actions/<name>``."""
        site = site_of(request)
        user, stop = await site.guard(request, resource, "read")
        if stop is not None:
            return stop
        form = await read_form(request)
        if not csrf_ok(request, form):
            return site.error_page(request, 403, "csrf", user)
        name, record_id = request.path_params["name"], request.path_params["id"]
        action = actions_of(site, path).get(name)
        if action is None:
            return site.error_page(request, 404, "not_found", user)
        if not may_run(site.catalog, action, user):
            return site.error_page(request, 403, "forbidden", user)
        database = request.app.state.db
        endpoint = site.catalog.events.endpoints[name]
        try:
            await run_in_threadpool(endpoint.run, database, user, record_id)
        except ApiError as exc:
            record = await run_in_threadpool(
                fetch_record, database, resource, user, record_id, "read"
            )
            if exc.status == 404 or record is None:
                return site.error_page(request, 404, "not_found", user)
            if exc.status == 403:
                return site.error_page(request, 403, "forbidden", user, detail=exc.message)
            return await show_detail(
                request, path, resource, user, record, problem=exc.message, status=exc.status
            )
        return redirect(request, f"/{path}/{record_id}?done={name}")

    async def delete_page(request: Request) -> Response:
        site = site_of(request)
        user, stop = await site.guard(request, resource, "delete")
        if stop is not None:
            return stop
        locale = site.locale_of(request)
        record_id = request.path_params["id"]
        database = request.app.state.db
        if request.method == "GET":
            record = await run_in_threadpool(
                fetch_record, database, resource, user, record_id, "delete"
            )
            if record is None:
                return site.error_page(request, 404, "not_found", user)
            display = site.entities[path]["display"]
            title = site.cell({}, record.get(display), locale) or f"#{record_id}"
            context = site.entity_context(path, locale, record_id=record_id, title_text=title)
            return site.render(request, "confirm_delete.html", context, user=user)
        form = await read_form(request)
        if not csrf_ok(request, form):
            return site.error_page(request, 403, "csrf", user)
        try:
            await run_in_threadpool(
                crud.delete_record, database, resource, user, record_id, client_ip(request)
            )
        except ApiError as exc:
            if exc.status == 404:
                return site.error_page(request, 404, "not_found", user)
            return site.error_page(request, exc.status, "error", user, detail=exc.message)
        return redirect(request, f"/{path}/")

    return [
        Route(f"/{path}/{{id:int}}", detail_page, methods=["GET"]),
        Route(f"/{path}/{{id:int}}/actions/{{name}}", action_page, methods=["POST"]),
        Route(f"/{path}/{{id:int}}/transition", transition_page, methods=["POST"]),
        Route(f"/{path}/{{id:int}}/delete", delete_page, methods=["GET", "POST"]),
        *attachments.entity_routes(path, resource),  # attaching files, on entities that may
    ]


def routes() -> list[BaseRoute]:
    return []
