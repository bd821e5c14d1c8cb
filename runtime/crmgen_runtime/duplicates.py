"""Likely duplicates: finding them on create, listing the pairs, merging two records.

An entity's rules (``Resource.duplicates``, from the spec's ``duplicates:``) say when two
records are likely the same:

- ``email``: one field, compared trimmed and lower-cased (``Anna@X.org `` = ``anna@x.org``);
- ``phone``: one field, compared in E.164 (``phones.normalise`` in the app's region; a phone
  field of an app with a region stores E.164 already);
- ``fuzzy``: one or more text fields joined by spaces and lower-cased, similar at least
  ``threshold`` (0..1). On PostgreSQL with pg_trgm that is trigram ``similarity()``, served by
  a GIN trigram index of the same expression (``index_sql``) through the ``%`` operator. On
  SQLite (or a PostgreSQL whose role could not create pg_trgm) the candidates are the records
  sharing a *blocking key* (the first 3 letters of a word) and the score is rapidfuzz's
  ``token_sort_ratio`` / 100: the two scales differ a little, so a threshold tuned on one
  database may find a few more or fewer pairs on the other.

``check_create`` refuses a request's create that matches (409 ``possible_duplicate``: the
candidates the user may read, with a count of the others) unless the client confirms; ``pairs``
lists the pairs of likely duplicates (bounded: no comparison of every record with every other);
``merge`` folds one record into another (``crmgen_runtime.merging``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rapidfuzz import fuzz, process
from sqlalchemy.orm import Session

from crmgen_runtime import links, permissions, phones
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import Resource

KINDS = ("email", "phone", "fuzzy")
CANDIDATES = 10  # candidates a 409 names at most (per rule)
BLOCK = 500  # records a fuzzy create check reads (sharing a blocking key) without pg_trgm
PAIR_BLOCK = 100  # records of one blocking key the pairs compare (the newest)
PAIRS = 200  # pairs listed at most
PROBES = 500  # the newest records whose likely duplicates the pairs look up (pg_trgm)
NEIGHBOURS = 5  # likely duplicates looked up per record
SCAN = 20_000  # records the pairs of a fuzzy rule read without pg_trgm (the newest)
GROUP = 10  # records of one equal e-mail or phone paired at most
MIN_TEXT = 3  # a fuzzy text shorter than this matches nothing
EXTENSION_HINT = (
    "pg_trgm is not installed and this database role may not create it: fuzzy duplicate "
    "rules fall back to a slower comparison. Ask an administrator to run "
    "CREATE EXTENSION pg_trgm; in this database, then run migrate again."
)
_WORD = re.compile(r"\w+")
log = logging.getLogger(__name__)
# per engine: the schema pg_trgm lives in ("" when absent); its function and operator are
# named with it, so any search_path works
_trgm: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Rule:
    """One rule of an entity's ``duplicates:`` (``kind`` one of ``KINDS``)."""

    kind: str
    fields: tuple[str, ...]
    threshold: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown duplicate rule {self.kind!r}: one of {', '.join(KINDS)}")
        if not self.fields:
            raise ValueError("a duplicate rule compares at least one field")

    @property
    def name(self) -> str:
        """How answers name the rule: ``email``, ``phone``, ``fuzzy:first_name+last_name``."""
        return f"{self.kind}:{'+'.join(self.fields)}"


@dataclass(frozen=True)
class Match:
    """Record ``id`` matched by ``rule`` with ``score`` (1.0 for equal values)."""

    id: int
    rule: str
    score: float


@dataclass(frozen=True)
class Pair:
    """Records ``a`` < ``b`` matched by ``rules`` (the best ``score``)."""

    a: int
    b: int
    rules: tuple[str, ...]
    score: float


# --- expressions ---------------------------------------------------------------------------


def _column(resource: Resource, name: str, entity: Any = None) -> Any:
    return getattr(entity if entity is not None else resource.model, resource.fields[name].column)


