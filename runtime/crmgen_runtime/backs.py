"""The back sides of relations: each relation named on the entity it points at.

A relation (``ref``, one-to-one or ``refs``) held by one entity has a name on its target too,
its ``back`` (``Deal.company`` is ``deals`` on Company). ``backs(resource)`` gives the back
sides a resource has; ``Back.linked_to`` selects the records on one back side of one record
(``GET /api/companies/5/deals``, served by ``reads.list_related``); ``filters`` turns the list
filters over back sides into ``EXISTS`` conditions:

- ``deals__stage=won``, ``deals__amount__gte=1000``, ``deals__stage__in=a,b``: having a
  related record whose field passes the filter (every operator of the related field); the
  filters on one back side in one query must all hold for the same related record;
- ``deals=7``, ``deals__in=7,8``: having that related record (one of them);
- ``deals__isnull=true``: having none (``false``: having some).

A filter sees only what the reader may list: the related entity's list rule and live records
are part of the subquery, and the relation and the filtered field must be readable by the
reader, so a filter never tells of records the reader could not list. Each is a correlated
``EXISTS`` on the related table (its key column indexed), so no row is repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlalchemy.sql.util import ClauseAdapter

from crmgen_runtime import links, permissions, validation
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.queries import LIST_PARAMETERS, bad_query, filter_condition
from crmgen_runtime.resources import FieldInfo, Resource

Condition = sa.ColumnElement[bool]
# What follows a back name to filter on the related records themselves (not on a field).
OWN_FILTERS = {"": "id", "eq": "id", "in": "id__in"}


@dataclass(frozen=True)
class Back:
    """The back side ``name`` of the relation ``field`` of ``source`` on ``owner`` (its
    target): the records of ``source`` that link to a record of ``owner``."""

    name: str
    owner: Resource
    source: Resource
    field: FieldInfo

    @property
    def kind(self) -> str:
        """many_to_one, one_to_one or many_to_many: the relation's kind."""
        return self.field.relation

    def _join(self) -> tuple[Any, Any]:
        """The join table's columns of a many-to-many relation: (source's id, owner's id)."""
        join = self.field.join
        assert join is not None
        return join.c[self.field.join_own], join.c[self.field.join_target]

    def linked_to(self, record_id: int) -> Condition:
        """The records of ``source`` on this side of record ``record_id`` of ``owner``."""
        if self.field.is_list:
            own, target = self._join()
            listed: Condition = self.source.model.id.in_(sa.select(own).where(target == record_id))
            return listed
        linked: Condition = self.source.attribute(self.field.name) == record_id
        return linked

    def exists(self, conditions: list[Condition]) -> Condition:
        """Whether a record of ``source`` on this side of the ``owner`` record of the enclosing
        query passes ``conditions`` (over ``source``'s model), as a correlated EXISTS. The
        conditions are moved onto an alias, so a relation of an entity to itself works."""
        alias = aliased(self.source.model)
        adapter = ClauseAdapter(sa.inspect(alias).selectable)
        moved = [adapter.traverse(condition) for condition in conditions]
        owner_id = self.owner.model.id
        if self.field.is_list:
            own, target = self._join()
            found = sa.select(sa.literal(1)).select_from(alias).join(own.table, own == alias.id)
            found = found.where(target == owner_id, *moved)
        else:
            link = getattr(alias, self.field.column)
            found = sa.select(sa.literal(1)).select_from(alias).where(link == owner_id, *moved)
        return found.correlate(self.owner.model).exists()


# Back sides by the id of the resource they are on (the resource kept alive in the entry, as
# ``reads`` keeps its projections).
_BACKS: dict[int, tuple[Resource, dict[str, Back]]] = {}


def backs(resource: Resource) -> dict[str, Back]:
    """The back sides ``resource`` has, by name (relations of its catalog's entities that point
    at it and are named on it)."""
    found = _BACKS.get(id(resource))
    if found is None:
        try:
            sources = list(resource.catalog.by_name.values())
        except LookupError:  # a resource in no catalog: an endpoint's input
            sources = []
        sides = {
            info.back: Back(info.back, resource, source, info)
            for source in sources
            for info in source.fields.values()
            if info.relation and info.back and info.target == resource.name
        }
        found = _BACKS.setdefault(id(resource), (resource, sides))
    return found[1]


def filters(
    resource: Resource, user: CurrentUser, params: list[tuple[str, str]]
) -> tuple[list[Condition], list[tuple[str, str]]]:
    """The conditions of the filters of ``params`` over back sides of ``resource``, as ``user``
    may use them, and the other parameters (for ``queries.parse_list_query``); 400 naming a
    bad one."""
    sides = backs(resource)
    if not sides:
        return [], params
    others: list[tuple[str, str]] = []
    grouped: dict[str, list[tuple[str, str, str]]] = {}  # back -> (parameter, filter, value)
    for key, raw in params:
        name, _, rest = key.partition("__")
        if name not in sides or key in LIST_PARAMETERS or name in resource.fields:
            others.append((key, raw))
        else:
            grouped.setdefault(name, []).append((key, OWN_FILTERS.get(rest, rest), raw))
    conditions: list[Condition] = []
    for name, given in grouped.items():
        back = sides[name]
        limits = _limits(back, user, given[0][0])
        names = permissions.readable(back.source, user)
        matched: list[Condition] = []
        for key, wanted, raw in given:
            if wanted == "isnull":
                conditions.append(_presence(back, limits, key, raw))
            else:
                matched.append(_condition(back, names, key, wanted, raw))
        if matched:
            conditions.append(back.exists([*limits, *matched]))
    return conditions, others


def _limits(back: Back, user: CurrentUser, key: str) -> list[Condition]:
    """What a filter over ``back`` may see of its records: the live ones within ``user``'s list
    rule; 400 naming ``key`` when the role may not list them, or not see the relation."""
    source = back.source
    try:
        rule = permissions.condition(source, user, "list")
    except ApiError:
        raise bad_query(key, f"Your role may not list {source.label} records.") from None
    if back.field.name not in permissions.readable(source, user):
        raise bad_query(key, f"Unknown parameter or field {back.name!r}.")
    return [*links.live(source), *([] if rule is None else [rule])]


def _presence(back: Back, limits: list[Condition], key: str, raw: str) -> Condition:
    """``back__isnull``: having no related record (true) or some (false)."""
    try:
        empty = validation.parse_query_value("boolean", None, raw)
    except validation.Invalid as exc:
        raise bad_query(key, str(exc)) from None
    some = back.exists(limits)
    return sa.not_(some) if empty else some


def _condition(back: Back, names: frozenset[str], key: str, wanted: str, raw: str) -> Condition:
    """The filter ``wanted`` (``field`` or ``field__op``) over ``back``'s records, as the
    related entity's own list takes it; its errors name the whole parameter ``key``."""
    try:
        return filter_condition(back.source, names, wanted, raw)
    except ApiError as exc:
        raise bad_query(key, exc.fields.get(wanted, exc.message)) from None
