"""E-mail from records in the spec: `email_templates:`, the role flag `send_email`, the `imap`
integration, the reserved sub-collection `emails`, and what a spec without them generates."""

from __future__ import annotations

from pathlib import Path

import crmgen
from crmgen.render.mail_settings import mail_context
from crmgen.render.plan import build_plan
from tests.language.sample_specs import write

ROOT = Path(__file__).resolve().parents[2]

SPEC = """
app: {name: mailer, locales: [en, ru]}
roles:
  admin: {superuser: true}
  sales: {label: Sales, send_email: true}
  support: Support
entities:
  Contact:
    fields:
      full_name: string
      email: email
  Deal:
    fields:
      name: string
      contact: {type: ref, to: Contact}
      amount: money
EXTRA
"""

GOOD = """
email_templates:
  hello:
    entity: Contact
    subject: {en: 'Hello {{ full_name }}', ru: 'Здравствуйте, {{ full_name }}'}
    body: "Dear {{ full_name }},\\n\\n{{ user.name }}, {{ today }}\\n"
  offer:
    entity: Deal
    to: contact.email
    label: Offer
    subject: 'Offer {{ name }}'
    body: '{{ contact.full_name }}: {{ amount }}'
integrations:
  inbox: {type: imap, url: {env: IMAP_URL}}
"""


def check(tmp_path: Path, extra: str) -> tuple[crmgen.Spec | None, list[str]]:
    spec, diagnostics = crmgen.check_spec(write(tmp_path, SPEC.replace("EXTRA", extra)))
    return spec, [f"{d.position.line}:{d.position.column}: {d.message}" for d in diagnostics]


def test_templates_roles_and_the_mailbox_are_read(tmp_path: Path) -> None:
    spec, problems = check(tmp_path, GOOD)
    assert problems == [] and spec is not None
    hello, offer = spec.email_templates
    assert (hello.name, hello.entity, hello.to) == ("hello", "Contact", None)
    assert hello.subject.get("ru") == "Здравствуйте, {{ full_name }}"
    assert offer.to == "contact.email" and offer.label.get("en") == "Offer"
    assert [r.name for r in spec.roles if r.send_email] == ["admin", "sales"]
    assert spec.logs_mail
    context = mail_context(spec)
    assert context["mail_recipients"] == {"Contact": "email", "Deal": "contact.email"}
    assert context["mail_contacts"] == [("Contact", "email")]
    assert context["mail_send_roles"] == ["admin", "sales"]
    assert context["mailboxes"] == [{"name": "inbox", "schedule": "*/5 * * * *"}]


def test_mistakes_are_located_and_explained(tmp_path: Path) -> None:
    _, problems = check(
        tmp_path,
        """
email_templates:
  a:
    entity: Contakt
    subject: x
    body: y
  b:
    entity: Deal
    subject: 'Hi {{ nmae }}'
    body: '{% include "x" %}'
  c:
    entity: Deal
    to: amount
    subject: x
    body: y
  d:
    entity: Contact
    subject: x
integrations:
  inbox: {type: imap, url: {env: IMAP_URL}, entity: Deal, schedule: 'every hour'}
""",
    )
    text = "\n".join(problems)
    assert "unknown entity 'Contakt'" in text and "did you mean 'Contact'" in text
    assert "unknown name 'nmae'" in text and "did you mean 'name'" in text
    assert "cannot load other files" in text
    assert "'amount' is a money field; to names an e-mail field" in text
    assert "'body'" in text  # d has no body
    assert "Deal has no e-mail field to match incoming mail by" in text
    assert any("schedule" in p or "cron" in p.lower() for p in problems), problems


def test_a_deal_template_needs_to(tmp_path: Path) -> None:
    _, problems = check(tmp_path, "email_templates:\n  x: {entity: Deal, subject: s, body: b}\n")
    assert any("Deal has no e-mail field: say where the address is with to:" in p for p in problems)


def test_emails_is_a_reserved_sub_collection(tmp_path: Path) -> None:
    spec = SPEC.replace("EXTRA", "").replace(
        "contact: {type: ref, to: Contact}", "contact: {type: ref, to: Contact, back: emails}"
    )
    _, diagnostics = crmgen.check_spec(write(tmp_path, spec))
    [problem] = [d.message for d in diagnostics if d.severity == "error"]
    assert "/api/<plural>/{id}/emails" in problem and "set back: to another name" in problem


def test_a_spec_without_them_generates_no_trace(tmp_path: Path) -> None:
    spec, problems = check(tmp_path, "")
    assert problems == [] and spec is not None and not spec.logs_mail
    files = {f.path: f for f in build_plan(spec)}
    assert "mailer/mail.py" not in files
    with_mail, _ = check(tmp_path / "with", GOOD)
    assert with_mail is not None and "mailer/mail.py" in {f.path for f in build_plan(with_mail)}


def test_the_reference_crm_writes_from_contacts_deals_and_leads() -> None:
    spec = crmgen.load(ROOT / "examples" / "crm")
    assert sorted(t.entity for t in spec.email_templates) == ["Contact", "Deal", "Lead"]
    assert [i.name for i in spec.integrations if i.type == "imap"] == ["inbox"]
    assert {r.name for r in spec.roles if r.send_email} == {"admin", "manager", "sales"}
