"""One demo value of one field: text by what the field holds, numbers, dates, flags, JSON.

``Values.value(entity, field, i)`` is the value of ``field`` in the ``i``-th demo record of
``entity``; it depends on the random seed, the entity, the field and ``i`` only, so the same
seed and "today" give the same database. Values respect what the app's catalog says of the
field (lengths, range, scale, pattern, uniqueness). A field of a type that knows its own demo
values (a plugin type's ``sample`` hook) takes those; a text with a ``pattern`` that no
generated value matches takes the samples crmgen found for the pattern (``patterned``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crmgen_runtime import demo_numbers
from crmgen_runtime.demo_dates import Dates, when
from crmgen_runtime.demo_text import Texts, entity_kind, kind
from crmgen_runtime.resources import FieldInfo

INT32_MIN = -(2**31)  # the bound every integer has (a 32-bit column), not one the spec set
TEXT_LIMITS = {"phone": 32, "file": 1024, "image": 1024, "email": 254, "url": 2048}
TEXT_TYPES = frozenset({"string", "text", "email", "phone", "url", "file", "image"})
NUMBER_TYPES = frozenset({"integer", "bigint", "float", "decimal", "money"})
MOSTLY_TRUE = frozenset({"active", "enabled", "visible", "published", "available", "valid"})
ATTEMPTS = 12  # draws of a unique or patterned value before the fallback
CHANNELS = ("web", "referral", "email", "event", "partner", "social")

# A field type's own demo values, by (entity, field): what a plugin type's samples gave.
Samples = Mapping[tuple[str, str], Sequence[Any]]


@dataclass(frozen=True)
class Field:
    """What the seeder reads of one field."""

    name: str
    column: str
    type: str
    required: bool = False
    unique: bool = False
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    scale: int | None = None
    precision: int | None = None
    pattern: str | None = None
    values: tuple[str, ...] = ()
    target: str | None = None
    kind: str | None = None  # the relation: many_to_one, one_to_one or many_to_many
    samples: tuple[Any, ...] = ()
    attr: str = ""  # its model attribute when not its name (``from_``; a list's relationship)

    @classmethod
    def of(cls, info: FieldInfo, samples: Sequence[Any] = ()) -> Field:
        """The seeder's view of a catalog field."""
        options = info.options
        low = options.get("min")
        return cls(
            name=info.name,
            column=info.column,
            attr=info.attr if info.attr != info.name else "",
            type=info.type,
            required=info.required or info.not_null,
            unique=info.unique or info.relation == "one_to_one",
            min=None if info.type == "integer" and low == INT32_MIN else low,
            max=options.get("max"),
            min_length=options.get("min_length"),
            max_length=options.get("max_length"),
            scale=options.get("scale"),
            precision=options.get("precision"),
            pattern=options.get("pattern"),
            values=tuple(options.get("values", ())),
            target=info.target or None,
            kind=info.relation or None,
            samples=tuple(samples),
        )


def _fit(text: str, f: Field) -> str:
    """``text`` within the field's lengths (one line unless it is a ``text``)."""
    if f.type != "text":
        text = ", ".join(line.strip() for line in text.splitlines() if line.strip())
    limit = f.max_length or TEXT_LIMITS.get(f.type)
    if limit and len(text) > limit:
        cut = text[:limit]
        text = cut.rsplit(" ", 1)[0] if " " in cut[1:] else cut
    if f.min_length and len(text) < f.min_length:
        text = (text + " " + text * f.min_length)[: f.min_length] if text else "x" * f.min_length
    return text


