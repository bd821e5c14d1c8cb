"""Demo data that looks real: records of every entity and a demo user per role (``seed``).

The values are the app's locale's (``demo_values``: names, companies, phones, amounts for the
currency, dates around "today"). ``seed(url, plan, today, random_seed)`` gives the same
database for the same seed and "today" (default: the real date in the app's zone). Entities
are seeded in the app's ``order`` (each after the entities its required references point at);
references that close a cycle or point forward are set in a second pass. Most records of an
entity with dates get ``ROWS`` records, the others ``FEW``; the lines of a document come per
document (1 to ``MAX_LINES``, each line a different choice where a line's references are
unique together). What crmgen read from the spec shapes the rest: the kanban enum of an entity
gets a funnel (``funnel``: more early stages than late, the last one, lost or cancelled,
present), its calendar field dates around today, and a total that the spec keeps equal to the
sum of lines (``Rollup``) is that sum. A database that has records of any entity already is
left alone, so seeding twice is harmless. Demo users are ``ROLE@demo.example``, all with the
password ``DEMO_PASSWORD``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from crmgen_runtime import phones, rollups
from crmgen_runtime.db import Database
from crmgen_runtime.demo_dates import Dates, when
from crmgen_runtime.demo_text import Texts
from crmgen_runtime.demo_values import Field, Samples, Values
from crmgen_runtime.resources import Catalog

__all__ = ["DEMO_PASSWORD", "Field", "Only", "Plan", "Rollup", "Samples", "fill", "funnel", "seed"]

DEMO_PASSWORD = "demo-password"
DEMO_DOMAIN = "demo.example"
ROWS = 30  # records of an entity with dates (deals, tasks, orders)
FEW = 10  # records of an entity without (products, positions, groups)
USERS = 8  # users: at least one per role
MAX_LINES = 4  # lines per document
RECENT = 3  # the first records of an entity fall in the current month (a funnel: one per stage)
OPTIONAL_REF = 0.85  # how often an optional reference is filled
OPTIONAL_SELF = 0.25  # ... a reference to a record of the same entity (a parent company)
MAX_PICKS = 3  # records in a many-to-many list
USER = "User"
USER_OWN = ("email", "name", "active")  # set by the demo user itself


@dataclass(frozen=True)
class Rollup:
    """``entity.field`` is the sum of ``total`` over the ``lines`` records whose reference
    ``link`` points at the record reached from ``entity`` through the references ``via``
    (an order's total: its lines' line totals; an invoice's: its order's lines')."""

    entity: str
    field: str
    lines: str
    link: str
    total: str
    via: tuple[str, ...] = ()


@dataclass(frozen=True)
class Only:
    """``entity.field`` holds a value only in records whose enum ``by`` is one of ``values``
    (a deal's close date once won or lost); elsewhere the seeder leaves it empty."""

    entity: str
    field: str
    by: str
    values: tuple[str, ...]


def fields(catalog: Catalog, entity: str, samples: Samples) -> tuple[Field, ...]:
    """The fields of ``entity`` the seeder fills (computed fields are computed, not filled)."""
    resource = catalog.by_name[entity]
    return tuple(
        Field.of(info, samples.get((entity, info.name), ()))
        for info in resource.fields.values()
        if info.compute is None
    )


def funnel(values: Sequence[str], count: int) -> list[str]:
    """``count`` stages shaped like a sales funnel: weights falling along the values, the last
    one (lost, cancelled) as common as the one before; in rounds, so the first records hold
    one of each stage."""
    size = len(values)
    weights = [size - k for k in range(size)]
    if size > 1:
        weights[-1] = weights[-2]
    shares = [count * w / sum(weights) for w in weights]
    counts = [int(s) for s in shares]
    for k in sorted(range(size), key=lambda k: counts[k] - shares[k])[: count - sum(counts)]:
        counts[k] += 1
    out: list[str] = []
    while len(out) < count:
        for k, value in enumerate(values):
            if counts[k]:
                counts[k] -= 1
                out.append(value)
    return out


def _columns(row: Any) -> SimpleNamespace:
    """The row's own column values, as computed fields read them (``record.amount``)."""
    return SimpleNamespace(
        **{a.key: getattr(row, a.key) for a in sa.inspect(type(row)).column_attrs}
    )


def _stamped(row: Any) -> bool:
    """Whether the row's model has the ``created_at``/``updated_at`` columns."""
    return "updated_at" in sa.inspect(type(row)).attrs


def _count(session: Session, model: type[Any]) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def _unique_groups(model: type[Any]) -> list[tuple[str, ...]]:
    """The attributes of every multi-column unique constraint or index of ``model``."""
    mapper = sa.inspect(model)
    table = model.__table__
    groups = [c.columns for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
    groups += [index.columns for index in table.indexes if index.unique]
    return [
        tuple(mapper.get_property_by_column(column).key for column in columns)
        for columns in groups
        if len(columns) > 1
    ]


@dataclass(frozen=True)
class Plan:
    """What to seed: the app's catalog, its entities in seeding order, its roles in the spec's
    order (a demo user each), how passwords are hashed, the plugin types' samples, and what
    crmgen read of the spec: kanban enums (``funnels``), calendar dates (``calendars``), sums
    of lines (``rollups``) and samples of patterns (``patterned``)."""

    catalog: Catalog
    order: Sequence[str]
    roles: Sequence[str]
    password_hash: Callable[[str], str]
    samples: Samples
    funnels: Mapping[str, str] = field(default_factory=dict)
    calendars: Mapping[str, str] = field(default_factory=dict)
    rollups: Sequence[Rollup] = ()
    patterned: Samples = field(default_factory=dict)
    only: Sequence[Only] = ()


def seed(
    url: str, plan: Plan, today: dt.date | None = None, random_seed: int = 0
) -> dict[str, int]:
    """Fill the database at ``url``; returns records per entity ({} when it had records)."""
    db = Database(url)
    try:
        with db.session() as session:
            models = [plan.catalog.by_name[name].model for name in plan.order]
            if any(_count(session, model) for model in models):
                return {}
            return fill(session, plan, today, random_seed)
    finally:
        db.dispose()


def fill(
    session: Session, plan: Plan, today: dt.date | None = None, random_seed: int = 0
) -> dict[str, int]:
    """Add the demo records in ``session``; returns records per entity."""
    return _Seeder(session, plan, today, random_seed).run()


class _Seeder:
    def __init__(
        self, session: Session, plan: Plan, today: dt.date | None, random_seed: int
    ) -> None:
        config = plan.catalog.config
        self.session = session
        self.plan = plan
        self.seed = random_seed
        self.dates = Dates(today or config.clock.today(), config.timezone)
        texts = Texts(config.default_locale, random_seed)
        self.values = Values(
            texts, self.dates, config.currency, random_seed, plan.calendars, plan.patterned
        )
        self.every = {name: fields(plan.catalog, name, plan.samples) for name in plan.order}
        self.records: dict[str, list[Any]] = {}
        self.parents: dict[str, list[tuple[Any, int]]] = {}  # lines entity -> (document, j)

    def rng(self, key: str) -> random.Random:
        return self.values.rng(key)

    def filled(self, name: str, f: Field, i: int) -> bool:
        """Whether the ``i``-th record sets its reference ``f``: a required one always, an
        optional one by chance, but always in the first record that can (so every link of
        the spec is shown; a reference to its own entity: the second record, to the first)."""
        if f.required or i == (1 if f.target == name else 0):
            return True
        chance = OPTIONAL_SELF if f.target == name else OPTIONAL_REF
        return self.rng(f"{name}.{f.name}:{i}:filled").random() < chance

    def run(self) -> dict[str, int]:
        for name in self.plan.order:
            self.records[name] = self.entity(name)
            self.session.flush()
        with self.session.no_autoflush:  # references the first pass could not set
            for name in self.plan.order:
                for i, row in enumerate(self.records[name]):
                    for f in self.every[name]:
                        self.link(row, f, i, name)
        self.flush()
        self.rollups()
        self.flush()
        for entity, chosen in rollups.by_entity(self.plan.catalog).items():  # rollup fields
            ids = [row.id for row in self.records.get(entity, [])]
            rollups.refresh(self.session, self.plan.catalog, chosen, ids)
        return {name: len(rows) for name, rows in self.records.items()}

    def flush(self) -> None:
        """Write the changes of the second pass or the sums: not updates of the records."""
        for row in self.session.dirty:
            if _stamped(row):  # written, so that no onupdate applies
                row.updated_at = row.created_at
                flag_modified(row, "updated_at")
        self.session.flush()

    def count(self, name: str) -> int:
        every = self.every[name]
        if name == USER:
            return max(USERS, len(self.plan.roles))
        rollup = next((r for r in self.plan.rollups if r.lines == name), None)
        if rollup is not None:
            link = next(f for f in every if f.name == rollup.link)
            documents = self.records.get(link.target or "", [])
            rng = self.rng(f"{name}:lines")
            self.parents[name] = [
                (doc, j) for doc in documents for j in range(rng.randint(1, MAX_LINES))
            ]
            return len(self.parents[name])
        dated = any(f.type in ("date", "datetime") and when(f.name) != "birth" for f in every)
        count = ROWS if dated else FEW
        for f in every:  # a unique enum or flag has only so many values, ...
            if f.unique and f.kind is None and f.type in ("enum", "boolean"):
                count = min(count, len(f.values) if f.type == "enum" else 2)
            if f.required and f.kind == "one_to_one" and f.target != name:
                count = min(count, len(self.targets(f)))  # ... a required one-to-one targets
        return count

    def entity(self, name: str) -> list[Any]:
        resource = self.plan.catalog.by_name[name]
        every = self.every[name]
        self.values.entity(name, frozenset(f.name for f in every))
        count = self.count(name)
        stage = self.plan.funnels.get(name)
        stages = next((funnel(f.values, count) for f in every if f.name == stage), [])
        recent = max(RECENT, len(set(stages)))
        groups = _unique_groups(resource.model)
        seen: set[tuple[Any, ...]] = set()
        rows = []
        for i in range(count):
            row = self.new_user(i) if name == USER else resource.model()
            for f in every:
                if f.kind is None and not (name == USER and f.name in USER_OWN):
                    unique_enum = f.unique and f.type == "enum"
                    value = (
                        f.values[i] if unique_enum else self.values.value(name, f, i, i < recent)
                    )
                    region = resource.fields[f.name].options.get("region")
                    if f.type == "phone" and region and isinstance(value, str):
                        value = phones.demo_number(value, region)  # valid, in E.164
                    setattr(row, f.column, value)
                elif f.kind in ("many_to_one", "one_to_one"):
                    self.refer(row, f, i, name)
            if stages:
                setattr(row, resource.fields[str(stage)].column, stages[i])
            self.copy_prices(row, name)
            self.clear_out_of_state(row, name)
            if not self.unique(row, name, i, groups, seen):
                continue
            for info in resource.computed:  # stored values, computed as the API does
                compute = info.compute
                assert compute is not None
                setattr(
                    row,
                    info.column,
                    self.plan.catalog.config.functions.evaluate(compute, _columns(row)),
                )
            if _stamped(row):
                row.created_at = row.updated_at = self.created(name, every, row, i, i < recent)
            self.session.add(row)
            rows.append(row)
        return rows

    def clear_out_of_state(self, row: Any, name: str) -> None:
        """Empty the fields that belong to states the record is not in."""
        resource = self.plan.catalog.by_name[name]
        for only in self.plan.only:
            if only.entity == name and only.field in resource.fields:
                state = getattr(row, resource.fields[only.by].column)
                if state not in only.values:
                    setattr(row, resource.fields[only.field].column, None)

    def new_user(self, i: int) -> Any:
        role = self.plan.roles[i] if i < len(self.plan.roles) else None
        email = f"{role or f'user{i + 1}'}@{DEMO_DOMAIN}"
        name = self.values.texts.make("person", f"{USER}.name:{i}")
        user = self.plan.catalog.by_name[USER].model(email=email, name=name)
        user.password_hash = self.plan.password_hash(DEMO_PASSWORD)
        user.active = True  # every demo user can sign in
        user.roles = [role] if role else []
        return user

    def targets(self, f: Field) -> list[Any]:
        return self.records.get(f.target or "", [])

    def refer(self, row: Any, f: Field, i: int, name: str) -> None:
        """Set the reference ``f`` of the ``i``-th record when its target is seeded already."""
        targets = self.targets(f)
        if not targets or f.target == name or not self.filled(name, f, i):
            return
        lines = self.parents.get(name)
        rollup = next((r for r in self.plan.rollups if r.lines == name), None)
        if lines is not None and rollup is not None:
            document, j = lines[i]
            if f.name == rollup.link:
                setattr(row, f.column, document.id)
                return
            # each line of a document points elsewhere (products are not repeated)
            picks = self.rng(f"{name}.{f.name}:{document.id}").sample(targets, len(targets))
            setattr(row, f.column, picks[j % len(picks)].id)
        elif f.kind == "one_to_one":
            picks = self.rng(f"{name}.{f.name}").sample(targets, len(targets))
            if i < len(picks):
                setattr(row, f.column, picks[i].id)
        else:
            setattr(row, f.column, self.rng(f"{name}.{f.name}:{i}").choice(targets).id)

    def link(self, row: Any, f: Field, i: int, name: str) -> None:
        """The second pass: lists, and references to entities seeded later or to itself."""
        targets = self.targets(f)
        if not targets or not self.filled(name, f, i):
            return
        rng = self.rng(f"{name}.{f.name}:{i}:link")
        if f.kind == "many_to_many":
            others = [t for t in targets if t is not row]
            picks = rng.sample(others, min(len(others), rng.randint(1, MAX_PICKS)))
            getattr(row, f.attr or f.name).extend(picks)
        elif f.kind in ("many_to_one", "one_to_one") and getattr(row, f.column) is None:
            if f.target == name:  # a self-reference: an earlier record (the first: itself)
                if i > 0 or f.required:
                    setattr(row, f.column, targets[rng.randrange(max(i, 1))].id)
            elif f.kind == "many_to_one":
                setattr(row, f.column, rng.choice(targets).id)
            else:
                picks = self.rng(f"{name}.{f.name}").sample(targets, len(targets))
                if i < len(picks):
                    setattr(row, f.column, picks[i].id)

    def copy_prices(self, row: Any, name: str) -> None:
        """A money field named like one of a referenced record takes its value (a line's
        price is its product's)."""
        resource = self.plan.catalog.by_name[name]
        money = [f for f in self.every[name] if f.kind is None and f.type in ("money", "decimal")]
        for f in self.every[name]:
            chosen = getattr(row, f.column) if f.kind in ("many_to_one", "one_to_one") else None
            if chosen is None:
                continue
            target = self.plan.catalog.by_name[str(f.target)]
            picked = next(t for t in self.targets(f) if t.id == chosen)
            for own in money:
                theirs = target.fields.get(own.name)
                if theirs is None or theirs.type != own.type or theirs.compute is not None:
                    continue
                value = getattr(picked, theirs.column)
                if value is not None:
                    setattr(row, resource.fields[own.name].column, value)

    def unique(
        self, row: Any, name: str, i: int, groups: list[tuple[str, ...]], seen: set[tuple[Any, ...]]
    ) -> bool:
        """Whether the row's unique groups are new (re-picking its references up to a few
        times); a row that stays a duplicate is left out."""
        for attempt in range(MAX_LINES * 3):
            keys = [tuple(getattr(row, column) for column in group) for group in groups]
            if not any(key in seen for key in keys):
                seen.update(keys)
                return True
            rng = self.rng(f"{name}:{i}:unique:{attempt}")
            for f in self.every[name]:
                if (
                    f.kind == "many_to_one"
                    and self.targets(f)
                    and any(f.column in g for g in groups)
                ):
                    setattr(row, f.column, rng.choice(self.targets(f)).id)
        return False

    def created(
        self, name: str, every: Sequence[Field], row: Any, i: int, recent: bool
    ) -> dt.datetime:
        """When a record was created: at the earliest of its past dates, else in the past
        twelve months (this month for the first records)."""
        moments = []
        for f in every:
            value = getattr(row, f.column, None) if f.kind is None else None
            past = when(f.name, self.plan.calendars.get(name) == f.name) == "past"
            if f.type in ("date", "datetime") and value is not None and past:
                rng = self.rng(f"{name}:{i}:created")
                moments.append(value if f.type == "datetime" else self.dates.moment(value, rng))
        if moments:
            return min(moments)
        rng = self.rng(f"{name}:{i}:created")
        return self.dates.moment(self.dates.day("past", rng, i, recent), rng)

    def rollups(self) -> None:
        """Totals that are the sum of lines (in the order crmgen found them)."""
        catalog = self.plan.catalog
        by_id = {name: {row.id: row for row in rows} for name, rows in self.records.items()}
        for rollup in self.plan.rollups:
            resource = catalog.by_name[rollup.entity]
            lines = catalog.by_name[rollup.lines]
            link, summed = lines.fields[rollup.link].column, lines.fields[rollup.total].column
            children: dict[int, list[Any]] = {}
            for line in self.records.get(rollup.lines, []):
                children.setdefault(getattr(line, link), []).append(line)
            for row in self.records.get(rollup.entity, []):
                end, at = row, resource
                for step in rollup.via:  # follow the references to the document
                    info = at.fields[step]
                    end = by_id.get(info.target, {}).get(getattr(end, info.column))
                    at = catalog.by_name[info.target]
                    if end is None:
                        break
                if end is None:
                    continue
                total = sum((getattr(c, summed) or 0 for c in children.get(end.id, [])), Decimal(0))
                setattr(row, resource.fields[rollup.field].column, total)
                for info in resource.computed:
                    assert info.compute is not None
                    setattr(
                        row,
                        info.column,
                        catalog.config.functions.evaluate(info.compute, _columns(row)),
                    )
