"""Integration types: which settings each needs, and which of them are secrets.

A secret setting must name an environment variable (``token: {env: TELEGRAM_TOKEN}``), so no
secret is ever written in a spec; other settings may be literals or environment variables too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class IntegrationType:
    name: str
    summary: str
    secrets: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


INTEGRATION_TYPES: dict[str, IntegrationType] = {}


def register(itype: IntegrationType) -> IntegrationType:
    INTEGRATION_TYPES[itype.name] = itype
    return itype


# hosts requests through the integration may reach on a private or loopback address
_ALLOW_HOSTS = {
    "type": "array",
    "items": {"type": "string"},
    "description": "hosts (by name or IP address) this integration may reach on a private address",
}
_EVENTS = {
    "type": "array",
    "items": {
        "type": "string",
        "pattern": r"^[A-Z][A-Za-z0-9]*\.(create|update|delete)$",
        "x-error": "event",
    },
    "minItems": 1,
}

register(
    IntegrationType(
        "smtp",
        "outgoing e-mail through an SMTP server",
        secrets=("url",),
        settings=("sender", "reply_to"),
        required=("url", "sender"),
    )
)
register(
    IntegrationType(
        "telegram",
        "messages through a Telegram bot",
        secrets=("token",),
        settings=("base_url", "chat"),
        required=("token",),
        extra={"allow_hosts": _ALLOW_HOSTS},
    )
)
register(
    IntegrationType(
        "webhook",
        "signed JSON posts to another system on entity events",
        secrets=("url", "secret"),
        settings=("timeout",),
        required=("url", "secret"),
        extra={"events": _EVENTS, "allow_hosts": _ALLOW_HOSTS},
    )
)
register(
    IntegrationType(
        "http",
        "a base URL and headers for HTTP request steps",
        secrets=("token",),
        settings=("base_url", "timeout"),
        required=("base_url",),
        extra={"allow_hosts": _ALLOW_HOSTS},
    )
)
register(
    IntegrationType(
        "sms",
        "text messages through an SMS gateway (a pluggable channel)",
        secrets=("url", "token"),
        settings=("sender",),
        required=("url",),
        extra={"allow_hosts": _ALLOW_HOSTS},
    )
)
register(
    IntegrationType(
        "imap",
        "incoming e-mail read from a mailbox and logged on the sender contact's timeline",
        secrets=("url",),
        required=("url",),
        extra={
            "entity": {"$ref": "#/$defs/entity_name"},
            "schedule": {"type": "string", "description": "cron (default: */5 * * * *)"},
        },
    )
)
