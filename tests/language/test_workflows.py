"""Guarded workflows: the `workflow:` key of an entity, its model and the generated app's
``Resource.workflow`` (the mistakes `validate` locates are the broken-spec case
`tests/broken/workflow_mistakes`)."""

from __future__ import annotations

from pathlib import Path

import crmgen
from crmgen.generate import generate
from crmgen.language.model import Transition
from crmgen.render.samples import samples

SPEC = """\
app: {name: pipeline}
roles:
  admin: {superuser: true}
  manager: Manager
  sales: Sales
entities:
  Deal:
    fields:
      title: {type: string, required: true}
      amount: money
      owner: {type: ref, to: User}
      stage: {type: enum, values: [lead, qualified, won, lost], default: lead}
    workflow:
      field: stage
      transitions:
        qualified: {from: lead}
        won: {from: [qualified], roles: [manager], require: [amount], where: {amount__gt: 0, owner: '= user.id'}}
        lost:
  Task:
    fields:
      title: string
"""


def test_a_workflow_is_checked_into_its_model_and_rendered(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC, encoding="utf-8")
    spec = crmgen.load(tmp_path / "spec.yaml")
    workflow = spec.entity("Deal").workflow
    assert workflow is not None and workflow.field == "stage"
    assert workflow.transitions == (
        Transition("qualified", ("lead",)),
        Transition("won", ("qualified",), ("manager",), ("amount",), workflow.transitions[1].where),
        Transition("lost"),
    )
    assert [(c.field, c.op) for c in workflow.transitions[1].where] == [
        ("amount", "gt"),
        ("owner", "eq"),
    ]
    assert spec.entity("Task").workflow is None
    deals = next(s for s in samples(spec) if s.name == "Deal")  # the app's own tests
    assert {record["stage"] for record in deals.records} == {"lead"}
    generate(tmp_path / "spec.yaml", tmp_path / "out")
    source = next((tmp_path / "out").rglob("resources.py")).read_text(encoding="utf-8")
    compile(source, "resources.py", "exec")
    assert "from crmgen_runtime.workflows import Workflow" in source
    assert "def _workflow_deals_won(user: CurrentUser) -> sa.ColumnElement[bool]:" in source
    assert "fn.evaluate(lambda: user.id)" in source
    assert source.count("workflow=") == 1
    assert (
        """    workflow=Workflow.of(
        "stage",
        {
            "qualified": {"from": ["lead"]},
            "won": {"from": ["qualified"], "roles": ["manager"], "require": ["amount"]},
            "lost": {},
        },
        initial="lead",
        where={"won": _workflow_deals_won},
    ),
"""
        in source
    )


BYPASS = (
    SPEC
    + """\
processes:
  close_stale:
    on: {schedule: 0 3 * * *}
    workflow: bypass
    steps:
      - update: {entity: Deal, where: {stage: lead}, values: {stage: lost}}
  qualify:
    on: {create: Deal, when: after}
    steps:
      - if: record.amount > 100
        then: [{set: {stage: qualified}}]
"""
)


def test_a_process_bypasses_the_workflow_only_when_it_says_so(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(BYPASS, encoding="utf-8")
    spec = crmgen.load(tmp_path / "spec.yaml")
    assert [(p.name, p.bypass_workflow) for p in spec.processes] == [
        ("close_stale", True),
        ("qualify", False),
    ]
    generate(tmp_path / "spec.yaml", tmp_path / "out")
    source = next((tmp_path / "out").rglob("processes.py")).read_text(encoding="utf-8")
    assert source.count("bypass_workflow=") == 1
    assert 'bypass_workflow=["close_stale"]' in source
