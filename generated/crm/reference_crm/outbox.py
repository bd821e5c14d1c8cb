"""The outbox of this app: the spec's integrations, and the runtime's outbox bound to them.

``enqueue(session, kind=..., payload=..., key=...)`` adds a message in the caller's
transaction; the worker (``python -m reference_crm worker``) delivers it with ``COURIER``
(``crmgen_runtime.delivery``: e-mail through SMTP, Telegram, SMS gateways, signed webhooks and
plain HTTP calls). Secrets are read from the environment variables the spec names, at delivery
time. ``routes``: ``GET /api/outbox`` and ``POST /api/outbox/{id}/retry``, for superusers and
the roles with the audit flag. How it works is in ``crmgen_runtime.outbox`` and
``crmgen_runtime.worker``.
"""

from __future__ import annotations

from crmgen_runtime import document_files
from crmgen_runtime.delivery import Courier, Integration
from crmgen_runtime.outbox import Outbox

from reference_crm.resources import CATALOG

__all__ = ["COURIER", "INTEGRATIONS", "OUTBOX", "enqueue", "routes"]

# The spec's integrations: each setting is (environment variable or None, value).
INTEGRATIONS: dict[str, Integration] = {
    "accounting": Integration(
        "accounting",
        "webhook",
        {
            "secret": ("ACCOUNTING_WEBHOOK_SECRET", None),
            "timeout": (None, 10),
            "url": ("ACCOUNTING_WEBHOOK_URL", None),
        },
    ),
    "bot": Integration(
        "bot",
        "telegram",
        {
            "base_url": ("TELEGRAM_BASE_URL", "https://api.telegram.org"),
            "token": ("TELEGRAM_BOT_TOKEN", None),
        },
    ),
    "enrichment": Integration(
        "enrichment",
        "http",
        {
            "base_url": ("ENRICHMENT_API_URL", "https://enrich.example.com/api"),
            "timeout": (None, 5),
            "token": ("ENRICHMENT_API_TOKEN", None),
        },
    ),
    "inbox": Integration(
        "inbox",
        "imap",
        {
            "entity": (None, "Contact"),
            "schedule": (None, "*/5 * * * *"),
            "url": ("IMAP_URL", None),
        },
    ),
    "mail": Integration(
        "mail",
        "smtp",
        {
            "reply_to": (None, "sales@example.com"),
            "sender": (None, "CRM <crm@example.com>"),
            "url": ("SMTP_URL", None),
        },
    ),
    "sms_gateway": Integration(
        "sms_gateway",
        "sms",
        {
            "sender": (None, "CRM"),
            "token": ("SMS_GATEWAY_TOKEN", None),
            "url": ("SMS_GATEWAY_URL", None),
        },
    ),
}
# hosts (by name) outgoing messages may reach on a private or loopback address: app.allow_hosts
COURIER = Courier(INTEGRATIONS, "reference_crm", allow_hosts=["crm-internal.example"])
# documents that attach_document steps save on records, made by the worker after the commit
COURIER.deliverers[document_files.KIND] = document_files.Deliverer("reference_crm")
OUTBOX = Outbox(CATALOG, COURIER)

enqueue = OUTBOX.enqueue
routes = OUTBOX.routes()  # relative to /api: the app adds them below its /api mount
