"""Dashboards (KPI cards, charts) and reports: what the UI shows of their definitions.

The numbers come from the generated ``analytics.py`` (``crmgen.render.analytics``); ``ui.json``
holds what the pages need to show them: labels per locale, formats, chart types, the entity
(by API path) and the fields each groups by.
"""

from __future__ import annotations

from typing import Any

from crmgen.language.fields import field_type
from crmgen.language.model import Entity, Measure, Spec
from crmgen.language.text import Text
from crmgen.render.web.labels import text_of

# System columns a chart or report may group by: their labels and types.
SYSTEM_COLUMNS = {
    "id": ("ID", "integer"),
    "version": ("Version", "integer"),
    "created_at": ("Created", "datetime"),
    "updated_at": ("Updated", "datetime"),
}


def _format(entity: Entity | None, measure: Measure) -> str:
    """How values of ``measure`` read: money when it adds up or picks money, else a number."""
    f = entity.field(measure.field) if entity is not None and measure.field else None
    if f is not None and field_type(f.type).currency and measure.fn != "count":
        return "money"
    return "number"


def _group(spec: Spec, entity: Entity | None, name: str) -> dict[str, Any]:
    f = entity.field(name) if entity is not None else None
    fallback, type_ = SYSTEM_COLUMNS.get(name, (name.replace("_", " ").capitalize(), "string"))
    label = text_of(spec, f.label if f is not None else Text(()), fallback)
    money = f is not None and field_type(f.type).currency
    return {
        "name": name,
        "label": label,
        "type": f.type if f is not None else type_,
        "currency": (f.currency or spec.app.currency) if f is not None and money else None,
    }


def entity_data(spec: Spec, entity: Entity) -> dict[str, Any]:
    """What ``ui.json`` holds of this part for ``entity`` (under ``entities[path]["dashboards"]``)."""
    return {}


def site_data(spec: Spec) -> dict[str, Any]:
    """What ``ui.json`` holds of this part for the whole app (under ``"dashboards"``)."""
    boards = {}
    for d in spec.ui.dashboards:
        kpis = []
        for k in d.kpis:
            entity = spec.entity(k.entity)
            kpis.append(
                {
                    "name": k.name,
                    "label": text_of(spec, k.label, k.name),
                    "format": k.format,
                    "entity": entity.api_path if entity is not None else "",
                }
            )
        charts = []
        for c in d.charts:
            entity = spec.entity(c.entity)
            charts.append(
                {
                    "name": c.name,
                    "label": text_of(spec, c.label, c.name),
                    "type": c.type,
                    "entity": entity.api_path if entity is not None else "",
                    "group": _group(spec, entity, c.group_by),
                    "period": c.period,
                    "format": _format(entity, c.measure),
                }
            )
        boards[d.name] = {
            "label": text_of(spec, d.label, d.name),
            "roles": list(d.roles),
            "kpis": kpis,
            "charts": charts,
        }
    reports = {}
    for r in spec.ui.reports:
        entity = spec.entity(r.entity)
        reports[r.name] = {
            "label": text_of(spec, r.label, r.name),
            "roles": list(r.roles),
            "entity": entity.api_path if entity is not None else "",
            "group_by": [_group(spec, entity, g) for g in r.group_by],
            "columns": [
                {
                    "name": c.name,
                    "label": text_of(spec, c.label, c.name),
                    "format": _format(entity, c.measure),
                }
                for c in r.columns
            ],
        }
    return {"boards": boards, "reports": reports}
