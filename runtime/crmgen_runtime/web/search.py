"""The phone-first quick search: a phone number or a name to the contact card.

``GET /search?q=`` (the search box in the header). A query of digits and phone punctuation
("+7 (912) 34", "91234") matches phone fields by their digits alone, compared in SQL on both
sides, so any formatting finds any other; any other query (or a number no phone holds)
searches the entities' search fields like their list pages do. Every entity the user may list
with phone or search fields is searched, under the user's record rules and hidden fields, on
the app's ``Site``.
One exact hit (the whole number, or the whole name) opens its card; otherwise the results
show each record with its recent history: the latest records of other entities that link to
it (a contact's interactions, tasks and deals), so a caller is identified in one step.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import crud, permissions, phones
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser, current_user
from crmgen_runtime.resources import Resource
from crmgen_runtime.web.site import Site, allowed, login_redirect, redirect, site_of
from crmgen_runtime.web.totals import total_text

# A query that is a phone number or part of one; it needs this many digits to be one.
PHONE_QUERY = re.compile(r"\+?[0-9 ()\-.]+")
MIN_DIGITS = 3
# A whole number is compared by its last digits, so "8 912 345-67-89" (a national trunk prefix)
# and "+7 912 345 67 89" (the country code) find each other.
NATIONAL_DIGITS = 10
# What a stored phone may hold beside digits (``validation.PHONE``): stripped before comparing.
PHONE_MARKS = ("+", " ", "(", ")", "-", ".")
MAX_QUERY = 200
HITS_PER_ENTITY = 10
HISTORY_OF = 5  # the first hits show their history
HISTORY_ITEMS = "5"
CARD_FIELDS = 6


@dataclass
class Hit:
    """One record found: its card (fields for people) and its recent history."""

    path: str
    id: int
    entity: str
    display: str
    exact: bool
    fields: list[dict[str, Any]]
    history: list[dict[str, Any]] | None = None  # None: not looked up (a later hit)

    @property
    def url(self) -> str:
        return f"/{self.path}/{self.id}"


def phone_digits(query: str) -> str | None:
    """The digits of ``query`` when it looks like (part of) a phone number."""
    if not PHONE_QUERY.fullmatch(query):
        return None
    digits = re.sub(r"\D", "", query)
    return digits if len(digits) >= MIN_DIGITS else None


def digits_of(column: Any) -> Any:
    """SQL for ``column`` with the phone punctuation removed (SQLite and PostgreSQL)."""
    for mark in PHONE_MARKS:
        column = sa.func.replace(column, mark, "")
    return column


def phone_fields(resource: Resource, user: CurrentUser) -> list[str]:
    """The phone fields of ``resource`` that ``user`` may read."""
    names = permissions.readable(resource, user)
    return [n for n, info in resource.fields.items() if info.type == "phone" and n in names]


def searchable(site: Site) -> list[tuple[str, Resource]]:
    """The entities with pages that have phone or search fields."""
    return [
        (path, resource)
        for path, resource in site.pages.items()
        if resource.search or any(i.type == "phone" for i in resource.fields.values())
    ]


def by_phone(
    database: Any, resource: Resource, user: CurrentUser, digits: str, query: str = ""
) -> list[tuple[dict[str, Any], bool]]:
    """Records with a phone containing ``digits``, each with whether a phone is exactly it.

    Phones stored in E.164 (a field with a ``region``, ``crmgen_runtime.phones``) are compared
    with the whole number the query reads as, so the country counts: "8 912 345-67-89" finds
    +79123456789 and "+44 912 345 67 89" does not; a part of a number still matches its digits.
    """
    phones_ = phone_fields(resource, user)
    if not phones_:
        return []
    shape = crud.projection(resource, user)
    numbers = {n: e164(resource, n, query or digits) for n in phones_}
    conditions = []
    for n in phones_:
        column = resource.attribute(n)
        number = numbers[n]
        if number is not None:  # the whole number, and values kept as they were written
            conditions += [column == number, digits_of(column).like(f"%{digits}%")]
        else:
            conditions.append(digits_of(column).like(f"%{significant(digits)}%"))
    stmt = shape.reading(user).where(sa.or_(*conditions), *shape.live)
    rule = permissions.condition(resource, user, "list")
    if rule is not None:
        stmt = stmt.where(rule)
    newest = resource.model.id.desc()
    stmt = stmt.order_by(newest).limit(HITS_PER_ENTITY)
    with database.engine.connect() as connection:
        items = shape.items(connection, connection.execute(stmt).all())
    return [
        (
            item,
            any(
                item.get(n) == numbers[n]
                if numbers[n] is not None
                else same_number(item.get(n), digits)
                for n in phones_
            ),
        )
        for item in items
    ]


def e164(resource: Resource, name: str, query: str) -> str | None:
    """The whole number ``query`` reads as for the E.164 field ``name`` (None: not one, or the
    field keeps phones as written)."""
    region = resource.fields[name].options.get("region")
    return phones.normalise(query, region) if region else None


def significant(digits: str) -> str:
    """The digits a search compares: a whole number's last ``NATIONAL_DIGITS``, else all."""
    return digits[-NATIONAL_DIGITS:] if len(digits) >= NATIONAL_DIGITS else digits


def same_number(stored: str | None, digits: str) -> bool:
    """Whether a stored phone is the number ``digits``, prefixes aside."""
    mine = re.sub(r"\D", "", stored or "")
    if len(digits) >= NATIONAL_DIGITS and len(mine) >= NATIONAL_DIGITS:
        return significant(mine) == significant(digits)
    return mine == digits


