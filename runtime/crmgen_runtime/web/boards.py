"""Kanban boards by an enum field and calendars by a date field.

``/<path>/kanban``: one column per value of the spec's ``ui.kanban.by`` field (in the enum's
order), cards showing its ``title`` and ``fields``, a count and the sums of money fields per
column; the query string filters it as it filters the list (``q`` and ``field__op=value``).
Moving a card changes that one field through ``crud.update_record`` (the API's validation,
permissions, processes and optimistic concurrency): ``static/kanban.js`` sends
``PATCH /api/<path>/{id}``; without script, the buttons of each card's menu post to
``/<path>/kanban/move``.
When the field is not required, the "No value" column takes cards too: the field is cleared.

``/<path>/calendar?month=YYYY-MM``: a month grid of the records by ``ui.calendar.date``
(through ``end`` when the spec names one) in the app's time zone; weeks start as the locale's
do. Only the visible weeks are queried.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import sqlalchemy as sa
from babel.dates import format_date, format_time, get_day_names
from babel.numbers import format_percent
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from crmgen_runtime import backs, consent, crud, permissions, workflows
from crmgen_runtime.decimals import WIDE, column_sum
from crmgen_runtime.errors import ApiError
from crmgen_runtime.formats import babel_locale
from crmgen_runtime.resources import Resource
from crmgen_runtime.web.site import (
    MAX_RECORD_ID,
    Site,
    allowed,
    client_ip,
    csrf_ok,
    read_form,
    redirect,
    site_of,
)

CARDS_PER_COLUMN = 100  # a column with more records says how many it does not show
CALENDAR_LIMIT = 500  # records per calendar query (the API's largest page)
# Query names of the board that do not filter its records.
CONTROL = frozenset({"sort", "offset", "limit", "cursor", "month"})
MONTH = re.compile(r"(\d{4})-(\d{2})")
FIRST_YEAR, LAST_YEAR = 1000, 9998  # months whose weeks stay within Python's dates
NEW_AT = dt.time(9, 0)  # the time a new record of a date-and-time calendar starts at


# --- formatting ----------------------------------------------------------------------------


def money(site: Site, value: Any, currency: str, locale: str) -> str:
    return site.formats.format_money(value or 0, locale, currency)


def shown(site: Site, meta: dict[str, Any], value: Any, locale: str, currency: str | None) -> str:
    """A card's field value as people read it in ``locale`` (dates and money formatted)."""
    if value is not None and currency is not None:
        return money(site, value, currency, locale)
    return site.cell(meta, value, locale)


