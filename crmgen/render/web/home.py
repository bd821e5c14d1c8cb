"""The home page ("my day", ``ui.home``): what ``ui.json`` holds of it under ``"home"``.

Each list names its entity by API path, the date field that finds its records (and that
field's type), the field linking them to the signed-in user and its conditions as the list
API's query parameters (``status__in=new,in_progress``): the runtime reads the records through
the same list query as ``GET /api/<plural>``, so the user's record rules hold. The KPIs name
their dashboard and carry the label and format the card shows. A spec without ``ui.home`` has
no ``"home"`` key at all.
"""

from __future__ import annotations

from typing import Any

from crmgen.language.model import Condition, HomeList, Spec
from crmgen.render.web.labels import text_of


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_text(v) for v in value)
    return "" if value is None else str(value)


def params(conditions: tuple[Condition, ...]) -> list[list[str]]:
    """The conditions as list query parameters (they hold constants only)."""
    return [
        [c.field if c.op == "eq" else f"{c.field}__{c.op}", _text(c.value.literal)]
        for c in conditions
    ]


def _list(spec: Spec, item: HomeList | None) -> dict[str, Any] | None:
    entity = spec.entity(item.entity) if item is not None else None
    if item is None or entity is None:
        return None
    date = entity.field(item.date_field)
    return {
        "path": entity.api_path,
        "date": item.date_field,
        "date_type": date.type if date is not None else "date",
        "user": item.user_field,
        "params": params(item.where),
        "days": item.days,
    }


def site_data(spec: Spec) -> dict[str, Any] | None:
    """What ``ui.json`` holds of the home page (None without ``ui.home``)."""
    home = spec.ui.home
    if home is None:
        return None
    boards = {d.name: d for d in spec.ui.dashboards}
    kpis = []
    for ref in home.kpis:
        board = boards.get(ref.dashboard)
        kpi = next((k for k in board.kpis if k.name == ref.kpi), None) if board else None
        if kpi is None:
            continue
        kpis.append(
            {
                "dashboard": ref.dashboard,
                "name": kpi.name,
                "label": text_of(spec, kpi.label, kpi.name),
                "format": kpi.format,
            }
        )
    return {
        "tasks": _list(spec, home.tasks),
        "meetings": _list(spec, home.meetings),
        "kpis": kpis,
        "recent": home.recent,
    }