def expression(resource: Resource, rule: Rule, entity: Any = None) -> sa.ColumnElement[Any]:
    """The SQL value ``rule`` compares (over ``entity``, an alias, or the model)."""
    if rule.kind == "email":
        return sa.func.lower(sa.func.trim(_column(resource, rule.fields[0], entity)))
    if rule.kind == "phone":
        return _column(resource, rule.fields[0], entity)  # type: ignore[no-any-return]
    # the very expression of the trigram index (``index_sql``): constants, not parameters
    parts = [
        sa.func.coalesce(_column(resource, name, entity), sa.literal_column("''"))
        for name in rule.fields
    ]
    joined: sa.ColumnElement[Any] = parts[0]
    for part in parts[1:]:
        joined = joined.op("||")(sa.literal_column("' '")).op("||")(part)
    return sa.func.lower(joined)


def index_name(table: str, columns: Iterable[str]) -> str:
    """The name of a fuzzy rule's trigram index (``_trgm``: Alembic leaves it alone)."""
    digest = hashlib.sha256(",".join(columns).encode()).hexdigest()[:8]
    return f"ix_{table[:40]}_dup_{digest}_trgm"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def index_sql(table: str, columns: list[str], schema: str) -> str:
    """PostgreSQL: the GIN trigram index of a fuzzy rule over ``columns`` of ``table``."""
    parts = " || ' ' || ".join(f"coalesce({_quote(c)}, '')" for c in columns)
    return (
        f"CREATE INDEX IF NOT EXISTS {_quote(index_name(table, columns))} ON {_quote(table)} "
        f"USING gin ((lower({parts})) {_quote(schema)}.gin_trgm_ops)"
    )


def ensure_indexes(connection: sa.Connection, fuzzy: Mapping[str, list[list[str]]]) -> str | None:
    """PostgreSQL: create pg_trgm when missing and allowed, and the fuzzy rules' indexes
    (``fuzzy``: table -> the column lists of its rules). Returns ``EXTENSION_HINT`` when
    pg_trgm is missing and could not be created (the rules then compare the slower way)."""
    if connection.dialect.name != "postgresql" or not fuzzy:
        return None
    schema = _trgm_schema(connection)
    if schema is None:
        try:
            with connection.begin_nested():
                connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        except sa.exc.DBAPIError:
            schema = None
        else:
            schema = _trgm_schema(connection)
        if schema is None:
            log.warning(EXTENSION_HINT)
            return EXTENSION_HINT
    for table, rules in fuzzy.items():
        for columns in rules:
            connection.execute(sa.text(index_sql(table, columns, schema)))
    _trgm[connection.engine] = schema
    return None


def after_create(table: str, rules: list[list[str]]) -> Any:
    """A listener of the table's ``after_create``: its fuzzy rules' indexes (PostgreSQL)."""

    def create(target: Any, connection: sa.Connection, **kw: Any) -> None:
        ensure_indexes(connection, {table: rules})

    return create


def _trgm_schema(connection: sa.Connection) -> str | None:
    found: str | None = connection.execute(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
            "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
        )
    ).scalar()
    return found


def trigrams(session: Session) -> str:
    """The schema of pg_trgm when the session's database compares fuzzy rules with it, else
    "" (SQLite, or PostgreSQL without the extension)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return ""
    engine = getattr(bind, "engine", bind)
    known = _trgm.get(engine)
    if known is None:
        known = _trgm[engine] = _trgm_schema(session.connection()) or ""
    return known


def _similarity(schema: str, a: Any, b: Any) -> sa.ColumnElement[float]:
    function: sa.ColumnElement[float] = getattr(sa.func, schema).similarity(a, b)
    return function


def _similar(schema: str, a: Any, b: Any) -> sa.ColumnElement[bool]:
    """``a % b`` with pg_trgm's operator (its threshold: ``_threshold``)."""
    return a.op(f"OPERATOR({_quote(schema)}.%)", is_comparison=True)(b)  # type: ignore[no-any-return]


# --- values --------------------------------------------------------------------------------


def key_of(resource: Resource, rule: Rule, values: Mapping[str, Any]) -> str | None:
    """What ``rule`` compares of a record's ``values`` (None: nothing to compare)."""
    if rule.kind == "fuzzy":
        text = " ".join(str(values.get(n) or "") for n in rule.fields).strip().lower()
        return text if len(text) >= MIN_TEXT else None
    value = values.get(rule.fields[0])
    if not isinstance(value, str) or not value.strip():
        return None
    if rule.kind == "email":
        return value.strip().lower()
    region = str(resource.fields[rule.fields[0]].options.get("region") or "")
    return phones.normalise(value, region) or value.strip()


