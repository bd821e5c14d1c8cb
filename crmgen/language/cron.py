"""Cron schedules: five fields (minute hour day month weekday) or an @macro."""

from __future__ import annotations

import re

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    (
        "month",
        1,
        12,
        {
            m: i + 1
            for i, m in enumerate(
                ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
            )
        },
    ),
    (
        "day of week",
        0,
        7,
        {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
    ),
)
_ITEM = re.compile(r"^(?P<range>\*|[^/-]+(-[^/-]+)?)(/(?P<step>\d+))?$")


def normalize(expression: str) -> str:
    """The five-field form of ``expression`` (macros expanded, spaces collapsed)."""
    text = " ".join(expression.split())
    return MACROS.get(text.lower(), text)


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a valid cron schedule, or None."""
    text = normalize(expression)
    if text.startswith("@"):
        return f"unknown cron macro '{text}'; use one of {', '.join(sorted(MACROS))}"
    parts = text.split(" ")
    if len(parts) != 5:
        return (
            f"a cron schedule has 5 fields (minute hour day month weekday), got {len(parts)}: "
            f"'{expression}'"
        )
    for part, (name, low, high, names) in zip(parts, _FIELDS):
        for item in part.split(","):
            problem = _item_problem(item, name, low, high, names)
            if problem:
                return problem
    days, months = _values(parts[2], _FIELDS[2]), _values(parts[3], _FIELDS[3])
    if days and months and all(d > _MONTH_DAYS[m] for d in days for m in months):
        return f"the schedule '{expression}' never runs: no month among those has day {min(days)}"
    return None


_MONTH_DAYS = {
    1: 31,
    2: 29,
    3: 31,
    4: 30,
    5: 31,
    6: 30,
    7: 31,
    8: 31,
    9: 30,
    10: 31,
    11: 30,
    12: 31,
}


def _values(part: str, spec: tuple[str, int, int, dict[str, int]]) -> set[int]:
    """The values a field lists explicitly (numbers and ranges); empty when it has * or steps."""
    if "*" in part or "/" in part:
        return set()
    names = spec[3]
    out: set[int] = set()
    for item in part.split(","):
        bounds = [int(b) if b.isdigit() else names[b.lower()] for b in item.split("-")]
        out.update(range(bounds[0], bounds[-1] + 1))
    return out


def _item_problem(item: str, name: str, low: int, high: int, names: dict[str, int]) -> str | None:
    match = _ITEM.match(item)
    if not match:
        return f"bad {name} '{item}' in the cron schedule"
    if match.group("step") is not None and int(match.group("step")) == 0:
        return f"the {name} step cannot be 0"
    if match.group("range") == "*":
        return None
    bounds = match.group("range").split("-")
    values = []
    for b in bounds:
        value = names.get(b.lower()) if not b.isdigit() else int(b)
        if value is None:
            return f"bad {name} '{b}' in the cron schedule"
        if not low <= value <= high:
            return f"the {name} {value} is out of range {low}-{high}"
        values.append(value)
    if len(values) == 2 and values[0] > values[1]:
        return f"the {name} range {item} runs backwards"
    return None
