"""An entity's list page: columns, sorting by header, filters per field type, search, paging,
bulk delete and the export of the current filter as CSV or XLSX.

The page's query string speaks the API's list query: ``q``, ``sort``, ``cursor`` and filters
``field=value`` or ``field__op=value`` (``op`` one of gt, gte, lt, lte, ne, in, contains,
isnull), those over the back sides of relations too (``deals__stage=won``). The filter
widgets write such names (``stage__in``, ``amount__gte``, ...; a field named like a list
parameter with ``__eq``: ``format__eq``), so every link of the page (headers, pages, export)
keeps the whole query, and ``crud.list_records`` checks it with the user's permissions: a bad
value is a message on the page, never a 500. Pages go next and back by the API's keyset
cursors (``next_cursor``, ``prev_cursor``), so a page's link is as fast a thousand pages in as
on the first and can be shared; the page never links an ``offset`` (an old link's offset still
works up to ``LIST_MAX_OFFSET``). The total says whether it is counted or estimated
(``totals``). ``columns=a,b`` picks the columns shown (among the fields the user reads) and
``view=<id>`` names the saved view the page shows (``web.saved_views``); a list whose spec turns
on ``inline_edit`` marks the cells the user may change for ``static/inline_edit.js``
(``web.inline_edit``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import partial
from typing import Any, BinaryIO
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from crmgen_runtime import crud, links, permissions
from crmgen_runtime.decimals import spreadsheet_number
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.queries import RESERVED_PARAMETERS
from crmgen_runtime.resources import Resource
from crmgen_runtime.web import api_key_pages, badges, inline_edit, people, saved_views
from crmgen_runtime.web.site import (
    CSRF_FIELD,
    MAX_RECORD_ID,
    Site,
    allowed,
    client_ip,
    csrf_ok,
    read_pairs,
    site_of,
)
from crmgen_runtime.web.totals import total_text

# Query names that are not filters; ``limit`` and ``count`` belong to the page, not the user;
# ``columns`` and ``view`` to saved views.
CONTROL = frozenset({"q", "sort", "offset", "limit", "cursor", "count", "columns", "view"})
MAX_OFFSET = 2**31 - 1
EXPORT_PAGE = 500  # rows per database round trip while exporting
MAX_XLSX_ROWS = 1_048_575  # the data rows an XLSX sheet holds below its header (CSV: no cap)
FILE_CHUNK = 64 * 1024  # bytes of a built XLSX file per chunk of the answer
EMPTY_PAGE = {
    "items": [],
    "total": 0,
    "total_kind": "exact",
    "next_cursor": None,
    "prev_cursor": None,
}
MAX_BULK = 500  # records one bulk delete may name
REF_OPTIONS_LIMIT = 200  # a reference filter with more targets asks for an id instead
FORMULA_START = (
    "=",
    "+",
    "-",
    "@",
    "\t",
    "\r",
)  # cells a spreadsheet would run as formulas
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
UNSORTABLE = frozenset({"json", "refs"})  # the API cannot order by these
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The control characters XLSX cannot hold (openpyxl refuses them).
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


# --- the list query ------------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    """What the user asked the list for; it makes every link of the page and the API query."""

    q: str = ""
    sort: str = ""  # as given; empty means the spec's default order
    offset: int = 0  # an old link's (the page itself links cursors only)
    cursor: str = ""  # the API's cursor of the page shown (empty: the first page)
    filters: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    columns: tuple[str, ...] = ()  # the columns picked (empty: the spec's)
    view: str = ""  # the saved view shown

    @classmethod
    def of(cls, request: Request) -> ListQuery:
        query = request.query_params
        offset = query.get("offset", "0")
        picked = (c.strip() for v in query.getlist("columns") for c in v.split(","))
        return cls(
            q=query.get("q", "").strip(),
            sort=query.get("sort", "").strip(),
            offset=min(int(offset), MAX_OFFSET) if offset.isdigit() else 0,
            cursor=query.get("cursor", "").strip(),
            filters=tuple(
                (key, value.strip())
                for key, value in query.multi_items()
                if key not in CONTROL and value.strip()
            ),
            columns=tuple(dict.fromkeys(c for c in picked if c))[:100],
            view=query.get("view", "").strip()[:12],
        )

    def values(self, key: str) -> list[str]:
        return [value for name, value in self.filters if name == key]

    def value(self, key: str) -> str:
        given = self.values(key)
        return given[-1] if given else ""

    def pairs(self, *, paged: bool = True) -> list[tuple[str, str]]:
        """The query string's pairs (empty parts left out)."""
        pairs = [("q", self.q)] if self.q else []
        if self.sort:
            pairs.append(("sort", self.sort))
        pairs.extend(self.filters)
        if self.columns:
            pairs.append(("columns", ",".join(self.columns)))
        if self.view:
            pairs.append(("view", self.view))
        if paged and self.cursor:
            pairs.append(("cursor", self.cursor))
        elif paged and self.offset:
            pairs.append(("offset", str(self.offset)))
        return pairs

    def url(self, base: str, **changes: Any) -> str:
        pairs = replace(self, **changes).pairs()
        return base + ("?" + urlencode(pairs) if pairs else "")

    def api_params(
        self, fields: dict[str, dict[str, Any]], default_sort: str, zone: dt.tzinfo
    ) -> list[tuple[str, str]]:
        """The query for ``crud.list_records`` (without ``limit``, ``offset`` or ``cursor``)."""
        params: list[tuple[str, str]] = [("q", self.q)] if self.q else []
        if self.sort or (default_sort and not self.q):  # a search orders by rank
            params.append(("sort", self.sort or default_sort))
        multi: dict[str, list[str]] = {}
        for key, value in self.filters:
            if key.endswith("__in"):  # one checkbox per value: the API takes them comma-joined
                multi.setdefault(key, []).append(value)
            else:
                params.append(_day_bound(fields, key, value, zone))
        params.extend((key, ",".join(values)) for key, values in multi.items())
        return params


