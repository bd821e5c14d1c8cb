"""Dashboards (KPI cards, charts) and reports: what the UI shows of their definitions."""

from __future__ import annotations

from typing import Any

from crmgen.spec.model import Entity, Spec


def entity_data(spec: Spec, entity: Entity) -> dict[str, Any]:
    """What ``ui.json`` holds of this part for ``entity`` (under ``entities[path]["dashboards"]``)."""
    return {}


def site_data(spec: Spec) -> dict[str, Any]:
    """What ``ui.json`` holds of this part for the whole app (under ``"dashboards"``)."""
    return {}
