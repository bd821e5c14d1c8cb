"""The mail the app sends about people's accounts: a password reset link, an invitation, the
link that confirms a new e-mail, and the old address told of the change.

``queue`` adds one pending e-mail to the outbox in the caller's transaction, so the mail goes
out (by the worker, retried like any other message) exactly when what it tells of is
committed; its idempotency key names what it is about, so it is queued once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from crmgen_runtime.resources import Catalog
from crmgen_runtime.tables import OutboxMessageTable, utcnow

KEY_LENGTH = 255  # the outbox's idempotency_key column


def queue(
    session: Session,
    catalog: Catalog,
    *,
    to: str,
    subject: str,
    text: str,
    template: str,
    key: str,
    link: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Queue an e-mail to ``to`` (``template`` names it for the delivery log; ``link``, when
    it carries one, is kept beside the text for the templates and the tests)."""
    now = now or utcnow()
    payload = {"to": to, "subject": subject, "text": text, "template": template}
    if link is not None:
        payload["link"] = link
    message: Any = catalog.table(OutboxMessageTable)  # the app's model, with its columns
    session.add(
        message(
            kind="email",
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            idempotency_key=key[:KEY_LENGTH],
        )
    )
