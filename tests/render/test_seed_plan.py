"""What the seeder reads of a spec: funnels, calendars, sums of lines, pattern samples and
fields that belong to a state, found by what the spec says (its kanban, calendar, processes,
documents and enum values), not by the reference CRM's names."""

from __future__ import annotations

from pathlib import Path

from crmgen import load
from crmgen.render import seed_plan
from tests.render.conftest import write_spec

# Quotes with lines: a process keeps a quote's sum, a bill prints its quote's lines.
QUOTES = """\
version: 1
app: {name: quotes, title: Quotes, locales: [en], default_locale: en, currency: EUR}
roles: {admin: {superuser: true}}
entities:
  Item:
    display: name
    fields:
      name: {type: string, required: true}
      cost: {type: money, min: 1}
  Quote:
    display: code
    fields:
      code: {type: string, required: true, pattern: '^Q-[0-9]{3}$'}
      phase: {type: enum, values: [draft, sent, accepted, rejected]}
      valid_until: date
      sent_on: date
      rejected_because: text
      decided: date
      sum: {type: money, read_only: true}
    ui:
      kanban: {by: phase, title: code}
      calendar: {date: valid_until, title: code}
  QuoteLine:
    fields:
      quote: {type: ref, to: Quote, required: true, back: items}
      item: {type: ref, to: Item, required: true}
      qty: {type: integer, min: 1}
      cost: {type: money}
      subtotal: {type: money, computed: record.qty * record.cost}
    indexes:
      - {fields: [quote, item], unique: true}
  Bill:
    fields:
      quote: {type: ref, to: Quote}
      amount: {type: money}
    documents:
      bill:
        fields: [quote]
        lines: {from: quote.items, columns: [item, qty, cost, subtotal]}
        total: amount
processes:
  quote_decided:
    on: {update: Quote, when: before, fields: [phase]}
    steps:
      - if: "record.phase in ['accepted', 'rejected'] and old.phase == 'sent'"
        then:
          - set: {decided: '= today()'}
  quote_sum:
    on: {create: QuoteLine, when: after}
    steps:
      - aggregate: {entity: QuoteLine, fn: sum, field: subtotal, where: {quote: '= record.quote'}, into: s}
      - update: {entity: Quote, where: {id: '= record.quote.id'}, values: {sum: '= coalesce(s, 0)'}}
"""


def test_the_spec_shapes_the_demo_data(tmp_path: Path) -> None:
    spec = load(write_spec(tmp_path, QUOTES))
    assert seed_plan.funnels(spec) == {"Quote": "phase"}
    assert seed_plan.calendars(spec) == {"Quote": "valid_until"}
    assert seed_plan.rollups(spec) == [
        seed_plan.Rollup("Quote", "sum", "QuoteLine", "quote", "subtotal"),
        seed_plan.Rollup("Bill", "amount", "QuoteLine", "quote", "subtotal", ("quote",)),
    ]
    assert seed_plan.only(spec) == [  # a process's state first, then names that begin with one
        seed_plan.Only("Quote", "decided", "phase", ("accepted", "rejected")),
        seed_plan.Only("Quote", "sent_on", "phase", ("sent",)),
        seed_plan.Only("Quote", "rejected_because", "phase", ("rejected",)),
    ]
    codes = seed_plan.patterned(spec)[("Quote", "code")]
    assert len(codes) == len(set(codes)) > 1 and all(c.startswith("Q-") for c in codes)


def test_the_reference_crm_sums_its_orders_and_invoices() -> None:
    spec = load(Path(__file__).resolve().parents[2] / "examples" / "crm")
    assert seed_plan.funnels(spec) == {"Lead": "status", "Deal": "stage", "Task": "status"}
    assert [(r.entity, r.field, r.via) for r in seed_plan.rollups(spec)] == [
        ("Order", "total", ()),
        ("Invoice", "total", ("sales_order",)),
    ]
    assert [(o.entity, o.field, o.values) for o in seed_plan.only(spec)] == [
        ("Task", "done_at", ("done",)),
        ("Deal", "closed_on", ("won", "lost")),
        ("Deal", "lost_reason", ("lost",)),
        ("Invoice", "paid_at", ("paid",)),
    ]
