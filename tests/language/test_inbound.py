"""Inbound webhooks in the spec language (issue 15 item 3): the model of a hook, its process's
names, ``query`` with ``first: true``, and how the generated code reads a hook's key and
compares phones (the errors are in ``tests/broken/inbound_mistakes``)."""

from __future__ import annotations

from pathlib import Path

from crmgen.language import load_spec
from crmgen.render.processes import compile_process, processes_context

SPEC = """\
app: {name: calls, phone_region: RU}
roles:
  admin: {superuser: true}
  sales: Sales
entities:
  Contact:
    fields:
      name: {type: string, required: true}
      phone: phone
inbound:
  calls:
    auth: {hmac: {secret_env: CALLS_SECRET}}
    run_as: {user: robot@example.com}
    idempotency: '= input.call_id'
    input:
      call_id: {type: string, required: true}
      caller: phone
  orders:
    label: {en: Orders}
    auth: {api_key: {roles: [sales]}}
    idempotency: input.ref + '-' + input.kind
    input:
      ref: string
      kind: string
processes:
  log_call:
    on: {inbound: calls}
    steps:
      - query: {entity: Contact, where: {phone: '= input.caller'}, first: true, into: contact}
      - if: contact
        then:
          - update: {entity: Contact, where: {id: '= contact.id'}, values: {phone: '= input.caller'}}
      - log: '{{ user.name }}: {{ contact.name }}'
  take_order:
    on: {inbound: orders}
    steps:
      - log: '{{ input.ref }}'
"""


def test_a_hook_is_a_typed_model(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC, encoding="utf-8")
    spec = load_spec(tmp_path / "spec.yaml")
    calls, orders = spec.inbound
    assert (calls.name, calls.auth, calls.secret_env, calls.header, calls.run_as) == (
        "calls",
        "hmac",
        "CALLS_SECRET",
        "X-Signature",
        "robot@example.com",
    )
    assert [f.name for f in calls.input] == ["call_id", "caller"]
    assert calls.idempotency.source.strip() == "input.call_id"
    assert (orders.auth, orders.roles, orders.run_as, orders.secret_env) == (
        "api_key",
        ("sales",),
        None,
        None,
    )
    assert orders.label.get("en", "en") == "Orders"
    trigger = spec.processes[0].trigger
    assert (trigger.kind, trigger.inbound, trigger.entity) == ("inbound", "calls", None)


def test_the_process_reads_input_and_compares_phones_in_e164(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC, encoding="utf-8")
    spec = load_spec(tmp_path / "spec.yaml")
    source = compile_process(spec, spec.processes[0]).source
    assert source.startswith("def process_log_call(run: Run, user: Any, input: Any) -> None:")
    assert "contact = run.first(" in source
    assert 'where.phone(fn.evaluate(lambda: input.caller), "RU")' in source
    context = processes_context(spec)
    assert [(hook.name, c.function) for hook, c in context["inbound_hooks"]] == [
        ("calls", "process_log_call"),
        ("orders", "process_take_order"),
    ]
    calls, orders = spec.inbound
    assert context["idempotency"](calls) == "input.call_id"
    assert context["key_fields"](orders) == ("ref", "kind")