def numeric(meta: dict[str, Any], value: Any, currency: str | None) -> bool:
    """Whether a card's value is an amount or a number, shown whole on one line (a number
    broken across lines reads as two)."""
    if currency is not None or meta.get("currency"):
        return True
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def query_filters(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The list query's search and filters of a query string, as ``crud.list_records`` takes
    them (repeated ``field__in`` values joined with commas, empty values left out)."""
    params: list[tuple[str, str]] = []
    multi: dict[str, list[str]] = {}
    for key, raw in pairs:
        value = raw.strip()
        if key in CONTROL or not value:
            continue
        if key.endswith("__in"):
            multi.setdefault(key, []).append(value)
        else:
            params.append((key, value))
    params.extend((key, ",".join(values)) for key, values in multi.items())
    return params


def whole_number(raw: str | None) -> int | None:
    if raw is None or not raw.strip().isdigit() or len(raw.strip()) > 19:
        return None
    return int(raw)


# --- kanban --------------------------------------------------------------------------------


@dataclass
class Column:
    """One column of a board: an enum value (``None``: records without one), its records."""

    value: str | None
    cards: list[dict[str, Any]]
    count: int
    sums: dict[str, Any]


def _conditions(
    resource: Resource, user: Any, filters: list[tuple[str, str]]
) -> list[sa.ColumnElement[bool]]:
    """What ``crud.list_records`` would select with ``filters``: the filters, the user's list
    rule and, for soft-deleted entities, only the live records."""
    names = permissions.readable(resource, user)
    conditions, filters = backs.filters(resource, user, filters)  # deals__stage=won, ...
    conditions += crud.parse_list_query(resource, names, filters).conditions
    rule = permissions.condition(resource, user, "list")
    if rule is not None:
        conditions.append(rule)
    if resource.soft_delete:
        conditions.append(resource.attribute("deleted_at").is_(None))
    return conditions


def _totals(
    database: Any,
    resource: Resource,
    user: Any,
    view: dict[str, Any],
    filters: list[tuple[str, str]],
) -> dict[str | None, tuple[int, dict[str, Any]]]:
    """Per value of the board's field: the number of records and the sums of its money fields
    (those the user may read), in one grouped query."""
    readable = permissions.readable(resource, user)
    summed = [name for name in view["sums"] if name in readable]
    by = resource.attribute(view["by"])
    statement = (
        sa.select(by, sa.func.count(), *(column_sum(resource.attribute(n)) for n in summed))
        .select_from(resource.model)
        .where(*_conditions(resource, user, filters))
        .group_by(by)
    )
    with database.engine.connect() as connection:
        rows = connection.execute(statement).all()
    return {row[0]: (row[1], dict(zip(summed, row[2:]))) for row in rows}


def load_board(
    database: Any,
    resource: Resource,
    user: Any,
    view: dict[str, Any],
    filters: list[tuple[str, str]],
    sort: str,
    *,
    empty_column: bool = False,
) -> list[Column]:
    """The board's columns with their first ``CARDS_PER_COLUMN`` records (raises ``ApiError``
    for a bad filter). A field that may be empty has a "No value" column first when records
    lack a value, or always with ``empty_column``: a place to drop cards to clear it."""
    totals = _totals(database, resource, user, view, filters)
    values: list[str | None] = [column["value"] for column in view["columns"]]
    if view["nullable"] and (empty_column or None in totals):
        values.insert(0, None)
    columns = []
    for value in values:
        params = [*filters, ("limit", str(CARDS_PER_COLUMN))]
        if sort:
            params.append(("sort", sort))
        if value is None:
            params.append((f"{view['by']}__isnull", "true"))
        else:
            params.append((view["by"], value))
        page = crud.list_records(database, resource, user, params, count=False)  # counted above
        count, sums = totals.get(value, (0, {}))
        columns.append(Column(value, page["items"], count, sums))
    return columns


# --- calendar ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    """A month and the whole weeks that show it: days ``start`` up to (not with) ``end``."""

    first: dt.date
    start: dt.date
    end: dt.date

    @classmethod
    def of(cls, raw: str, today: dt.date, first_weekday: int) -> Month:
        """The month ``raw`` (``YYYY-MM``) names; anything else is this month."""
        match = MONTH.fullmatch(raw.strip())
        first = today.replace(day=1)
        if match and FIRST_YEAR <= int(match[1]) <= LAST_YEAR and 1 <= int(match[2]) <= 12:
            first = dt.date(int(match[1]), int(match[2]), 1)
        start = first - dt.timedelta(days=(first.weekday() - first_weekday) % 7)
        following = (first + dt.timedelta(days=32)).replace(day=1)
        end = following + dt.timedelta(days=-(following - start).days % 7)
        return cls(first, start, end)

    @property
    def previous(self) -> str:
        return (self.first - dt.timedelta(days=1)).strftime("%Y-%m")

    @property
    def next(self) -> str:
        return (self.first + dt.timedelta(days=32)).strftime("%Y-%m")

    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range((self.end - self.start).days)]


def bound(day: dt.date, type_: str, zone: dt.tzinfo) -> str:
    """The start of ``day`` as a filter of a ``type_`` field: the date itself, or midnight in
    the app's time zone ``zone`` (in UTC) for a date and time."""
    if type_ == "datetime":
        moment = dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return day.isoformat()


def local_day(value: Any, zone: dt.tzinfo) -> dt.date | None:
    """The day of a date, or of a moment in the app's time zone ``zone``."""
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).date()
    return value if isinstance(value, dt.date) else None


def load_month(
    database: Any,
    resource: Resource,
    user: Any,
    view: dict[str, Any],
    month: Month,
    zone: dt.tzinfo,
) -> tuple[list[dict[str, Any]], int]:
    """The records shown in ``month``'s weeks, ordered by date, and how many there are: those
    starting in the weeks and, with an end field, those that started before and go on.
    """
    date, end = view["date"], view["end"]
    order = [("sort", date), ("limit", str(CALENDAR_LIMIT))]
    queries = [
        [
            (f"{date}__gte", bound(month.start, view["date_type"], zone)),
            (f"{date}__lt", bound(month.end, view["date_type"], zone)),
            *order,
        ]
    ]
    if end is not None:
        queries.append(
            [
                (f"{date}__lt", bound(month.start, view["date_type"], zone)),
                (f"{end}__gte", bound(month.start, view["end_type"], zone)),
                *order,
            ]
        )
    records: dict[int, dict[str, Any]] = {}
    total = 0
    for params in reversed(queries):  # those that began earlier first
        page = crud.list_records(database, resource, user, params)
        total += page["total"]
        for item in page["items"]:
            records.setdefault(item["id"], item)
    return list(records.values()), total