def _day_bound(
    fields: dict[str, dict[str, Any]], key: str, value: str, zone: dt.tzinfo
) -> tuple[str, str]:
    """A date-only bound of a date-and-time field as a whole day of the app's time zone:
    ``paid_at__lte=2024-05-01`` keeps what happened up to the end of May 1 there
    (``paid_at__lt=2024-05-02T00:00:00+03:00`` in Moscow)."""
    name, _, op = key.rpartition("__")
    meta = fields.get(name)
    if meta is None or meta["type"] != "datetime" or not DAY.fullmatch(value):
        return key, value
    try:
        day = dt.date.fromisoformat(value)
        if op in ("gt", "lte"):
            op, day = ("gte" if op == "gt" else "lt"), day + dt.timedelta(days=1)
    except (ValueError, OverflowError):
        return key, value  # the API names what is wrong with it
    return f"{name}__{op}", dt.datetime.combine(day, dt.time(), tzinfo=zone).isoformat()


# --- the filter widgets --------------------------------------------------------------------


def _ref_options(
    site: Site, database: Any, user: CurrentUser, meta: dict[str, Any]
) -> list[dict[str, str]] | None:
    """The records a reference filter (of the link field ``meta``) offers, each by the field
    the link shows, or None (too many, or not listable: an id input)."""
    target = site.catalog.resources.get(meta.get("target") or "")
    if target is None:
        return None
    try:
        first = [("limit", str(REF_OPTIONS_LIMIT))]
        page = crud.list_records(database, target, user, first, count=False)
    except ApiError:
        return None
    if page["next_cursor"] is not None:  # more than the limit
        return None
    shown = meta.get("display") or target.display
    return [
        {"value": str(item["id"]), "label": links.text(item["id"], item.get(shown))}
        for item in page["items"]
    ]


