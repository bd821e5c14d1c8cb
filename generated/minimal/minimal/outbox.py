"""The outbox of this app: the spec's integrations, and the runtime's outbox bound to them.

``enqueue(session, kind=..., payload=..., key=...)`` adds a message in the caller's
transaction; the worker (``python -m minimal worker``) delivers it with ``COURIER``
(``crmgen_runtime.delivery``: e-mail through SMTP, Telegram, SMS gateways, signed webhooks and
plain HTTP calls). Secrets are read from the environment variables the spec names, at delivery
time. ``routes``: ``GET /api/outbox`` and ``POST /api/outbox/{id}/retry``, for superusers and
the roles with the audit flag. How it works is in ``crmgen_runtime.outbox`` and
``crmgen_runtime.worker``.
"""

from __future__ import annotations

from crmgen_runtime.delivery import Courier, Integration
from crmgen_runtime.outbox import Outbox

from minimal.resources import CATALOG

__all__ = ["COURIER", "INTEGRATIONS", "OUTBOX", "enqueue", "routes"]

# The spec's integrations: each setting is (environment variable or None, value).
INTEGRATIONS: dict[str, Integration] = {}
COURIER = Courier(INTEGRATIONS, "minimal")
OUTBOX = Outbox(CATALOG, COURIER)

enqueue = OUTBOX.enqueue
routes = OUTBOX.routes()  # relative to /api: the app adds them below its /api mount
