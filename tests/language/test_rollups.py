"""Rollup fields: the `rollup:` key of a field, its model and the generated app's data for it
(the mistakes `validate` locates are the broken-spec case `tests/broken/rollup_mistakes`)."""

from __future__ import annotations

from pathlib import Path

import crmgen
from crmgen.language.model import Condition, Rollup, Value
from crmgen.render.api import api_context

ROOT = Path(__file__).resolve().parents[2]


def test_the_reference_crm_rolls_up_won_deals_and_the_last_contact() -> None:
    spec = crmgen.load(ROOT / "examples" / "crm")
    won = spec.entity("Company").field("won_total")
    assert won.read_only and won.rollup == Rollup(
        "deals", "Deal", "company", "sum", "amount", (Condition("stage", "eq", Value("won")),)
    )
    last = spec.entity("Contact").field("last_contacted_at")
    assert last.rollup is not None
    assert (last.rollup.op, last.rollup.entity, last.rollup.order_by) == (
        "last",
        "Interaction",
        ("happened_at",),
    )
    facts = {(r.entity, r.field): r for r in api_context(spec)["rollups"]}
    assert facts[("Company", "won_total")].where == ('where.eq(models.Deal.stage, "won")',)
    assert facts[("Contact", "last_contacted_at")].where == (
        'where.in_(models.Interaction.kind, ["call", "meeting"])',
    )


def test_a_spec_without_rollups_has_none() -> None:
    spec = crmgen.load(ROOT / "examples" / "minimal")
    assert api_context(spec)["rollups"] == []
    assert all(f.rollup is None for e in spec.entities for f in e.fields)