def filter_widgets(
    site: Site,
    database: Any,
    user: CurrentUser,
    entity: dict[str, Any],
    readable: frozenset[str],
    query: ListQuery,
    locale: str,
) -> list[dict[str, Any]]:
    """The filters of the list page with their current values, for the fields ``user`` reads."""
    widgets = []
    for spec in entity["lists"]["filters"]:
        name, kind = spec["name"], spec["kind"]
        if name not in readable:
            continue
        meta = entity["fields"][name]
        widget: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "label": site.pick(meta["label"], locale),
        }
        if kind == "enum":
            chosen = set(query.values(f"{name}__in")) | set(query.values(name))
            widget["key"] = f"{name}__in"
            widget["options"] = [
                {
                    "value": value,
                    "label": site.pick(label, locale),
                    "checked": value in chosen,
                }
                for value, label in meta["choices"]
            ]
        elif kind in ("ref", "boolean"):
            reserved = name in RESERVED_PARAMETERS or name in CONTROL
            key = f"{name}__eq" if reserved else name  # sort__eq=, not sort=
            widget["key"], widget["value"] = key, query.value(key)
            if kind == "ref":
                widget["options"] = _ref_options(site, database, user, meta)
        elif kind in ("date", "datetime", "number", "time"):
            widget["low"], widget["high"] = (
                query.value(f"{name}__gte"),
                query.value(f"{name}__lte"),
            )
            widget["step"] = meta["step"] or "any"
        else:
            widget["key"], widget["value"] = (
                f"{name}__contains",
                query.value(f"{name}__contains"),
            )
        widgets.append(widget)
    return widgets


def column_header(
    site: Site, query: ListQuery, base: str, meta: dict[str, Any], sorted_by: str, locale: str
) -> dict[str, Any]:
    """A column's header: its label, the link sorting by it (the other way round when it is
    the current order) and its ``aria-sort``."""
    name = meta["name"]
    state = {name: "ascending", f"-{name}": "descending"}.get(sorted_by)
    link = None
    if meta["type"] not in UNSORTABLE and not meta.get("encrypted"):
        order = ("-" if state == "ascending" else "") + name
        link = query.url(base, sort=order, offset=0, cursor="")
    return {"label": site.pick(meta["label"], locale), "link": link, "sorted": state}


# --- export --------------------------------------------------------------------------------


