"""Valid specs the spec-layer tests start from (written inline, Copier-style).

``RICH`` exercises every section: relations (ref, refs, owner), permissions (shorthands, per
action, where-conditions, hidden fields), an endpoint, processes with nested steps, an
integration and ui (navigation, dashboards, reports). ``MINIMAL`` is examples/minimal/app.yaml.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = (ROOT / "examples" / "minimal" / "app.yaml").read_text(encoding="utf-8")

RICH = """\
app:
  name: rich_crm
  title: {en: Rich CRM, ru: Богатая CRM}
  locales: [en, ru]
  timezone: Europe/Moscow
  currency: EUR
roles:
  admin: {superuser: true}
  manager: {label: {en: Manager, ru: Менеджер}}
  sales: Sales
entities:
  Company:
    fields:
      name: {type: string, required: true, max_length: 200}
      website: url
      owner: {type: ref, to: User}
    permissions:
      manager: all
      sales: read
  Deal:
    owner: owner
    fields:
      title: {type: string, required: true}
      amount: {type: money, min: 0, default: 0}
      stage:
        type: enum
        values:
          new: {label: New, weight: 0.1}
          won: {label: {en: Won, ru: Выиграна}, weight: 1}
          lost: {label: Lost, weight: 0}
        default: new
      company: {type: ref, to: Company, required: true}
      owner: {type: ref, to: User}
      tags: {type: refs, to: Tag}
      closed_on: date
      vat: {type: decimal, computed: record.amount * 0.2}
    indexes:
      - [stage, closed_on]
    permissions:
      manager: all
      sales: {list: own, read: own, create: true, update: {where: "record.stage != 'won'"}, hidden: [vat]}
    ui:
      list: {columns: [title, amount, stage, company], sort: [-amount]}
      kanban: {by: stage}
      calendar: {date: closed_on}
  Tag:
    fields:
      name: {type: string, unique: true}
    permissions:
      sales: all
endpoints:
  close_deal:
    path: /deals/{id}/close
    roles: [manager]
    input:
      reason: {type: string, required: true}
processes:
  deal_won:
    on: {update: Deal, fields: [stage]}
    steps:
      - if: "record.stage == 'won' and old.stage != 'won'"
        then:
          - set: {closed_on: "= today()"}
          - count: {entity: Deal, where: {company: "= record.company", stage: won}, into: wins}
          - email:
              to: "= record.owner.email"
              subject: "Deal {{ record.title }} won ({{ wins }})"
              text: "Congratulations"
          - log: "deal {{ record.id }} won"
  closing:
    on: {endpoint: close_deal}
    steps:
      - set: {stage: lost}
      - log: {message: "closed because {{ input.reason }}", level: info}
  nightly:
    on: {schedule: "0 3 * * *"}
    steps:
      - query: {entity: Deal, where: {stage: new, closed_on__lt: "= today()"}, into: stale}
      - for_each:
          in: stale
          as: deal
          do:
            - update: {entity: Deal, where: {id: "= deal.id"}, values: {stage: lost}}
      - backup: {keep: 14}
integrations:
  mail:
    type: smtp
    url: {env: SMTP_URL}
    sender: crm@example.com
ui:
  navigation:
    - {label: Sales, items: [Deal, {entity: Deal, view: kanban}, Company]}
    - {dashboard: sales}
    - {report: by_stage}
  dashboards:
    sales:
      label: {en: Sales, ru: Продажи}
      roles: [manager, sales]
      kpis:
        open_amount: {entity: Deal, measure: {sum: amount}, where: {stage__ne: lost}, format: money}
        deals: {entity: Deal}
      charts:
        by_stage: {type: funnel, entity: Deal, group_by: stage}
        monthly: {type: line, entity: Deal, group_by: closed_on, period: month, measure: {sum: amount}}
  reports:
    by_stage:
      entity: Deal
      group_by: [stage]
      columns:
        deals: count
        total: {sum: amount}
      roles: [manager]
"""


def write(folder: Path, text: str, name: str = "app.yaml") -> Path:
    """Write ``text`` as ``folder/name`` (parents created) and return its path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
