"""Links between records as the user who follows them may see them.

A link (a reference, one-to-one or many-to-many field) *reaches* a record when the record is
live (not soft-deleted) and within the read rule of the user's roles; a role that may not read
the target entity at all reaches none of its records. A link to a record out of reach keeps its
id but shows no display value (``{"id": 7, "display": ""}`` in the API, ``#7`` without a link
to its page in the UI), and the display value of a target whose display field is hidden from
the user is never shown either.

``condition`` is the read rule rewritten onto the outer join that brings a link's display
value (one statement per page, whatever the rules, and no extra lookup per row); ``check``
refuses a link a request sets to a record out of reach exactly like a link to a record that
does not exist (422, the same message), so ids tell nothing; ``names`` gives the display
texts of the records within reach.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.util import ClauseAdapter

from crmgen_runtime import permissions
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import Resource

# ``session.info`` key of the records ``reachable`` found (see ``remember``).
MEMO = "links.reachable"


def live(resource: Resource, entity: Any = None) -> list[sa.ColumnElement[bool]]:
    """Soft-deleted records are gone: the condition over ``entity`` (the model or an alias)."""
    if not resource.soft_delete:
        return []
    return [(resource.model if entity is None else entity).deleted_at.is_(None)]


def read_rule(target: Resource, user: CurrentUser) -> sa.ColumnElement[bool] | None:
    """The records of ``target`` that ``user`` may read, as SQL over its model; None: all."""
    try:
        return permissions.condition(target, user, "read")
    except ApiError:  # no read permission on the entity: nothing is readable
        return sa.false()


def condition(
    target: Resource, user: CurrentUser | None, alias: Any
) -> sa.ColumnElement[bool] | None:
    """``user``'s read rule on ``target`` as SQL over ``alias`` (an alias of its model: the
    outer join that brings a link's display value); None when every record is readable. The
    rule is rewritten onto the alias, relationship conditions (``EXISTS``) included, so a
    link from an entity to itself (``parent``) reads the rule of the linked record."""
    if user is None:
        return None
    rule = read_rule(target, user)
    if rule is None:
        return None
    return ClauseAdapter(sa.inspect(alias).selectable).traverse(rule)


def shows_display(target: Resource, user: CurrentUser | None, display: str = "") -> bool:
    """Whether ``user`` may see the field of ``target`` a link shows (``display``; by default
    its display field): it may be hidden from a role."""
    return (display or target.display) in permissions.readable(target, user)


def text(record_id: int, value: Any) -> str:
    """The display text of a linked record: its value, or ``#<id>`` when the value is empty."""
    return f"#{record_id}" if value is None or value == "" else str(value)


def reachable(
    session: Any, target: Resource, ids: Iterable[int], user: CurrentUser | None
) -> set[int]:
    """Which of ``ids`` name live records of ``target`` (within ``user``'s read rule, if given).

    A session that opts in (``remember(session)``: an import's transaction, where the same
    records are linked row after row) asks once per record; other sessions ask every time.
    """
    memo: dict[Any, set[int]] | None = session.info.get(MEMO)
    reader = None if user is None else user.id
    known = set() if memo is None else memo.setdefault((target.name, reader), set())
    wanted = sorted(set(ids) - known)
    if not wanted:
        return set(ids) & known
    model = target.model
    stmt = sa.select(model.id).where(model.id.in_(wanted), *live(target))
    rule = None if user is None else read_rule(target, user)
    if rule is not None:
        stmt = stmt.where(rule)
    found = set(session.execute(stmt).scalars())
    known |= found
    return found | (set(ids) & known)


def remember(session: Any) -> None:
    """Let ``reachable`` remember, for the rest of ``session``'s transaction, the records it
    found reachable (for work that links the same records again and again, such as an
    import; a record it found is taken to stay there and readable until the commit)."""
    session.info[MEMO] = {}


def ids_of(resource: Resource, values: Mapping[str, Any]) -> dict[str, set[int]]:
    """The record ids each link field of ``values`` names."""
    found: dict[str, set[int]] = {}
    for name, value in values.items():
        info = resource.fields.get(name)
        if info is not None and info.relation and value is not None:
            found[name] = set(value) if info.is_list else {value}
    return found


def check(
    session: Any,
    resource: Resource,
    values: Mapping[str, Any],
    *,
    reader: CurrentUser | None = None,
    asked: Mapping[str, set[int]] | None = None,
    stored: Mapping[str, Any] | None = None,
) -> None:
    """422 naming each link of ``values`` to a record that does not exist, or (when the request
    of ``reader`` set it: ``asked``) that ``reader`` may not read, with the same message. A link
    the record holds already (``stored``) is not checked again; of a list, only the records it
    adds are. Links set by defaults and processes (spec logic) need only exist."""
    problems: dict[str, str] = {}
    for name, ids in ids_of(resource, values).items():
        info = resource.fields[name]
        kept = (stored or {}).get(name)
        new = ids - (set(kept or ()) if info.is_list else {kept})
        if not new:
            continue
        target = resource.target(info)
        checked = new & (asked or {}).get(name, set()) if reader is not None else set()
        found = reachable(session, target, checked, reader)
        found |= reachable(session, target, new - checked, None)
        missing = [str(i) for i in sorted(new) if i not in found]
        if missing:
            problems[name] = f"No {target.label} with id {', '.join(missing)}."
    if problems:
        raise ApiError(422, "validation_error", "Some linked records do not exist.", problems)


def names(
    connection: Any, target: Resource, user: CurrentUser, ids: Iterable[int], display: str = ""
) -> dict[int, str]:
    """The display texts (field ``display``, by default the display field) of the records
    ``ids`` of ``target`` within ``user``'s reach: ``#<id>`` when the value is empty, ``""``
    when the field is hidden from them; records out of reach are left out."""
    wanted = sorted({i for i in ids if isinstance(i, int) and not isinstance(i, bool) and i > 0})
    if not wanted:
        return {}
    model = target.model
    visible = shows_display(target, user, display)
    shown = target.attribute(display or target.display) if visible else sa.null()
    stmt = sa.select(model.id, shown).where(model.id.in_(wanted), *live(target))
    rule = read_rule(target, user)
    if rule is not None:
        stmt = stmt.where(rule)
    return {row[0]: text(row[0], row[1]) if visible else "" for row in connection.execute(stmt)}
