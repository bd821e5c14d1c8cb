"""Sample data for the generated app's own tests, computed from the spec at generation time.

For each entity: a few *valid* payloads (distinct in every unique field), the links they need
(``RefSample``: which required or unique references the test fills with a record it creates
first), and the *invalid* cases, one per constraint (required, lengths, range, enum, format,
pattern, unique, foreign key) with the status the API must answer. Values are JSON-ready,
deterministic and checked here against the same rules the generated ``validation`` applies,
so the tests hold for any valid spec: when no value can be found (a pattern this module cannot
sample), the entity says why in ``unsampleable`` and its tests skip with that reason.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crmgen.language import fields
from crmgen.language.model import Entity, Field, Spec
from crmgen.render import api, relations
from crmgen.render.users import USER

try:  # Python >= 3.11
    from re import _constants as sre_constants  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

COUNT = 3  # valid records per entity (distinct in every unique field)
MISSING = "<missing>"  # an invalid case that leaves the field out of the payload
BAD_ID = 2_000_000_000  # a record id that exists nowhere (and fits 32 bits)
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE = re.compile(r"\+?[0-9 ()\-.]{3,32}")
URL = re.compile(r"https?://\S+")
_INT32 = (-(2**31), 2**31 - 1)


@dataclass(frozen=True)
class RefSample:
    """A link the test fills: ``field`` gets the id of a record of ``target`` (an API path).

    ``per_record``: each sample record needs its own target (the link is unique); ``user``: the
    target is the User entity, whose records are the test's users; ``many``: a list of ids.
    """

    field: str
    target: str
    per_record: bool
    user: bool
    many: bool = False


@dataclass(frozen=True)
class Invalid:
    """One constraint broken: ``payload[field] = value`` (or left out) -> ``status``."""

    id: str  # pytest id, e.g. "name-too-long"
    field: str
    value: Any  # MISSING: the field is left out
    status: int


@dataclass(frozen=True)
class EntitySamples:
    name: str
    path: str
    table: str
    records: tuple[dict[str, Any], ...]  # scalar values of each valid record
    refs: tuple[RefSample, ...]
    invalid: tuple[Invalid, ...]
    unique: tuple[tuple[str, ...], ...]  # field groups that must be unique together
    patch: tuple[str, Any] | None  # a field and a new value for the update test
    filter: tuple[str, str] | None  # a field and the query text that finds record 0 only
    unsampleable: str = ""  # why no valid record could be made ("" when it could)


# --- values --------------------------------------------------------------------------------


def _fit(text: str, low: int, high: int) -> str:
    return (text + "x" * max(0, low - len(text)))[:high]


def _lengths(facts: api.FieldFacts) -> tuple[int, int]:
    options = dict(facts.options)
    return options.get("min_length", 0), options.get("max_length", 10_000)


def _text_value(entity: Entity, facts: api.FieldFacts, i: int) -> str | None:
    options = dict(facts.options)
    low, high = _lengths(facts)
    if "pattern" in options:
        return pattern_sample(options["pattern"], i, low, high)
    kind = facts.type
    if kind == "email":
        for text in (f"s{i}.{entity.table}@example.com", f"s{i}@ex.io"):
            if low <= len(text) <= high:
                return text
        return None
    if kind == "phone":
        # a number stored in E.164 is answered so: the sample is written that way
        text = f"+155501{i:02d}" if "region" in options else f"+1 555 01{i:02d}"
        return text if low <= len(text) <= high else None
    if kind in ("url", "file", "image"):  # a file field keeps a web address as a link
        for text in (f"https://example.com/{entity.table}/{i}", f"http://a.io/{i}"):
            if low <= len(text) <= high:
                return text
        return None
    text = _fit(f"{i} {facts.name} sample", low, high)
    return text if high >= 1 else None


def _number_bounds(facts: api.FieldFacts) -> tuple[Decimal, Decimal]:
    options = dict(facts.options)
    low = Decimal(str(options.get("min", -(10**15))))
    high = Decimal(str(options.get("max", 10**15)))
    if fields.field_type(facts.type).exact:
        precision, scale = options.get("precision", 12), options.get("scale", 2)
        limit = Decimal(10) ** (precision - scale) - Decimal(1).scaleb(-scale)
        low, high = max(low, -limit), min(high, limit)
    return low, high


def _number_value(facts: api.FieldFacts, i: int) -> int | float | None:
    low, high = _number_bounds(facts)
    scale = dict(facts.options).get("scale", 2) if fields.field_type(facts.type).exact else 0
    step = Decimal(1) if scale == 0 else Decimal(1).scaleb(-scale)
    candidates = [Decimal(1 + i), Decimal(1 + i) * step, low + i * step, high - i * step]
    inexact = fields.field_type(facts.type).python_type == "float"
    if inexact:  # a float: a fraction a double holds exactly
        candidates.insert(0, Decimal(i) + Decimal("0.25"))
    for value in candidates:
        if fields.field_type(facts.type).python_type == "int":
            value = value.to_integral_value()
        if low <= value <= high and (inexact or value == value.quantize(step)):
            return int(value) if value == value.to_integral_value() else float(value)
    return None


def _plain_text(kind: str) -> bool:
    """Text whose samples the rules here make (a type with samples of its own makes them)."""
    field_type = fields.field_type(kind)
    return field_type.text and field_type.sample is None and field_type.checks != "values"


def value(entity: Entity, facts: api.FieldFacts, i: int) -> Any:
    """A valid JSON value of a scalar field for sample record ``i`` (None: none found)."""
    kind = facts.type
    field_type = fields.field_type(kind)
    if field_type.sample is not None:  # a plugin type knows its own valid values
        return field_type.sample(i)
    if _plain_text(kind):
        return _text_value(entity, facts, i)
    if kind == "enum":
        values = dict(facts.options)["values"]
        return values[i % len(values)]
    if field_type.numeric:
        return _number_value(facts, i)
    if kind == "boolean":
        return i % 2 == 1
    if kind == "date":
        return f"2024-03-{10 + i:02d}"
    if kind == "datetime":
        return f"2024-03-{10 + i:02d}T09:30:00+00:00"
    if kind == "time":
        return f"{8 + i // 60 % 12:02d}:{i % 60:02d}:00"
    if kind == "json":
        return {"sample": i, "tags": ["a", "b"]}
    return None


def capacity(facts: api.FieldFacts) -> int:
    """How many distinct values a field can take (for unique fields), capped at COUNT."""
    if facts.type == "enum":
        return min(COUNT, len(dict(facts.options)["values"]))
    if facts.type == "boolean":
        return 2
    return COUNT


# --- invalid values ------------------------------------------------------------------------


def _number_text(value: Any) -> int | float:
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)


def invalid_cases(entity: Entity, facts: api.FieldFacts, f: Field) -> list[Invalid]:
    """One case per constraint of a writable field."""
    name, kind = facts.name, facts.type
    options = dict(facts.options)
    cases: list[Invalid] = []
    if facts.required:
        cases.append(Invalid(f"{name}-required", name, MISSING, 422))
    for n, bad in enumerate(fields.field_type(kind).invalid):  # a plugin type's own refusals
        cases.append(Invalid(f"{name}-invalid-{n + 1}", name, bad, 422))
    if _plain_text(kind):
        cases.append(Invalid(f"{name}-not-text", name, 12345, 422))
        if f.max_length is not None or kind in api.DEFAULT_MAX_LENGTH:
            cases.append(Invalid(f"{name}-too-long", name, "x" * (options["max_length"] + 1), 422))
        if f.min_length:
            cases.append(Invalid(f"{name}-too-short", name, "x" * (f.min_length - 1), 422))
        if f.pattern is not None:
            bad = pattern_mismatch(f.pattern, *_lengths(facts))
            if bad is not None:
                cases.append(Invalid(f"{name}-pattern", name, bad, 422))
    bad_format = {
        "email": "not-an-email",
        "phone": "call me maybe",
        "url": "not a web address",
        "file": "not a file",
        "image": "not an image",
    }
    if kind in bad_format:
        cases.append(Invalid(f"{name}-bad-{kind}", name, bad_format[kind], 422))
    if kind == "enum":
        cases.append(Invalid(f"{name}-bad-enum", name, "NOT-A-VALUE", 422))
    if fields.field_type(kind).numeric:
        cases.append(Invalid(f"{name}-not-a-number", name, "many", 422))
        if f.min is not None:
            cases.append(
                Invalid(f"{name}-below-min", name, _number_text(Decimal(str(f.min)) - 1), 422)
            )
        if f.max is not None:
            cases.append(
                Invalid(f"{name}-above-max", name, _number_text(Decimal(str(f.max)) + 1), 422)
            )
    if kind in ("integer", "bigint"):
        cases.append(Invalid(f"{name}-not-whole", name, 1.5, 422))
    if kind == "bigint":
        cases.append(Invalid(f"{name}-beyond-64-bits", name, 2**63, 422))
    if kind == "float":
        cases.append(Invalid(f"{name}-not-finite", name, "NaN", 422))
    if kind == "boolean":
        cases.append(Invalid(f"{name}-not-boolean", name, "maybe", 422))
    if kind in ("date", "datetime"):
        cases.append(Invalid(f"{name}-bad-{kind}", name, "2024-13-45", 422))
    if kind == "time":
        cases.append(Invalid(f"{name}-bad-time", name, "24:00", 422))
    if kind == "ref":
        cases.append(Invalid(f"{name}-unknown-record", name, BAD_ID, 422))
    if kind == "refs":
        cases.append(Invalid(f"{name}-unknown-record", name, [BAD_ID], 422))
    return cases


def pattern_mismatch(pattern: str, low: int, high: int) -> str | None:
    """A text of an allowed length that does not match ``pattern`` (None: none found)."""
    compiled = re.compile(pattern)
    for char in "!~ a0Z_.-":
        for length in dict.fromkeys((max(low, 1), min(high, max(low, 8)), low)):
            text = char * length
            if low <= len(text) <= high and not compiled.fullmatch(text):
                return text
    return None


# --- patterns ------------------------------------------------------------------------------

_CATEGORIES = {
    "CATEGORY_DIGIT": string.digits,
    "CATEGORY_NOT_DIGIT": string.ascii_letters,
    "CATEGORY_WORD": string.ascii_letters + string.digits + "_",
    "CATEGORY_NOT_WORD": " -.!",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": string.ascii_letters + string.digits,
}
_PRINTABLE = string.ascii_uppercase + string.ascii_lowercase + string.digits + " -_.!"


def _class_chars(items: list[tuple[Any, Any]]) -> str:
    chars: list[str] = []
    negate = False
    for op, arg in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            chars.append(chr(arg))
        elif name == "RANGE":
            chars.extend(chr(c) for c in range(arg[0], min(arg[1], arg[0] + 61) + 1))
        elif name == "CATEGORY":
            chars.extend(_CATEGORIES.get(str(arg), ""))
    if negate:
        return "".join(c for c in _PRINTABLE if c not in chars)
    return "".join(chars)


def _emit(parsed: Any, i: int, extra: int, groups: dict[int, str]) -> str:
    out: list[str] = []
    for op, arg in parsed:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append(next(c for c in _PRINTABLE if ord(c) != arg))
        elif name == "ANY":
            out.append(_PRINTABLE[i % 26])
        elif name == "IN":
            chars = _class_chars(arg)
            if not chars:
                raise ValueError("empty character class")
            out.append(chars[i % len(chars)])
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            top = low + extra if high is sre_constants.MAXREPEAT else min(high, low + extra)
            out.append("".join(_emit(sub, i, extra, groups) for _ in range(top)))
        elif name == "SUBPATTERN":
            group, sub = arg[0], arg[-1]
            text = _emit(sub, i, extra, groups)
            if group is not None:
                groups[group] = text
            out.append(text)
        elif name == "BRANCH":
            branches = arg[1]
            out.append(_emit(branches[i % len(branches)], i, extra, groups))
        elif name == "GROUPREF":
            out.append(groups.get(arg, ""))
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:
            raise ValueError(f"cannot sample {name}")
    return "".join(out)


def pattern_sample(pattern: str, i: int, low: int = 0, high: int = 10_000) -> str | None:
    """A text matching ``pattern`` with a length in [low, high], varied by ``i``."""
    compiled = re.compile(pattern)
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return None
    for extra in (0, 1, 2, 4, 8, 16, 32, 64):
        for variant in (i, i + 3, i + 7):
            try:
                text = _emit(parsed, variant, extra, {})
            except (ValueError, StopIteration):
                return None
            if low <= len(text) <= high and compiled.fullmatch(text):
                return text
    return None


# --- entities ------------------------------------------------------------------------------


def _unique_groups(entity: Entity, facts: dict[str, api.FieldFacts]) -> list[tuple[str, ...]]:
    groups = [(n,) for n, f in facts.items() if f.unique and not f.read_only and f.type != "refs"]
    groups += [index.fields for index in entity.indexes if index.unique]
    return groups


def entity_samples(spec: Spec, entity: Entity) -> EntitySamples:
    """The valid records, links and invalid cases of ``entity``."""
    facts = {f.name: api.field_facts(entity, f, spec.app.phone_region) for f in entity.fields}
    by_name = {e.name: e for e in spec.entities}
    groups = _unique_groups(entity, facts)
    in_unique = {name for group in groups for name in group}
    refs: list[RefSample] = []
    problems: list[str] = []
    scalars: list[str] = []
    for f in entity.fields:
        info = facts[f.name]
        if info.read_only:
            continue
        if info.relation:
            if info.required or f.name in in_unique or info.relation == "one_to_one":
                target = by_name[info.target]
                refs.append(
                    RefSample(
                        field=f.name,
                        target=target.api_path,
                        per_record=f.name in in_unique or info.relation == "one_to_one",
                        user=target.name == USER,
                        many=info.relation == "many_to_many",
                    )
                )
            continue
        if info.type in ("file", "image") and not info.required:
            continue
        scalars.append(f.name)
    count = COUNT
    for group in groups:
        if all(name in facts and not facts[name].relation for name in group):
            count = min(count, max(capacity(facts[name]) for name in group))
    start = _start_state(entity)
    records = []
    for i in range(count):
        record: dict[str, Any] = {}
        for name in scalars:
            guarded = entity.workflow is not None and name == entity.workflow.field
            sample = start if guarded else value(entity, facts[name], i)
            if sample is None:
                if facts[name].required or name in in_unique:
                    problems.append(f"no valid sample value for {entity.name}.{name}")
                continue
            record[name] = sample
        records.append(record)
    for group in groups:  # a unique group must be filled to be tested
        if not all(name in records[0] or any(r.field == name for r in refs) for name in group):
            problems.append(f"cannot fill the unique fields {', '.join(group)} of {entity.name}")
    invalid: list[Invalid] = []
    for f in entity.fields:
        info = facts[f.name]
        if not info.read_only:
            invalid.extend(invalid_cases(entity, info, f))
    patch = None
    for name in scalars:
        if len(records) > 1 and name in records[1] and records[1][name] != records[0].get(name):
            patch = (name, records[1][name])
            break
    return EntitySamples(
        filter=_filter(records, facts),
        name=entity.name,
        path=entity.api_path,
        table=entity.table,
        records=tuple(records),
        refs=tuple(refs),
        invalid=tuple(invalid),
        unique=tuple(group for group in groups),
        patch=patch,
        unsampleable="; ".join(dict.fromkeys(problems)),
    )


def _start_state(entity: Entity) -> str | None:
    """The state sample records of ``entity`` start in when it has a workflow: the field's
    default, else a state open from anywhere with no roles or required fields (None: none)."""
    w = entity.workflow
    if w is None:
        return None
    f = entity.field(w.field)
    if f is not None and f.default is not None and not f.default.is_expr:
        return None if f.default.literal is None else str(f.default.literal)
    return next(
        (t.to for t in w.transitions if not (t.origins or t.roles or t.require or t.where)),
        None,
    )


_FILTERABLE = ("string", "email", "enum", "integer", "boolean", "date")


def _filter(
    records: list[dict[str, Any]], facts: dict[str, api.FieldFacts]
) -> tuple[str, str] | None:
    """A field whose value in record 0 differs from every other record, as query text."""
    for name, sample in (records[0] if records else {}).items():
        if facts[name].type in _FILTERABLE and all(r.get(name) != sample for r in records[1:]):
            return name, json_text(sample)
    return None


def json_text(sample: Any) -> str:
    """A value as a query string writes it (``true``, ``12``, ``text``)."""
    if isinstance(sample, bool):
        return "true" if sample else "false"
    return str(sample)


def clean_order(spec: Spec) -> list[str]:
    """The data tables (entities and join tables), each before the tables it points at.

    Deleting in this order never breaks a foreign key (self-references aside, which a single
    DELETE of the whole table satisfies).
    """
    created = relations.dependency_order(spec)
    tables = [
        f.relation.through
        for e in spec.entities
        for f in e.fields
        if f.relation is not None and f.relation.kind == "many_to_many" and f.relation.through
    ]
    by_name = {e.name: e for e in spec.entities}
    tables += [by_name[name].table for name in reversed(created)]
    return list(dict.fromkeys(tables))


def literal(value: Any) -> str:
    """``value`` (JSON-ready data, dicts included) as Python source."""
    from crmgen.render.environment import py_literal

    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        items = [literal(v) for v in value]
        if isinstance(value, list):
            return "[" + ", ".join(items) + "]"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return py_literal(value)


def samples(spec: Spec) -> list[EntitySamples]:
    """The samples of every entity, in spec order."""
    return [entity_samples(spec, e) for e in spec.entities]