def place(
    records: list[dict[str, Any]],
    view: dict[str, Any],
    month: Month,
    path: str,
    locale: str,
    zone: dt.tzinfo,
) -> dict[dt.date, list[dict[str, Any]]]:
    """Each day of the month's weeks with the entries on it (a record with an end is on every
    day from its date through its end)."""
    days: dict[dt.date, list[dict[str, Any]]] = {day: [] for day in month.days()}
    last_day = month.end - dt.timedelta(days=1)
    for item in records:
        first = local_day(item.get(view["date"]), zone)
        if first is None:
            continue
        last = local_day(item.get(view["end"]), zone) if view["end"] else None
        if last is None or last < first:
            last = first
        moment = item.get(view["date"])
        time = (
            format_time(moment, "short", tzinfo=zone, locale=babel_locale(locale))
            if isinstance(moment, dt.datetime)
            else ""
        )
        title = str(item.get(view["title"]) or f"#{item['id']}")
        day = max(first, month.start)
        while day <= min(last, last_day):
            days[day].append(
                {
                    "url": f"/{path}/{item['id']}",
                    "title": title,
                    "time": time if day == first else "",
                    "continued": day > first,
                }
            )
            day += dt.timedelta(days=1)
    return days


# --- pages ---------------------------------------------------------------------------------


class ViewRoute(Route):
    """A route of one entity's board that exists only when the app's site gives the entity
    that view (``ui.json``'s ``boards``): elsewhere the path matches nothing, as if unrouted."""

    def __init__(
        self, path: str, endpoint: Any, *, entity: str, view: str, methods: list[str]
    ) -> None:
        super().__init__(path, endpoint, methods=methods)
        self.entity = entity
        self.view = view

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        site: Site = scope["app"].state.site
        entity = site.entities.get(self.entity)
        if entity is None or entity["boards"].get(self.view) is None:
            return Match.NONE, {}
        return super().matches(scope)


@dataclass(frozen=True)
class Board:
    """One entity's kanban board on an app's site: ``view`` is ``ui.json``'s
    ``boards.kanban``."""

    site: Site
    path: str
    view: dict[str, Any]

    @classmethod
    def of(cls, request: Request, path: str) -> Board:
        site = site_of(request)
        return cls(site, path, site.entities[path]["boards"]["kanban"])

    @property
    def fields(self) -> dict[str, dict[str, Any]]:
        fields: dict[str, dict[str, Any]] = self.site.entities[self.path]["fields"]
        return fields

    @property
    def url(self) -> str:
        return f"/{self.path}/kanban"

    def may_move(self, resource: Resource, user: Any) -> bool:
        """Whether ``user`` may change the board's field (the API checks each record again)."""
        return allowed(resource, user, "update") and self.view["by"] in permissions.writable(
            resource, user, "update"
        )

    def move_targets(self, locale: str) -> list[tuple[str, str]]:
        """The values a card's move form offers: "No value" (``""``, posted as ``null``)
        first when the field may be empty, then the enum's values."""
        site = self.site
        targets = [(c["value"], site.pick(c["label"], locale)) for c in self.view["columns"]]
        if self.view["nullable"]:
            targets.insert(0, ("", site.translator(locale)("kanban_none")))
        return targets

    def column_view(
        self,
        column: Column,
        locale: str,
        readable: frozenset[str],
        moves: list[str] | None = None,
    ) -> dict[str, Any]:
        """A column as ``kanban.html`` shows it: label, colour, count, sums and cards; ``moves``:
        the values its cards may move to under the entity's workflow (None: any)."""
        site, view = self.site, self.view
        spec = next((c for c in view["columns"] if c["value"] == column.value), None)
        weight = spec["weight"] if spec is not None else None
        sums = []
        for name, total in column.sums.items():
            currency = view["sums"][name]
            weighted = None
            if weight is not None:
                product = WIDE.multiply(Decimal(str(total or 0)), Decimal(str(weight)))
                weighted = money(site, product, currency, locale)
            sums.append(
                {
                    "label": site.pick(self.fields[name]["label"], locale),
                    "total": money(site, total, currency, locale),
                    "weighted": weighted,
                }
            )
        label = site.translator(locale)("kanban_none") if spec is None else None
        return {
            "value": column.value or "",
            "label": site.pick(spec["label"], locale) if spec is not None else label,
            "color": spec["color"] if spec is not None else None,
            "probability": (
                None if weight is None else format_percent(weight, locale=babel_locale(locale))
            ),
            "count": column.count,
            "moves": moves,
            # A card dropped on "No value" clears the field: only where it may be empty.
            "droppable": column.value is not None or view["nullable"],
            "sums": sums,
            "more": column.count > len(column.cards),
            "shown": len(column.cards),
            "cards": [
                self.card_view(item, column.value, locale, readable) for item in column.cards
            ],
        }

    def card_view(
        self, item: dict[str, Any], value: str | None, locale: str, readable: frozenset[str]
    ) -> dict[str, Any]:
        """A card: the record's title and the view's fields ``readable`` to the user."""
        site, view, fields = self.site, self.view, self.fields
        return {
            "id": item["id"],
            "version": item.get("version"),
            "value": value or "",
            "title": str(item.get(view["title"]) or f"#{item['id']}"),
            "fields": [
                {
                    "label": site.pick(fields[name]["label"], locale),
                    "value": shown(
                        site, fields[name], item.get(name), locale, view["sums"].get(name)
                    ),
                    "numeric": numeric(fields[name], item.get(name), view["sums"].get(name)),
                }
                for name in view["fields"]
                if name in readable and item.get(name) not in (None, "")
            ],
        }


