"""The indexes the generator derives from the reference CRM's dashboards and reports."""

from __future__ import annotations

from crmgen.language import load_spec
from crmgen.render.analytics_indexes import analytics_indexes
from tests.generated_apps import EXAMPLES


def _columns(entity: str) -> list[tuple[str, ...]]:
    spec = load_spec(EXAMPLES["crm"])
    found = spec.entity(entity)
    assert found is not None
    return [index.columns for index in analytics_indexes(spec, found)]


def test_each_aggregate_gets_equalities_owner_groups_ranges_then_measures() -> None:
    deals = _columns("Deal")
    # won this month (sellers open it: their rule adds owner = me): stage = won, closed_on >= ...
    assert ("stage", "owner_id", "closed_on", "amount") in deals
    # deals by stage, as a seller: owner = me, grouped by stage, summing amount
    assert ("owner_id", "stage", "amount") in deals
    # the open deals' count (stage IN ...) is a prefix of the pipeline's sum: left out
    assert ("stage", "owner_id") not in deals
    # a manager-only report grouped by company, of paid invoices, no owner column
    assert ("status", "company_id", "total") in _columns("Invoice")


def test_what_a_list_index_already_serves_is_left_out() -> None:
    # overdue tasks (status IN ..., deadline < today): the status filter's list index
    # (status, deadline, id) begins with it
    tasks = _columns("Task")
    assert ("status", "deadline") not in tasks
    assert tasks == [("assignee_id", "status")]  # my open tasks; tasks by assignee