def safe_text(text: str) -> str:
    """Text a spreadsheet shows as typed: a leading ``=``, ``+``, ``-`` or ``@`` would make it
    a formula, so such text gets a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_START) else text


def export_value(site: Site, meta: dict[str, Any], value: Any, locale: str, *, native: bool) -> Any:
    """A value for a spreadsheet cell: numbers, dates and booleans stay typed when ``native``
    (XLSX); everything else, and everything in CSV, is text as people read it."""
    if value is None:
        return None if native else ""
    if isinstance(value, bool):
        return value if native else site.translator(locale)("yes" if value else "no")
    if isinstance(value, int | float | Decimal):
        if native:
            return spreadsheet_number(value)
        return format(value, "f") if isinstance(value, Decimal) else str(value)
    if isinstance(value, dt.datetime):  # as shown on the pages: in the app's time zone
        local = (
            value.astimezone(site.catalog.config.clock.zone).replace(tzinfo=None)
            if value.tzinfo
            else value
        )
        return local if native else local.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value if native else value.isoformat()
    if meta["type"] == "json" or isinstance(value, dict) and "id" not in value:
        text = safe_text(json.dumps(value, ensure_ascii=False, default=str))
    else:
        text = safe_text(site.cell(meta, value, locale))
    return (
        ILLEGAL_CHARACTERS_RE.sub("", text) if native else text
    )  # XLSX refuses control characters


@dataclass(frozen=True)
class Export:
    """The rows of an export: the header, then the records of the query, page by page."""

    site: Site
    database: Any
    resource: Resource
    user: CurrentUser
    params: list[tuple[str, str]]
    columns: list[dict[str, Any]]
    locale: str
    first: dict[str, Any]  # the first page, fetched before the answer starts (errors: 400 page)

    def header(self) -> list[str]:
        return [safe_text(self.site.pick(meta["label"], self.locale)) for meta in self.columns]

    def rows(self, *, native: bool, cap: int | None = None) -> Iterator[list[Any]]:
        """The records as rows of cells, a keyset page of ``EXPORT_PAGE`` at a time (at most
        ``cap``): memory holds one page, however many records the query finds."""
        page, sent = self.first, 0
        while True:
            items = page["items"] if cap is None else page["items"][: cap - sent]
            for item in items:
                yield [
                    export_value(
                        self.site, meta, item.get(meta["name"]), self.locale, native=native
                    )
                    for meta in self.columns
                ]
            sent += len(items)
            if not page["next_cursor"] or (cap is not None and sent >= cap):
                return
            page = crud.list_records(
                self.database,
                self.resource,
                self.user,
                [*self.params, ("cursor", page["next_cursor"])],
                count=False,  # an export needs no total
            )

    def csv_chunks(self) -> Iterator[str]:
        """UTF-8 CSV with a byte order mark (Excel reads it as UTF-8), a chunk per page."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow(self.header())
        for number, row in enumerate(self.rows(native=False), start=1):
            writer.writerow(row)
            if number % EXPORT_PAGE == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    def xlsx_file(self) -> BinaryIO:
        """The XLSX file of the export, open for reading and already unlinked: openpyxl's
        write-only mode writes the sheet row by row to a temporary file (strings inline), and
        the workbook is zipped to another, so memory holds a page of records at a time."""
        # imported on the first export, not at start-up
        from openpyxl import Workbook  # type: ignore[import-untyped]

        book = Workbook(write_only=True)
        sheet = book.create_sheet(title="Export")
        sheet.append(self.header())
        for row in self.rows(native=True, cap=MAX_XLSX_ROWS):
            sheet.append(row)
        out = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (closed by file_chunks)
        try:
            book.save(out)
        except BaseException:
            out.close()
            raise
        out.seek(0)
        return out


def file_chunks(file: BinaryIO) -> Iterator[bytes]:
    """The bytes of ``file`` in chunks, closing it at the end (or when the answer stops)."""
    with file:
        while chunk := file.read(FILE_CHUNK):
            yield chunk


# The first column of every export.
ID_COLUMN: dict[str, Any] = {
    "name": "id",
    "type": "integer",
    "label": {"en": "ID"},
    "choices": [],
}


# --- bulk delete ---------------------------------------------------------------------------


def record_ids(values: list[str]) -> list[int]:
    """The valid record ids among ``values``, each once, at most ``MAX_BULK``."""
    ids = [int(v) for v in values if v.isdigit() and 0 < int(v) <= MAX_RECORD_ID]
    return list(dict.fromkeys(ids))[:MAX_BULK]


def _api_params(site: Site, entity: dict[str, Any], query: ListQuery) -> list[tuple[str, str]]:
    """The API's list query of ``query`` on ``entity``'s list (its default order, the app's
    time zone for whole days)."""
    return query.api_params(entity["fields"], entity["sort"], site.catalog.config.clock.zone)


def _page_link(query: ListQuery, base: str, cursor: str | None) -> str | None:
    """The link of the page a cursor of the API names (None: no such page)."""
    return query.url(base, offset=0, cursor=cursor) if cursor else None


def back_link(base: str, value: str) -> str:
    """The list page to go back to (only this entity's list, never another site)."""
    return value if value.startswith(base) and "\\" not in value else base


