"""What the ``mail.py`` template needs: the spec's e-mail templates, who may send, which
records an address is matched against and the ``imap`` mailboxes, as plain data. Only a spec
that logs mail (``Spec.logs_mail``) gets the file."""

from __future__ import annotations

from typing import Any

from crmgen.language.build_mail import DEFAULT_CONTACT
from crmgen.language.model import Entity, Spec


def _email_field(entity: Entity | None) -> str | None:
    if entity is None:
        return None
    return next((f.name for f in entity.fields if f.type == "email"), None)


def _texts(text: Any) -> dict[str, str]:
    return {locale: value for locale, value in text.values}


def mail_context(spec: Spec) -> dict[str, Any]:
    """The context of ``mail.py``."""
    templates = [
        {
            "name": t.name,
            "entity": t.entity,
            "label": _texts(t.label),
            "subject": _texts(t.subject),
            "body": _texts(t.body),
            "to": t.to,
        }
        for t in sorted(spec.email_templates, key=lambda t: t.name)
    ]
    recipients: dict[str, str] = {}
    for t in spec.email_templates:
        own = _email_field(spec.entity(t.entity))
        if t.entity not in recipients and (own or t.to):
            recipients[t.entity] = own or str(t.to)
    mailboxes = []
    contacts: list[tuple[str, str]] = []
    for i in sorted(spec.integrations, key=lambda i: i.name):
        if i.type != "imap":
            continue
        entity = i.setting("entity")
        schedule = i.setting("schedule")
        name = str(entity.value) if entity is not None else DEFAULT_CONTACT
        found = _email_field(spec.entity(name))
        if found and (name, found) not in contacts:
            contacts.append((name, found))
        mailboxes.append(
            {"name": i.name, "schedule": str(schedule.value) if schedule else "*/5 * * * *"}
        )
    if not contacts:
        found = _email_field(spec.entity(DEFAULT_CONTACT))
        if found:
            contacts.append((DEFAULT_CONTACT, found))
    send_roles = sorted(r.name for r in spec.roles if r.send_email or r.superuser)
    return {
        "mail_templates": templates,
        "mail_recipients": dict(sorted(recipients.items())),
        "mail_contacts": contacts,
        "mail_send_roles": send_roles,
        "mailboxes": mailboxes,
    }
