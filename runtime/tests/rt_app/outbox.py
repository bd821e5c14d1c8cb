"""The app's outbox over ``rt_crm``'s catalog, with a ``note`` kind delivered in memory."""

from __future__ import annotations

from typing import Any

from crmgen_runtime.delivery import Courier, DeliveryError, PermanentError
from crmgen_runtime.outbox import Outbox
from rt_crm import catalog

DELIVERED: list[tuple[str, dict[str, Any]]] = []  # (idempotency key, payload)


def deliver_note(payload: dict[str, Any], key: str, _timeout: float) -> None:
    """Record the note; ``fail`` in the payload: ``again`` (may pass) or ``never``."""
    if payload.get("fail") == "again":
        raise DeliveryError("the receiver is busy")
    if payload.get("fail") == "never":
        raise PermanentError("the receiver refuses it")
    DELIVERED.append((key, payload))


COURIER = Courier({}, "rt_app")
COURIER.deliverers["note"] = deliver_note
OUTBOX = Outbox(catalog, COURIER)