def _moves(
    resource: Resource, user: Any, kanban: dict[str, Any], value: str | None
) -> list[str] | None:
    """The values the cards of the column of ``value`` may move to, when the board's field has
    a workflow (``crmgen_runtime.workflows``); None when any value may follow any."""
    workflow = resource.workflow
    if workflow is None or workflow.field != kanban["by"]:
        return None
    superuser = user is not None and resource.catalog.is_superuser(user)
    return workflows.moves(workflow, value, user, superuser)


async def show_board(
    request: Request,
    board: Board,
    resource: Resource,
    user: Any,
    pairs: list[tuple[str, str]],
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The board page for ``pairs`` (the query string's filters), with ``error`` if any."""
    site, kanban, path = board.site, board.view, board.path
    entity = site.entities[path]
    locale = site.locale_of(request)
    readable = permissions.readable(resource, user)
    if kanban["by"] not in readable:
        return site.error_page(request, 403, "forbidden", user)
    filters = query_filters(pairs)
    movable = board.may_move(resource, user)
    try:
        columns = await run_in_threadpool(
            functools.partial(load_board, empty_column=movable),
            request.app.state.db,
            resource,
            user,
            kanban,
            filters,
            entity["sort"],
        )
    except ApiError as exc:
        error = error or exc.message
        columns = [Column(c["value"], [], 0, {}) for c in kanban["columns"]]
    query = urlencode([(k, v) for k, v in pairs if k not in CONTROL])
    return site.render(
        request,
        "kanban.html",
        site.entity_context(
            path,
            locale,
            columns=[
                board.column_view(c, locale, readable, _moves(resource, user, kanban, c.value))
                for c in columns
            ],
            targets=board.move_targets(locale),
            field=kanban["by"],
            q=dict(pairs).get("q", ""),
            here_board=board.url + (f"?{query}" if query else ""),
            may_move=movable,
            may_create=allowed(resource, user, "create"),
            calendar_url=(f"/{path}/calendar" if entity["boards"]["calendar"] else None),
            error=error,
        ),
        user=user,
        status=status,
    )


def kanban_routes(path: str, resource: Resource) -> list[BaseRoute]:
    """The board of ``path`` and the form that moves its cards."""

    async def kanban_page(request: Request) -> Response:
        board = Board.of(request, path)
        user, stop = await board.site.guard(request, resource, "list")
        if stop is not None:
            return stop
        pairs = request.query_params.multi_items()
        return await show_board(request, board, resource, user, pairs)

    async def move(request: Request) -> Response:
        """The board's form: the card's record gets the chosen value, as a PATCH would."""
        board = Board.of(request, path)
        site, by = board.site, board.view["by"]
        user, stop = await site.guard(request, resource, "update")
        if stop is not None:
            return stop
        form = await read_form(request)
        if not csrf_ok(request, form):
            return site.error_page(request, 403, "csrf", user)
        back = form.get("next", "")
        if not (back == board.url or back.startswith(board.url + "?")):
            back = board.url
        record_id = whole_number(form.get("id"))
        if record_id is None or record_id > MAX_RECORD_ID:
            return site.error_page(request, 404, "not_found", user)
        # "No value" (an empty value) clears the field; the API refuses it for a required one.
        payload: dict[str, Any] = {by: form.get("value") or None}
        version = whole_number(form.get("version"))
        if version is not None:
            payload["version"] = version
        try:
            await run_in_threadpool(
                consent.within,
                "user",
                crud.update_record,
                request.app.state.db,
                resource,
                user,
                record_id,
                payload,
                client_ip(request),
            )
        except ApiError as exc:
            if exc.status == 404:
                return site.error_page(request, 404, "not_found", user)
            locale = site.locale_of(request)
            t = site.translator(locale)
            if exc.status == 409 and exc.code == "stale":
                message = t("kanban_stale")
            else:
                problem = site.field_errors(exc.fields, locale).get(by)
                message = f"{t('kanban_failed')} {problem or exc.message}"
            pairs = parse_qsl(urlsplit(back).query, keep_blank_values=True)
            return await show_board(
                request, board, resource, user, pairs, error=message, status=exc.status
            )
        return redirect(request, back)

    board_url = f"/{path}/kanban"
    return [
        ViewRoute(board_url, kanban_page, entity=path, view="kanban", methods=["GET"]),
        ViewRoute(f"{board_url}/move", move, entity=path, view="kanban", methods=["POST"]),
    ]


def calendar_routes(path: str, resource: Resource) -> list[BaseRoute]:
    """The month calendar of ``path``."""

    async def calendar_page(request: Request) -> Response:
        site = site_of(request)
        entity = site.entities[path]
        calendar = entity["boards"]["calendar"]
        user, stop = await site.guard(request, resource, "list")
        if stop is not None:
            return stop
        locale = site.locale_of(request)
        if calendar["date"] not in permissions.readable(resource, user):
            return site.error_page(request, 403, "forbidden", user)
        lang = babel_locale(locale)
        clock = site.catalog.config.clock
        today = clock.today()
        month = Month.of(request.query_params.get("month", ""), today, lang.first_week_day)
        records, total = await run_in_threadpool(
            load_month, request.app.state.db, resource, user, calendar, month, clock.zone
        )
        entries = place(records, calendar, month, path, locale, clock.zone)
        may_create = allowed(resource, user, "create") and calendar["date"] in (
            permissions.writable(resource, user, "create")
        )

        def new_url(day: dt.date) -> str | None:
            if not may_create:
                return None
            value = day.isoformat()
            if calendar["date_type"] == "datetime":
                value += "T" + NEW_AT.strftime("%H:%M")
            return f"/{path}/new?" + urlencode({calendar["date"]: value})

        days = [
            {
                "iso": day.isoformat(),
                "number": day.day,
                "label": format_date(day, "full", locale=lang),
                "outside": day.month != month.first.month,
                "today": day == today,
                "entries": entries[day],
                "new_url": new_url(day),
            }
            for day in month.days()
        ]
        names = get_day_names("abbreviated", locale=lang)
        title = format_date(month.first, "LLLL y", locale=lang)
        in_month = any(d["entries"] for d in days if not d["outside"])
        return site.render(
            request,
            "calendar.html",
            site.entity_context(
                path,
                locale,
                month_title=title[:1].upper() + title[1:],
                month=month.first.strftime("%Y-%m"),
                weekdays=[names[(lang.first_week_day + i) % 7] for i in range(7)],
                weeks=[days[i : i + 7] for i in range(0, len(days), 7)],
                previous=f"/{path}/calendar?month={month.previous}",
                following=f"/{path}/calendar?month={month.next}",
                current=f"/{path}/calendar",
                empty=not in_month,
                truncated=(len(records), total) if total > len(records) else None,
                kanban_url=f"/{path}/kanban" if entity["boards"]["kanban"] else None,
            ),
            user=user,
        )

    page = ViewRoute(
        f"/{path}/calendar", calendar_page, entity=path, view="calendar", methods=["GET"]
    )
    return [page]


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    """The kanban board and the calendar of the entity at ``path``: their routes match only
    when the app's ``ui.json`` gives the entity those views."""
    return [*kanban_routes(path, resource), *calendar_routes(path, resource)]


def routes() -> list[BaseRoute]:
    return []