def by_text(
    site: Site, database: Any, resource: Resource, user: CurrentUser, query: str, locale: str
) -> list[tuple[dict[str, Any], bool]]:
    """Records whose search fields hold every word of ``query`` (as the list's search box)."""
    if not resource.search:
        return []
    params = [("q", query), ("limit", str(HITS_PER_ENTITY))]
    try:
        items = crud.list_records(database, resource, user, params)["items"]
    except ApiError:  # a query the list refuses finds nothing here
        return []
    wanted = query.casefold()
    return [
        (item, display_of(site, resource.path, item, locale).casefold() == wanted) for item in items
    ]


def display_of(site: Site, path: str, item: dict[str, Any], locale: str) -> str:
    """The record's display field as text, or ``#id``."""
    entity = site.entities[path]
    meta = entity["fields"].get(entity["display"], {})
    return site.cell(meta, item.get(entity["display"]), locale) or f"#{item['id']}"


def card_fields(
    site: Site, path: str, item: dict[str, Any], locale: str, skip: str = ""
) -> list[dict[str, Any]]:
    """The list columns of a record, formatted, without the display field and ``skip``."""
    entity = site.entities[path]
    result = []
    for name in entity["columns"]:
        meta = entity["fields"].get(name)
        if meta is None or name in (entity["display"], skip) or item.get(name) in (None, ""):
            continue
        result.append(
            {
                "label": site.pick(meta["label"], locale),
                "text": site.cell(meta, item[name], locale),
                "phone": meta["type"] == "phone",
                "dial": str(item[name]).replace(" ", ""),  # the tel: link: the stored number
            }
        )
    return result[:CARD_FIELDS]


def history_section(
    site: Site, database: Any, path: str, link: str, record_id: int, user: CurrentUser, locale: str
) -> dict[str, Any] | None:
    """The latest records of entity ``path`` whose field ``link`` points at ``record_id``."""
    resource = site.pages[path]
    latest = "-created_at" if resource.timestamps else "-id"
    params = [(link, str(record_id)), ("sort", latest), ("limit", HISTORY_ITEMS)]
    try:
        page = crud.list_records(database, resource, user, params)
    except ApiError:  # the link field is hidden from this user
        return None
    if not page["items"]:
        return None
    entity = site.entities[path]
    label = site.pick(entity["plural_label"], locale)
    target = resource.fields[link].target
    if sum(info.target == target for info in resource.fields.values()) > 1:
        label += f" · {site.pick(entity['fields'][link]['label'], locale)}"
    items = [
        {
            "url": f"/{path}/{item['id']}",
            "display": display_of(site, path, item, locale),
            "fields": card_fields(site, path, item, locale, skip=link),
        }
        for item in page["items"]
    ]
    total = total_text(site.translator(locale), page["total"], page["total_kind"], locale)
    return {"label": label, "total": page["total"], "total_text": total, "items": items}


def history(
    site: Site, database: Any, hit: Hit, user: CurrentUser, locale: str
) -> list[dict[str, Any]]:
    """The latest records of each entity linking to ``hit`` that the user may list."""
    target = site.pages[hit.path].name
    sections = []
    for path, resource in site.pages.items():
        if not allowed(resource, user, "list"):
            continue
        for name, info in resource.fields.items():
            if info.is_ref and info.target == target:
                section = history_section(site, database, path, name, hit.id, user, locale)
                if section is not None:
                    sections.append(section)
    return sections


Finder = Callable[[Resource], list[tuple[dict[str, Any], bool]]]


def collect(site: Site, user: CurrentUser, find: Finder, locale: str) -> list[Hit]:
    """The hits of ``find`` in every searchable entity ``user`` may list."""
    hits = []
    for path, resource in searchable(site):
        if not allowed(resource, user, "list"):
            continue
        label = site.pick(site.entities[path]["label"], locale)
        for item, exact in find(resource):
            display = display_of(site, path, item, locale)
            fields = card_fields(site, path, item, locale)
            hits.append(Hit(path, item["id"], label, display, exact, fields))
    return hits


def search(site: Site, database: Any, user: CurrentUser, query: str, locale: str) -> list[Hit]:
    """Every record ``query`` finds (phones first, else text); the first ones with history."""
    digits = phone_digits(query)
    hits = []
    if digits:
        hits = collect(site, user, lambda r: by_phone(database, r, user, digits, query), locale)
    if not hits:
        hits = collect(
            site, user, lambda r: by_text(site, database, r, user, query, locale), locale
        )
    for hit in hits[:HISTORY_OF]:
        hit.history = history(site, database, hit, user, locale)
    return hits


async def search_page(request: Request) -> Response:
    """``GET /search?q=``: one exact hit opens its card, else the results with history."""
    site = site_of(request)
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    typed = request.query_params.get("q", "")
    query = " ".join("".join(c for c in typed if c.isprintable()).split())[:MAX_QUERY]
    locale = site.locale_of(request)
    hits = (
        await run_in_threadpool(search, site, request.app.state.db, user, query, locale)
        if query
        else []
    )
    exact = [hit for hit in hits if hit.exact]
    if len(exact) == 1:
        return redirect(request, exact[0].url)
    return site.render(request, "search.html", {"q": query, "hits": hits}, user=user)


def routes() -> list[BaseRoute]:
    return [Route("/search", search_page, methods=["GET"], name="ui_search")]


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    return []