def titles(
    site: Site,
    database: Any,
    resource: Resource,
    user: CurrentUser,
    ids: list[int],
    locale: str,
) -> dict[int, str]:
    """The display text of the records ``ids`` that ``user`` may see."""
    if not ids:
        return {}
    page = crud.list_records(
        database,
        resource,
        user,
        [("id__in", ",".join(map(str, ids))), ("limit", str(MAX_BULK))],
        count=False,
    )
    entity = site.entities[resource.path]
    display = entity["fields"].get(entity["display"], {"choices": []})
    return {
        item["id"]: site.cell(display, item.get(entity["display"]), locale) or f"#{item['id']}"
        for item in page["items"]
    }


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    """The list page of the entity at ``path``, its exports and its bulk delete."""
    base = f"/{path}/"

    async def list_page(request: Request) -> Response:
        site = site_of(request)
        user, stop = await site.guard(request, resource, "list")
        if stop is not None:
            return stop
        entity = site.entities[path]
        fields: dict[str, dict[str, Any]] = entity["fields"]
        locale, database = site.locale_of(request), request.app.state.db
        query = ListQuery.of(request)
        if saved_views.enabled(site) and query.pairs() == [("view", query.view)]:
            return await saved_views.opened(request, site, user, query.view)  # ?view=<id>
        size = entity["page_size"]
        params = [*_api_params(site, entity, query), ("limit", str(size))]
        if query.cursor:
            params.append(("cursor", query.cursor))
        elif query.offset:
            params.append(("offset", str(query.offset)))
        limits = request.app.state.settings.lists
        error, status = None, 200
        try:
            page = await run_in_threadpool(
                partial(crud.list_records, limits=limits), database, resource, user, params
            )
        except ApiError as exc:
            error, status = exc.message, exc.status
            page = EMPTY_PAGE
        readable = permissions.readable(resource, user)
        picked = [c for c in query.columns if c in fields and c in readable]
        columns = [fields[c] for c in (picked or entity["columns"]) if c in readable]
        edits = inline_edit.editable(site, entity, resource, user)
        widgets = await run_in_threadpool(
            filter_widgets, site, database, user, entity, readable, query, locale
        )
        sorted_by = (query.sort or entity["sort"]).split(",")[0]
        headers = [column_header(site, query, base, c, sorted_by, locale) for c in columns]
        rows = [
            {
                "id": item["id"],
                "version": item.get("version"),
                "cells": [
                    {
                        "label": h["label"],
                        "value": site.cell(c, item.get(c["name"]), locale),
                        "tone": badges.tone(c, item.get(c["name"])),
                        "avatar": badges.avatar(
                            c,
                            item.get(c["name"]),
                            site.users_path,
                            site.cell(c, item.get(c["name"]), locale),
                        ),
                        **inline_edit.cell(
                            site,
                            edits,
                            c,
                            item,
                            locale,
                            first=i == 0,
                            resource=resource,
                            user=user,
                        ),
                    }
                    for i, (h, c) in enumerate(zip(headers, columns, strict=True))
                ],
            }
            for item in page["items"]
        ]
        views = {}
        if saved_views.enabled(site):
            views = await run_in_threadpool(
                saved_views.context, site, database, user, path, query, readable, locale
            )
        paged = bool(query.cursor or query.offset)
        offset = None if query.cursor else query.offset  # where the page starts, when known
        export = urlencode(query.pairs(paged=False))
        context = site.entity_context(
            path,
            locale,
            q=query.q,
            sort_param=query.sort,
            headers=headers,
            rows=rows,
            total=page["total"],
            total_text=total_text(
                site.translator(locale), page["total"], page["total_kind"], locale
            ),
            error=error,
            filters=widgets,
            active_filters=len({key.split("__")[0] for key, _ in query.filters}),
            clear_link=query.url(base, filters=(), offset=0),
            here_link=query.url(base),
            next_link=_page_link(query, base, page["next_cursor"]),
            prev_link=_page_link(query, base, page["prev_cursor"]),
            first_link=query.url(base, offset=0, cursor="") if paged else None,
            first_row=offset + 1 if rows and offset is not None else 0,
            last_row=offset + len(rows) if offset is not None else 0,
            export_csv=f"{base}export.csv" + (f"?{export}" if export else ""),
            export_xlsx=f"{base}export.xlsx" + (f"?{export}" if export else ""),
            may_create=allowed(resource, user, "create"),
            may_delete=allowed(resource, user, "delete"),
            duplicates_url=f"{base}duplicates" if resource.duplicates else None,
            invite_url=people.invite_url(site, path, resource, user),
            keys_url=api_key_pages.keys_url(site, resource, user),
            inline_edit=inline_edit.context(site, edits, resource, locale),
            views=views,
        )
        return site.render(request, "list.html", context, user=user, status=status)

    async def export(request: Request, kind: str) -> Response:
        site = site_of(request)
        user, stop = await site.guard(request, resource, "list")
        if stop is not None:
            return stop
        entity = site.entities[path]
        fields: dict[str, dict[str, Any]] = entity["fields"]
        locale, database = site.locale_of(request), request.app.state.db
        readable = permissions.readable(resource, user)
        columns = [ID_COLUMN] + [
            fields[name] for name in entity["lists"]["export"] if name in readable
        ]
        params = [*_api_params(site, entity, ListQuery.of(request)), ("limit", str(EXPORT_PAGE))]
        try:
            first = await run_in_threadpool(
                partial(crud.list_records, count=False), database, resource, user, params
            )
        except ApiError as exc:
            return site.error_page(request, exc.status, "list_bad_filter", user, detail=exc.message)
        rows = Export(site, database, resource, user, params, columns, locale, first)
        stamp = dt.date.today().isoformat()
        disposition = {"Content-Disposition": f'attachment; filename="{path}-{stamp}.{kind}"'}
        if kind == "csv":
            return StreamingResponse(
                rows.csv_chunks(), media_type="text/csv; charset=utf-8", headers=disposition
            )
        built = await run_in_threadpool(rows.xlsx_file)
        return StreamingResponse(file_chunks(built), media_type=XLSX_TYPE, headers=disposition)

    async def export_csv(request: Request) -> Response:
        return await export(request, "csv")

    async def export_xlsx(request: Request) -> Response:
        return await export(request, "xlsx")

    async def bulk_delete(request: Request) -> Response:
        """GET: the records chosen on the list, to confirm; POST: delete them one by one."""
        site = site_of(request)
        user, stop = await site.guard(request, resource, "delete")
        if stop is not None:
            return stop
        locale, database = site.locale_of(request), request.app.state.db
        if request.method == "GET":
            pairs = list(request.query_params.multi_items())
        else:
            pairs = await read_pairs(request)
            if not csrf_ok(request, {CSRF_FIELD: dict(pairs).get(CSRF_FIELD, "")}):
                return site.error_page(request, 403, "csrf", user)
        ids = record_ids([value for key, value in pairs if key == "id"])
        back = back_link(base, dict(pairs).get("back", ""))
        try:
            shown = await run_in_threadpool(titles, site, database, resource, user, ids, locale)
        except ApiError as exc:
            return site.error_page(request, exc.status, "error", user, detail=exc.message)
        context = site.entity_context(path, locale, back=back, missing=len(ids) - len(shown))
        if request.method == "GET":
            records = [{"id": i, "title": shown[i]} for i in ids if i in shown]
            return site.render(
                request, "bulk_delete.html", {**context, "records": records}, user=user
            )
        t = site.translator(locale)
        deleted, failed = 0, []
        for record_id in ids:
            try:
                await run_in_threadpool(
                    crud.delete_record, database, resource, user, record_id, client_ip(request)
                )
                deleted += 1
            except ApiError as exc:
                reasons = {404: t("not_found"), 403: t("forbidden")}
                reason = reasons.get(exc.status, exc.message)
                failed.append({"title": shown.get(record_id, f"#{record_id}"), "reason": reason})
        return site.render(
            request,
            "bulk_delete.html",
            {**context, "done": True, "deleted": deleted, "failed": failed},
            user=user,
        )

    return [
        Route(base, list_page, methods=["GET"]),
        Route(f"{base}export.csv", export_csv, methods=["GET"]),
        Route(f"{base}export.xlsx", export_xlsx, methods=["GET"]),
        Route(f"{base}bulk-delete", bulk_delete, methods=["GET", "POST"]),
    ]


def routes() -> list[BaseRoute]:
    return []