def score(a: str, b: str) -> float:
    """The similarity of two fuzzy texts without pg_trgm (0..1)."""
    return float(fuzz.token_sort_ratio(a, b)) / 100


def blocks(text: str) -> set[str]:
    """The blocking keys of a fuzzy text: the first 3 letters of each word of 2 or more."""
    return {word[:3] for word in _WORD.findall(text.lower()) if len(word) >= 2}


def _like(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"% {escaped}%"


# --- finding -------------------------------------------------------------------------------


def matches(
    session: Session,
    resource: Resource,
    values: Mapping[str, Any],
    exclude: int | None = None,
) -> list[Match]:
    """The live records that ``values`` (a record about to be written) likely duplicates,
    best first, one per record (its best rule)."""
    model = resource.model
    found: dict[int, Match] = {}
    for rule in resource.duplicates:
        key = key_of(resource, rule, values)
        if key is None:
            continue
        expr = expression(resource, rule)
        where = [*links.live(resource)]
        if exclude is not None:
            where.append(model.id != exclude)
        hits: list[tuple[int, float]]
        if rule.kind == "phone":
            raw = str(values.get(rule.fields[0]) or "").strip()
            stmt = sa.select(model.id).where(expr.in_({key, raw}), *where).limit(CANDIDATES)
            hits = [(i, 1.0) for i in session.execute(stmt).scalars()]
        elif rule.kind == "email":
            stmt = sa.select(model.id).where(expr == key, *where).limit(CANDIDATES)
            hits = [(i, 1.0) for i in session.execute(stmt).scalars()]
        elif schema := trigrams(session):
            hits = _trigram_hits(session, schema, model, expr, key, rule.threshold, where)
        else:
            hits = _fuzzy_hits(session, model, expr, key, rule.threshold, where)
        for record_id, value in hits:
            best = found.get(record_id)
            if best is None or value > best.score:
                found[record_id] = Match(record_id, rule.name, round(value, 3))
    return sorted(found.values(), key=lambda m: (-m.score, m.id))


def _threshold(session: Session, threshold: float) -> None:
    session.execute(
        sa.text("SELECT set_config('pg_trgm.similarity_threshold', :t, true)"),
        {"t": str(threshold)},
    )


def _trigram_hits(
    session: Session,
    schema: str,
    model: Any,
    expr: Any,
    key: str,
    threshold: float,
    where: list[Any],
) -> list[tuple[int, float]]:
    _threshold(session, threshold)
    text = sa.cast(sa.literal(key), sa.Text)
    similarity = _similarity(schema, expr, text)
    stmt = (
        sa.select(model.id, similarity)
        .where(_similar(schema, expr, text), *where)
        .order_by(similarity.desc(), model.id)
        .limit(CANDIDATES)
    )
    return [(int(i), float(s)) for i, s in session.execute(stmt) if s >= threshold]


def _cases(prefix: str) -> set[str]:
    """``prefix`` as a word may begin: SQLite's lower() and LIKE fold ASCII letters only, so a
    Cyrillic name is looked for as written (Иванов), lower-cased and upper-cased."""
    return {prefix, prefix.capitalize(), prefix.upper()}


def _fuzzy_hits(
    session: Session, model: Any, expr: Any, key: str, threshold: float, where: list[Any]
) -> list[tuple[int, float]]:
    prefixes = sorted({case for p in blocks(key) for case in _cases(p)})
    if not prefixes:
        return []
    spaced = sa.literal_column("' '").op("||")(expr)
    near = sa.or_(*(spaced.like(_like(p), escape="\\") for p in prefixes))
    stmt = sa.select(model.id, expr).where(near, *where).order_by(model.id.desc()).limit(BLOCK)
    hits = [(int(i), score(key, (text or "").lower())) for i, text in session.execute(stmt)]
    hits = [h for h in hits if h[1] >= threshold]
    return sorted(hits, key=lambda h: (-h[1], h[0]))[:CANDIDATES]


def pairs(session: Session, resource: Resource, limit: int = PAIRS) -> list[Pair]:
    """The pairs of likely duplicates among the live records, best first (at most ``limit``;
    the work is bounded: equal values are grouped by the database, fuzzy texts compared
    through the trigram index or within blocking keys)."""
    found: dict[tuple[int, int], Pair] = {}
    for rule in resource.duplicates:
        if rule.kind == "fuzzy":
            schema = trigrams(session)
            scored = (
                _trigram_pairs(session, schema, resource, rule, limit)
                if schema
                else _fuzzy_pairs(session, resource, rule, limit)
            )
        else:
            scored = _equal_pairs(session, resource, rule, limit)
        for a, b, value in scored:
            old = found.get((a, b))
            rules = (*old.rules, rule.name) if old is not None else (rule.name,)
            best = max(value, old.score if old is not None else 0.0)
            found[(a, b)] = Pair(a, b, rules, round(best, 3))
    return sorted(found.values(), key=lambda p: (-p.score, p.a, p.b))[:limit]


def _equal_pairs(
    session: Session, resource: Resource, rule: Rule, limit: int
) -> list[tuple[int, int, float]]:
    model = resource.model
    expr = expression(resource, rule)
    live = links.live(resource)
    groups = (
        sa.select(expr.label("k"))
        .where(expr.is_not(None), expr != "", *live)
        .group_by(expr)
        .having(sa.func.count() > 1)
        .limit(limit)
    )
    keys = list(session.execute(groups).scalars())
    result: list[tuple[int, int, float]] = []
    for key in keys:
        ids = list(
            session.execute(
                sa.select(model.id).where(expr == key, *live).order_by(model.id).limit(GROUP)
            ).scalars()
        )
        result.extend((ids[0], other, 1.0) for other in ids[1:])
    return result


def _trigram_pairs(
    session: Session, schema: str, resource: Resource, rule: Rule, limit: int
) -> list[tuple[int, int, float]]:
    """The newest ``PROBES`` records each look up their likely duplicates among the older ones
    through the trigram index (``NEIGHBOURS`` at most each): bounded, whatever the table's size."""
    model = resource.model
    one = sa.orm.aliased(model)
    probes = (
        sa.select(model.id.label("id"), expression(resource, rule).label("text"))
        .where(sa.func.length(expression(resource, rule)) >= MIN_TEXT, *links.live(resource))
        .order_by(model.id.desc())
        .limit(PROBES)
        .subquery("probe")
    )
    right = expression(resource, rule, one)
    similarity = _similarity(schema, right, probes.c.text)
    near = (
        sa.select(one.id.label("other"), similarity.label("score"))
        .where(one.id < probes.c.id, _similar(schema, right, probes.c.text))
        .where(*links.live(resource, one))
        .order_by(similarity.desc(), one.id)
        .limit(NEIGHBOURS)
        .lateral("near")
    )
    _threshold(session, rule.threshold)
    stmt = sa.select(probes.c.id, near.c.other, near.c.score).select_from(
        probes.join(near, sa.true())
    )
    found = [(int(b), int(a), float(v)) for a, b, v in session.execute(stmt)]
    return sorted(found, key=lambda r: (-r[2], r[0], r[1]))[:limit]


def _fuzzy_pairs(
    session: Session, resource: Resource, rule: Rule, limit: int
) -> list[tuple[int, int, float]]:
    model = resource.model
    expr = expression(resource, rule)
    stmt = sa.select(model.id, expr).where(*links.live(resource))
    rows = session.execute(stmt.order_by(model.id.desc()).limit(SCAN)).all()
    by_block: dict[str, list[tuple[int, str]]] = {}
    for record_id, raw in rows:
        text = (raw or "").strip().lower()
        if len(text) >= MIN_TEXT:
            for block in blocks(text):
                members = by_block.setdefault(block, [])
                if len(members) < PAIR_BLOCK:  # a common prefix compares its newest records
                    members.append((int(record_id), text))
    cutoff = rule.threshold * 100
    seen: dict[tuple[int, int], float] = {}
    for members in by_block.values():
        texts = [text for _, text in members]
        for i, (a, text) in enumerate(members[:-1]):
            found = process.extract(
                text,
                texts[i + 1 :],
                scorer=fuzz.token_sort_ratio,
                score_cutoff=cutoff,
                limit=None,
            )
            for _, value, j in found:
                b = members[i + 1 + j][0]
                seen[(min(a, b), max(a, b))] = float(value) / 100
    result = [(a, b, v) for (a, b), v in seen.items()]
    return sorted(result, key=lambda r: (-r[2], r[0], r[1]))[:limit]


# --- answers -------------------------------------------------------------------------------


def readable(
    session: Session, resource: Resource, user: CurrentUser | None, ids: Iterable[int]
) -> set[int]:
    """The records of ``ids`` that ``user`` may read."""
    wanted = sorted(set(ids))
    if not wanted or user is None:
        return set()
    try:
        rule = permissions.condition(resource, user, "read")
    except ApiError:
        return set()
    model = resource.model
    stmt = sa.select(model.id).where(model.id.in_(wanted))
    if rule is not None:
        stmt = stmt.where(rule)
    return {int(i) for i in session.execute(stmt).scalars()}


def labels(session: Session, resource: Resource, ids: Iterable[int]) -> dict[int, str]:
    """The display text of each record of ``ids`` (``#id`` when it has none)."""
    wanted = sorted(set(ids))
    model = resource.model
    info = resource.fields.get(resource.display)
    if not wanted or info is None or info.is_list:
        return {i: f"#{i}" for i in wanted}
    column = getattr(model, info.column)
    rows = session.execute(sa.select(model.id, column).where(model.id.in_(wanted)))
    found = {int(i): str(v) for i, v in rows if v not in (None, "")}
    return {i: found.get(i, f"#{i}") for i in wanted}


def described(
    session: Session, resource: Resource, user: CurrentUser | None, found: list[Match]
) -> tuple[list[dict[str, Any]], int]:
    """The candidates ``user`` may read (id, label, link, rule, score) and the number of the
    others."""
    visible = readable(session, resource, user, (m.id for m in found))
    names = labels(session, resource, visible)
    shown = [
        {
            "id": m.id,
            "label": names[m.id],
            "link": f"/{resource.path}/{m.id}",
            "api": f"/api/{resource.path}/{m.id}",
            "rule": m.rule,
            "score": m.score,
        }
        for m in found
        if m.id in visible
    ]
    return shown, len(found) - len(shown)


def check_create(
    session: Session, resource: Resource, user: CurrentUser | None, values: Mapping[str, Any]
) -> None:
    """409 ``possible_duplicate`` when ``values`` (a record a request creates) likely
    duplicates live records: the error names the candidates ``user`` may read and counts the
    others (``candidates``, ``others``)."""
    if not resource.duplicates:
        return
    found = matches(session, resource, values)
    if not found:
        return
    shown, others = described(session, resource, user, found)
    raise ApiError(
        409,
        "possible_duplicate",
        f"The record may already exist: {len(found)} similar record"
        f"{' exists' if len(found) == 1 else 's exist'}. Send it again with "
        "?confirm_duplicate=true to create it anyway.",
        extra={"candidates": shown, "others": others},
    )


def confirmed(query: Mapping[str, str]) -> bool:
    """Whether a request confirms creating a likely duplicate (``?confirm_duplicate=true``)."""
    return query.get("confirm_duplicate", "").lower() in ("1", "true", "yes", "on")


def readable_pairs(
    session: Session, resource: Resource, user: CurrentUser | None, limit: int = PAIRS
) -> list[dict[str, Any]]:
    """``pairs`` whose both records ``user`` may read, as the API lists them."""
    found = pairs(session, resource, limit)
    visible = readable(session, resource, user, (i for p in found for i in (p.a, p.b)))
    kept = [p for p in found if p.a in visible and p.b in visible]
    names = labels(session, resource, (i for p in kept for i in (p.a, p.b)))
    return [
        {
            "a": {"id": p.a, "label": names[p.a], "link": f"/{resource.path}/{p.a}"},
            "b": {"id": p.b, "label": names[p.b], "link": f"/{resource.path}/{p.b}"},
            "rules": list(p.rules),
            "score": p.score,
            "merge": f"/{resource.path}/{p.a}/merge?other={p.b}",
        }
        for p in kept
    ]
