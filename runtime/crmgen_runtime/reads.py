"""Reading records as the API serves them: one record, one page of a list, or one page of the
records on a back side of a record (``GET /api/companies/5/deals``).

Reads select columns with SQLAlchemy Core and serialise with orjson (no ORM objects). A list
page costs a fixed number of statements whatever its size: the total, the page (its rows
chosen on the record's table, then joined to the display values of their references) and one
per many-to-many field (and the roles and who is invited, for users).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from crmgen_runtime import accounts, backs, counts, links, permissions, textsearch
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError, not_found
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.queries import (
    ListQuery,
    SortKey,
    after,
    encode_cursor,
    order_by,
    parse_list_query,
)
from crmgen_runtime.resources import FieldInfo, Resource
from crmgen_runtime.responses import aware, json_ready

DEFAULT_LIMITS = counts.ListLimits()


def signed_in(user: CurrentUser | None) -> CurrentUser:
    """``user``, or a 401 when nobody is signed in."""
    if user is None:
        raise ApiError(401, "not_authenticated", "Sign in first.")
    return user


class Projection:
    """The columns a user may read of a resource, as one SELECT, and rows -> JSON objects.

    References come with their display value through outer joins that find the linked record
    only when the reader may reach it (``links``): live, and within the reader's read rule
    (``reading`` adds the rule to the join's condition), so a link out of reach keeps its id
    and shows no display value (a record reached whose value is empty shows ``#<id>``);
    ``shown`` names the references whose target's field they show (``display:`` on the
    relation, else the target's display field) the reader may see (the others select no
    display at all).
    """

    def __init__(self, resource: Resource, names: frozenset[str], shown: frozenset[str]) -> None:
        model = resource.model
        columns: list[Any] = []
        readers: list[tuple[str, str, int]] = []  # (name, kind, index)
        # (target, alias, join condition) of each reference whose display is shown
        self.joins: list[tuple[Resource, Any, sa.ColumnElement[bool]]] = []
        self.lists: list[FieldInfo] = []
        self.resource = resource
        self.roles = resource.name == accounts.USER  # users: their role names too
        self.model = model
        for name in resource.system_fields:
            if name in names:
                readers.append((name, "time" if name.endswith("_at") else "plain", len(columns)))
                columns.append(getattr(model, name))
        for info in resource.fields.values():
            if info.name not in names:
                continue
            if info.is_list:
                self.lists.append(info)
            elif info.is_ref:
                readers.append((info.name, "ref", len(columns)))
                columns.append(getattr(model, info.column))
                # the linked record's display value and its id (null when out of reach)
                columns += self._display(info) if info.name in shown else [sa.null(), sa.null()]
            else:
                kind = "time" if info.type == "datetime" else "plain"
                readers.append((info.name, kind, len(columns)))
                columns.append(getattr(model, info.column))
        self.columns = sa.select(*columns)  # without their FROM: ``_joined`` adds the joins
        self.select = self._joined({})
        self.readers = tuple(readers)
        self.id_index = next(i for name, _, i in readers if name == "id")
        # Statements of the common requests, built once: executing the same statement object
        # lets SQLAlchemy reuse its compiled form without re-deriving it per request.
        live = links.live(resource)
        self.one = self.select.where(model.id == sa.bindparam("record_id"), *live)
        self.count = sa.select(sa.func.count()).select_from(model).where(*live)
        self.pages: dict[str, sa.Select[Any]] = {}
        self.live = live

    def _display(self, info: FieldInfo) -> list[Any]:
        """The display column of the record ``info`` links to (the field the link shows) and
        its id, through an outer join."""
        target = self.resource.target(info)
        alias = aliased(target.model, name=f"ref_{info.name}")
        name = self.resource.shown_by(info)
        display = target.fields.get(name)
        joined = alias.id == getattr(self.model, info.column)
        self.joins.append((target, alias, sa.and_(joined, *links.live(target, alias))))
        return [getattr(alias, display.column if display is not None else name), alias.id]

    def _joined(self, rules: Mapping[int, sa.ColumnElement[bool]]) -> sa.Select[Any]:
        """The columns from the record's table and the outer joins, ``rules`` added to theirs."""
        joined: Any = self.model.__table__
        for index, (_, alias, onclause) in enumerate(self.joins):
            rule = rules.get(index)
            condition = onclause if rule is None else sa.and_(onclause, rule)
            joined = sa.outerjoin(joined, alias, condition)
        return self.columns.select_from(joined)

    def reading(self, user: CurrentUser | None) -> sa.Select[Any]:
        """The SELECT as ``user`` reads it: each link's display only within their read rule
        (``self.select`` itself when every linked record is within it)."""
        rules = {
            index: rule
            for index, (target, alias, _) in enumerate(self.joins)
            if (rule := links.condition(target, user, alias)) is not None
        }
        return self._joined(rules) if rules else self.select

    def page(
        self,
        select: sa.Select[Any],
        conditions: list[sa.ColumnElement[bool]],
        keys: list[SortKey],
        offset: int = 0,
        backward: bool = False,
    ) -> sa.Select[Any]:
        """``select`` (this projection's, as ``reading`` gives it) limited to one page in the
        order of ``keys`` (reversed when ``backward``; ``limit`` a bound parameter). The page's
        ids are chosen on the record's own table first, so the links' joins and their read
        rules cost a row shown, not a row matched."""
        order = order_by(keys, backward)
        ids = (
            sa.select(self.model.id)
            .where(*conditions)
            .order_by(*order)
            .limit(sa.bindparam("page_limit"))
            .correlate(None)
        )
        if offset:
            ids = ids.offset(offset)
        ranks = [key.column.label(key.name) for key in keys if key.name == textsearch.RANK]
        return select.add_columns(*ranks).where(self.model.id.in_(ids)).order_by(*order)

    def first_page(self, keys: list[SortKey], sort_text: str) -> sa.Select[Any]:
        """The unfiltered first page in the order ``sort_text`` (``limit`` a bound parameter)."""
        page = self.pages.get(sort_text)
        if page is None:
            page = self.page(self.select, self.live, keys)
            self.pages[sort_text] = page
        return page

    def cursor(self, query: ListQuery, row: Any, backward: bool = False) -> str:
        """The cursor of the page after ``row`` (one of this projection's) in the order of
        ``query``, or before it when ``backward``."""
        index = {name: i for name, _, i in self.readers}
        values = [
            row._mapping[key.name] if key.name == textsearch.RANK else row[index[key.name]]
            for key in query.sort
        ]
        return encode_cursor(query.sort_text, values, backward)

    def items(self, connection: sa.Connection | Any, rows: list[Any]) -> list[dict[str, Any]]:
        """The JSON objects of ``rows`` (this projection's), with their lists and roles (and
        ``invited``, for users)."""
        items = []
        for row in rows:
            item: dict[str, Any] = {}
            for name, kind, index in self.readers:
                value = row[index]
                if kind == "ref":
                    if value is not None:
                        shown, reached = row[index + 1], row[index + 2] is not None
                        display = links.text(value, json_ready(shown)) if reached else ""
                        value = {"id": value, "display": display}
                elif kind == "time" and value is not None:
                    value = aware(value)
                item[name] = value
            items.append(item)
        if self.lists and items:
            self._lists(connection, items)
        if self.roles and items:
            catalog = self.resource.catalog
            ids = [item["id"] for item in items]
            roles = accounts.roles_of(connection, catalog, ids)
            invited = accounts.invited_of(connection, catalog, ids)
            for item in items:
                item[accounts.ROLES_FIELD] = roles.get(item["id"], [])
                item[accounts.INVITED_FIELD] = item["id"] in invited
        return items

    def _lists(self, connection: sa.Connection | Any, items: list[dict[str, Any]]) -> None:
        """The ids each many-to-many field of ``items`` links to (one query per field)."""
        ids = [item["id"] for item in items]
        for info in self.lists:
            assert info.join is not None
            own, target = info.join.c[info.join_own], info.join.c[info.join_target]
            linked: dict[int, list[int]] = {}
            for owner_id, target_id in connection.execute(
                sa.select(own, target).where(own.in_(ids)).order_by(own, target)
            ):
                linked.setdefault(owner_id, []).append(target_id)
            for item in items:
                item[info.name] = linked.get(item["id"], [])


# Projections by (id of the resource, readable names, shown displays). Keyed by the resource
# object, not its name: two apps in one process may both have an entity of a name. The
# projection holds its resource, so the id is never reused while the entry lives.
_SHAPES: dict[tuple[int, frozenset[str], frozenset[str]], Projection] = {}


def projection(resource: Resource, user: CurrentUser | None) -> Projection:
    """The (cached) projection of what ``user`` may read of ``resource``."""
    names = permissions.readable(resource, user)
    shown = frozenset(
        info.name
        for info in resource.fields.values()
        if info.is_ref
        and info.name in names
        and links.shows_display(resource.target(info), user, info.display)
    )
    key = (id(resource), names, shown)
    shape = _SHAPES.get(key)
    if shape is None:
        shape = _SHAPES.setdefault(key, Projection(resource, names, shown))
    return shape


def fetch_one(
    connection: sa.Connection | Any,
    resource: Resource,
    user: CurrentUser | None,
    record_id: int,
    action: str | None = "read",
) -> dict[str, Any] | None:
    """The record as JSON, or None when it does not exist (or the rule of ``action`` hides it)."""
    shape = projection(resource, user)
    select = shape.reading(user)
    stmt = shape.one
    if select is not shape.select:
        stmt = select.where(shape.model.id == sa.bindparam("record_id"), *shape.live)
    if action is not None:
        rule = permissions.condition(resource, signed_in(user), action)
        stmt = stmt if rule is None else stmt.where(rule)
    row = connection.execute(stmt, {"record_id": record_id}).first()
    if row is None:
        return None
    return shape.items(connection, [row])[0]


@dataclass
class ListPlan:
    """What one list request sends: its parsed query, the page's SELECT (``page_limit`` a
    bound parameter), the conditions its total counts over and the count prepared with it."""

    query: ListQuery
    shape: Projection
    page: sa.Select[Any]
    conditions: list[sa.ColumnElement[bool]]
    exact: sa.Select[Any] | None


def plan_list(
    resource: Resource,
    user: CurrentUser | None,
    params: list[tuple[str, str]],
    *,
    linkable: bool = False,
    within: Sequence[sa.ColumnElement[bool]] = (),
    limits: counts.ListLimits = DEFAULT_LIMITS,
) -> ListPlan:
    """The queries of one page of ``list_records`` (same arguments), not yet run."""
    rule = permissions.condition(resource, signed_in(user), "list")
    names = permissions.readable(resource, user)
    related, params = backs.filters(resource, signed_in(user), params)
    query = parse_list_query(resource, names, params, limits.max_offset)
    restrictions = [*within, *related, *query.conditions]
    if rule is not None:
        restrictions.append(rule)
    if linkable and (readable := links.read_rule(resource, signed_in(user))) is not None:
        restrictions.append(readable)
    conditions = [*restrictions, *links.live(resource)]
    shape = projection(resource, user)
    select = shape.reading(user)
    backward = query.backward
    exact: sa.Select[Any] | None = None
    if restrictions or select is not shape.select or query.cursor is not None or query.offset:
        beyond = [] if query.cursor is None else [after(query.sort, query.cursor, backward)]
        page = shape.page(select, [*conditions, *beyond], query.sort, query.offset, backward)
    else:  # the plain first page, the most common request: prepared statements
        page, exact = shape.first_page(query.sort, query.sort_text), shape.count
    return ListPlan(query, shape, page, conditions, exact)


def list_records(
    database: Database,
    resource: Resource,
    user: CurrentUser | None,
    params: list[tuple[str, str]],
    *,
    count: bool = True,
    linkable: bool = False,
    within: Sequence[sa.ColumnElement[bool]] = (),
    limits: counts.ListLimits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """One page of records: ``{"items", "next_cursor", "prev_cursor", "total", "total_kind"}``
    (``total`` as ``count=`` asks, see ``counts``; none without ``count``: a caller walking
    every page, such as an export, counts once). ``linkable`` keeps only the records the user
    may also read: those a link may name (pickers); ``within`` are conditions of the caller's
    (the records on a back side of a record); ``limits`` the app's list settings."""
    planned = plan_list(resource, user, params, linkable=linkable, within=within, limits=limits)
    with database.engine.connect() as connection:
        return read_page(connection, planned, count=count, limits=limits)


def read_page(
    connection: sa.Connection,
    planned: ListPlan,
    *,
    count: bool = True,
    limits: counts.ListLimits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """The page ``planned`` (``plan_list``) read on ``connection``, as ``list_records`` answers."""
    query, shape, page, exact = planned.query, planned.shape, planned.page, planned.exact
    conditions, backward = planned.conditions, planned.query.backward
    model = shape.resource.model
    kind = query.count if count else "none"
    rows = list(connection.execute(page, {"page_limit": query.limit + 1}).all())
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    whole = not more and not backward and query.cursor is None and query.offset == 0
    if whole and kind != "none":  # the first page holds every record: they are the total
        total = counts.Total(len(rows), "exact")
    else:
        total = counts.total(connection, model, conditions, kind, limits, exact)
    if backward:
        rows.reverse()
    items = shape.items(connection, rows)
    # forward, a page has one before it when it starts past the first row; backward, one
    # after it (the row its cursor names)
    earlier = more if backward else query.cursor is not None or query.offset > 0
    later = query.cursor is not None if backward else more
    return {
        "items": items,
        "next_cursor": shape.cursor(query, rows[-1]) if later and rows else None,
        "prev_cursor": shape.cursor(query, rows[0], backward=True) if earlier and rows else None,
        **total.fields(),
    }


def list_related(
    database: Database,
    back: backs.Back,
    user: CurrentUser | None,
    record_id: int,
    params: list[tuple[str, str]],
    limits: counts.ListLimits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """One page of the records on the back side ``back`` of record ``record_id`` of
    ``back.owner`` (``GET /api/companies/5/deals``), as the list of ``back.source`` gives it
    (the same parameters, answer and list rule). The record must be one ``user`` may read:
    403 or 404 exactly as ``GET`` of it; a role that may not see the relation on
    ``back.source`` (a hidden field) gets 403."""
    reader = signed_in(user)
    owner, source = back.owner, back.source
    permissions.require(owner, reader, "read")
    with database.engine.connect() as connection:
        if not links.reachable(connection, owner, [record_id], reader):
            raise not_found(owner.label)
    permissions.require(source, reader, "list")
    if back.field.name not in permissions.readable(source, reader):
        message = f"Your role may not see the {back.field.name} of {source.label} records."
        raise ApiError(403, "forbidden", message)
    within = [back.linked_to(record_id)]
    return list_records(database, source, reader, params, within=within, limits=limits)
