"""E-mail from records: the spec's ``email_templates``, and the log that puts every e-mail on
the timelines of the records it is about.

``MAIL`` (``crmgen_runtime.mail.RecordMail``) sends an e-mail from a record through the
outbox and logs it on the record and on the contacts it goes to; the e-mails the processes send
are logged the same way. ``routes``: ``GET|POST /api/<plural>/{id}/emails``; the compose pages
are the runtime's (``crmgen_runtime.web.mail_pages``, wired in ``app.py``).
``MAILBOXES``: the ``imap`` integrations, whose jobs (``register``: on the scheduler) log
incoming mail on the sender contact's timeline (``crmgen_runtime.inbox``).
"""

from __future__ import annotations

from crmgen_runtime.events import Events
from crmgen_runtime.inbox import Mailbox
from crmgen_runtime.inbox import register as register_mailboxes
from crmgen_runtime.mail import EmailTemplate, RecordMail

from reference_crm import outbox
from reference_crm.resources import CATALOG

__all__ = ["MAIL", "MAILBOXES", "TEMPLATES", "register", "routes"]

# The spec's templates: subject and body per locale, sandboxed Jinja over the record's fields.
TEMPLATES: dict[str, EmailTemplate] = {
    "contact_follow_up": EmailTemplate(
        "contact_follow_up",
        "Contact",
        label={
            "en": "Follow-up",
            "ru": "Повторный контакт",
            "id": "Tindak lanjut",
            "bs": "Praćenje",
            "zh": "跟进",
        },
        subject={
            "en": "Following up, {{ full_name }}",
            "ru": "{{ full_name }}, продолжим разговор",
            "id": "Tindak lanjut, {{ full_name }}",
            "bs": "Nastavak razgovora, {{ full_name }}",
            "zh": "{{ full_name }}，跟进一下",
        },
        body={
            "en": "Dear {{ full_name }},\n\nthank you for your time. Shall we continue where we left off?\n\nBest regards,\n{{ user.name }}\n",
            "ru": "{{ full_name }}, здравствуйте!\n\nСпасибо за уделённое время. Предлагаю продолжить разговор.\n\nС уважением,\n{{ user.name }}\n",
            "id": "Yth. {{ full_name }},\n\nterima kasih atas waktunya. Bagaimana jika kita lanjutkan pembicaraan?\n\nSalam,\n{{ user.name }}\n",
            "bs": "Poštovani/a {{ full_name }},\n\nhvala na vremenu. Da nastavimo razgovor?\n\nSrdačan pozdrav,\n{{ user.name }}\n",
            "zh": "{{ full_name }}，您好：\n\n感谢您抽出时间。我们继续上次的话题好吗？\n\n此致\n{{ user.name }}\n",
        },
        to=None,
    ),
    "deal_proposal": EmailTemplate(
        "deal_proposal",
        "Deal",
        label={
            "en": "Proposal",
            "ru": "Предложение",
            "id": "Proposal",
            "bs": "Ponuda",
            "zh": "方案",
        },
        subject={
            "en": "Our proposal: {{ name }}",
            "ru": "Наше предложение: {{ name }}",
            "id": "Proposal kami: {{ name }}",
            "bs": "Naša ponuda: {{ name }}",
            "zh": "我们的方案：{{ name }}",
        },
        body={
            "en": 'Hello {{ contact.full_name }},\n\nplease find our proposal for "{{ name }}": {{ amount }} in total, valid until {{ expected_close }}.\n\n{{ user.name }}\n',
            "ru": "Здравствуйте, {{ contact.full_name }}!\n\nНаше предложение по сделке «{{ name }}»: итого {{ amount }}, действует до {{ expected_close }}.\n\n{{ user.name }}\n",
            "id": 'Halo {{ contact.full_name }},\n\nberikut proposal kami untuk "{{ name }}": total {{ amount }}, berlaku hingga {{ expected_close }}.\n\n{{ user.name }}\n',
            "bs": 'Zdravo {{ contact.full_name }},\n\nnaša ponuda za "{{ name }}": ukupno {{ amount }}, vrijedi do {{ expected_close }}.\n\n{{ user.name }}\n',
            "zh": "{{ contact.full_name }}，您好：\n\n关于“{{ name }}”的方案：合计 {{ amount }}，有效期至 {{ expected_close }}。\n\n{{ user.name }}\n",
        },
        to="contact.email",
    ),
    "lead_intro": EmailTemplate(
        "lead_intro",
        "Lead",
        label={
            "en": "Introduction",
            "ru": "Знакомство",
            "id": "Perkenalan",
            "bs": "Upoznavanje",
            "zh": "初次联系",
        },
        subject={
            "en": "Hello from our team, {{ name }}",
            "ru": "{{ name }}, знакомство с нашей командой",
            "id": "Salam dari tim kami, {{ name }}",
            "bs": "Pozdrav od našeg tima, {{ name }}",
            "zh": "{{ name }}，您好",
        },
        body={
            "en": "Hello {{ name }},\n\nthank you for your interest. When would be a good time for a short call?\n\n{{ user.name }}\n",
            "ru": "Здравствуйте, {{ name }}!\n\nСпасибо за интерес к нам. Когда вам удобно коротко созвониться?\n\n{{ user.name }}\n",
            "id": "Halo {{ name }},\n\nterima kasih atas minat Anda. Kapan waktu yang tepat untuk panggilan singkat?\n\n{{ user.name }}\n",
            "bs": "Zdravo {{ name }},\n\nhvala na interesu. Kada vam odgovara kratak poziv?\n\n{{ user.name }}\n",
            "zh": "{{ name }}，您好：\n\n感谢您的关注。什么时候方便简短通个电话？\n\n{{ user.name }}\n",
        },
        to=None,
    ),
}
MAIL = RecordMail(
    CATALOG,
    outbox.OUTBOX,
    templates=TEMPLATES,
    # entity -> the field path of its records' address (the default recipient)
    recipients={"Contact": "email", "Deal": "contact.email", "Lead": "email"},
    # (entity, e-mail field): the records an address is matched against, case-insensitively
    contacts=[("Contact", "email")],
    # the roles with send_email (and the superuser roles)
    send_roles=frozenset(["admin", "manager", "sales"]),
)
# The imap integrations: each reads its mailbox on its cron.
MAILBOXES: tuple[Mailbox, ...] = (Mailbox(outbox.INTEGRATIONS["inbox"], "*/5 * * * *"),)

routes = MAIL.routes()  # relative to /api: the app adds them below its /api mount


def register(events: Events) -> None:
    """Put the mailboxes' jobs on the scheduler (``CATALOG.events``)."""
    register_mailboxes(MAIL, MAILBOXES, events)