class Values:
    """The demo values of one seeding run (``seed``: the random seed)."""

    def __init__(
        self,
        texts: Texts,
        dates: Dates,
        currency: str = "USD",
        seed: int = 0,
        calendars: Mapping[str, str] | None = None,
        patterned: Samples | None = None,
    ) -> None:
        self.texts = texts
        self.dates = dates
        self.currency = currency
        self.seed = seed
        self.calendars = dict(calendars or {})
        self.patterned = dict(patterned or {})
        self.used: dict[tuple[str, str], set[Any]] = {}
        self.kinds: dict[str, str] = {}

    def rng(self, key: str) -> random.Random:
        """A generator of its own for the value named ``key``."""
        return random.Random(f"{self.seed}:{key}")

    def entity(self, entity: str, names: frozenset[str]) -> None:
        """Note what ``entity``'s records are (people, companies...) from its field names."""
        self.kinds[entity] = entity_kind(entity, names)

    def value(self, entity: str, f: Field, i: int, recent: bool = False) -> Any:
        """The value of ``f`` in the ``i``-th record of ``entity``."""
        if f.samples:
            return f.samples[i % len(f.samples)]
        key = f"{entity}.{f.name}:{i}"
        if f.type in TEXT_TYPES:
            return self._text(entity, f, i, key)
        if f.type in NUMBER_TYPES:
            return self._number(entity, f, i, key)
        rng = self.rng(key)
        if f.type == "boolean":
            return rng.random() < (0.85 if set(f.name.split("_")) & MOSTLY_TRUE else 0.3)
        if f.type in ("date", "datetime"):
            how = when(f.name, self.calendars.get(entity) == f.name)
            day = self.dates.day(how, rng, i, recent)
            return day if f.type == "date" else self.dates.moment(day, rng)
        if f.type == "time":
            return self.dates.time(rng)
        if f.type == "enum":
            return rng.choice(f.values)
        if f.type == "json":
            return self._json(f, rng)
        return None

    def _text(self, entity: str, f: Field, i: int, key: str) -> str | None:
        if f.type in ("file", "image"):  # a link: demo data uploads nothing
            return (
                f"https://files.example/demo/{entity.lower()}-{i + 1}.txt" if f.required else None
            )
        what = kind(self.kinds.get(entity, "other"), f.name, f.type)
        used = self.used.setdefault((entity, f.name), set())
        text: str | None = None
        for attempt in range(ATTEMPTS):
            if what == "number":
                text = f"{entity[:3].upper()}-{self.dates.today.year}-{i + 1 + attempt:04d}"
            else:
                text = _fit(self.texts.make(what, f"{key}:{attempt}"), f)
            if f.pattern and not re.fullmatch(f.pattern, text):
                text = self._patterned(entity, f, i, attempt)
            if text is not None and not (f.unique and text in used):
                used.add(text)
                return text
        fallback = self.patterned.get((entity, f.name))
        if fallback:  # no drawn text fits: crmgen's pattern samples
            return str(fallback[i % len(fallback)])
        suffix = f" {i + 1}"
        return _fit(text or "", f)[: (f.max_length or 200) - len(suffix)] + suffix

    def _patterned(self, entity: str, f: Field, i: int, attempt: int) -> str | None:
        """A text of a common shape (digits, a code) that matches the field's pattern."""
        assert f.pattern is not None
        rng = self.rng(f"{entity}.{f.name}:{i}:{attempt}:pattern")
        lengths = [n for n in (f.min_length, 10, 12, f.max_length, 9) if n]
        shapes = [str(rng.randrange(10 ** (n - 1), 10**n)) for n in lengths]
        shapes += [f"{rng.choice('ABCDEFGHJKLMNPRSTUVXZ')}{rng.randint(100, 9999)}"]
        shapes += [f"{entity[:3].upper()}-{self.dates.today.year}-{i + 1 + attempt}"]
        for text in shapes:
            if re.fullmatch(f.pattern, text) and len(text) <= (f.max_length or len(text)):
                return text
        return None

    def _number(self, entity: str, f: Field, i: int, key: str) -> int | float | Any:
        used = self.used.setdefault((entity, f.name), set())
        for attempt in range(ATTEMPTS):
            number = demo_numbers.number(
                f.name,
                f.type,
                self.rng(f"{key}:{attempt}"),
                self.currency,
                f.min,
                f.max,
                f.scale,
                f.precision,
            )
            if not (f.unique and number in used):
                used.add(number)
                return number
        return number

    def _json(self, f: Field, rng: random.Random) -> dict[str, Any]:
        if "utm" in f.name.lower():
            return {
                "utm_source": rng.choice(CHANNELS),
                "utm_medium": rng.choice(("cpc", "email", "organic", "banner")),
                "utm_campaign": f"{self.dates.today.year}-q{rng.randint(1, 4)}",
            }
        return {"source": rng.choice(CHANNELS), "score": rng.randint(1, 100)}
