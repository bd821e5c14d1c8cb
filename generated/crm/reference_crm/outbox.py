"""The outbox: messages to other systems, written in the transaction that decided to send them.

``enqueue(session, kind=..., payload=..., key=...)`` adds a pending row in the caller's
transaction (the same ``key`` twice keeps one row). The worker (``worker.py``,
``python -m reference_crm worker``) delivers it with ``deliver``: e-mail through SMTP,
Telegram, SMS gateways, signed webhooks and plain HTTP calls. Secrets are read from the
environment variables the spec names, at delivery time.

Delivery is at least once: every message carries its idempotency key (``Message-ID`` of an
e-mail, ``Idempotency-Key`` header of an HTTP request) so a receiver can drop a repeat.

Routes (below ``/api``): ``GET /outbox`` and ``POST /outbox/{id}/retry``, for superusers and
the roles with the audit flag (admin, manager).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import hmac
import json
import os
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, parseaddr
from typing import Any

import orjson
import sqlalchemy as sa
from crmgen_runtime.errors import ApiError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reference_crm import audit, auth
from reference_crm.models import OutboxMessage, utcnow

__all__ = [
    "DELIVERERS",
    "DeliveryError",
    "INTEGRATIONS",
    "KINDS",
    "PermanentError",
    "deliver",
    "enqueue",
    "message_id",
    "routes",
    "sign",
]

KINDS = ("email", "telegram", "sms", "webhook", "http")
STATUSES = ("pending", "sent", "dead")
KEY_MAX_LENGTH = 255
DEFAULT_TIMEOUT = 30.0
TELEGRAM_BASE_URL = "https://api.telegram.org"
USER_AGENT = "reference_crm-outbox/1"
# HTTP answers worth trying again; any other 4xx means the request itself is wrong.
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})


class DeliveryError(Exception):
    """Delivery failed; the worker tries again later (with backoff)."""


class PermanentError(DeliveryError):
    """Delivery cannot succeed as it is (refused by the receiver): dead-lettered at once."""


@dataclass(frozen=True)
class Integration:
    """An integration of the spec: each setting is (environment variable or None, value).

    For a setting read from the environment, the value is the default when it is unset.
    """

    name: str
    type: str
    settings: dict[str, tuple[str | None, Any]]

    def get(self, name: str, default: Any = None) -> Any:
        env, value = self.settings.get(name, (None, None))
        if env:
            found = os.environ.get(env)
            if found:
                return found
        return default if value is None else value

    def require(self, name: str) -> Any:
        value = self.get(name)
        if value is None or value == "":
            env = self.settings.get(name, (None, None))[0]
            where = f" (set the environment variable {env})" if env else ""
            raise DeliveryError(f"integration {self.name!r}: {name} is not set{where}")
        return value


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


# --- enqueueing ---------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"an outbox payload cannot carry a {type(value).__name__}")


def _key(kind: str, key: str | None) -> str:
    if key is None:
        return f"{kind}:{uuid.uuid4().hex}"
    if len(key) <= KEY_MAX_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def enqueue(
    session: Session, *, kind: str, payload: dict[str, Any], key: str | None = None
) -> None:
    """Add a pending message in the caller's transaction.

    ``key`` is the idempotency key: enqueuing the same key again (also from a concurrent
    transaction) keeps the first row. Without a key every call adds a message.
    """
    if kind not in DELIVERERS:
        raise ValueError(
            f"unknown outbox kind {kind!r} (one of {', '.join(DELIVERERS)})"
        )
    if not isinstance(payload, dict):
        raise TypeError("an outbox payload is a dict")
    now = utcnow()
    values = {
        "kind": kind,
        "payload": json.loads(json.dumps(payload, default=_json_default)),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "idempotency_key": _key(kind, key),
    }
    table = OutboxMessage.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the app runs on SQLite and PostgreSQL
        exists = session.scalar(
            sa.select(table.c.id).where(
                table.c.idempotency_key == values["idempotency_key"]
            )
        )
        if exists is None:
            session.execute(sa.insert(table).values(**values))
        return
    statement = insert(table).values(**values)
    session.execute(
        statement.on_conflict_do_nothing(index_elements=["idempotency_key"])
    )


# --- delivery -----------------------------------------------------------------


def _integration(name: Any, kind: str, needed: str) -> Integration | None:
    """The integration ``name`` (which must be of type ``needed``), or the only one of that
    type when ``name`` is empty (None when the spec has none)."""
    if name:
        found = INTEGRATIONS.get(str(name))
        if found is None:
            raise PermanentError(f"{kind}: the spec has no integration {name!r}")
        if found.type != needed:
            raise PermanentError(
                f"{kind}: integration {name!r} is a {found.type}, not {needed}"
            )
        return found
    candidates = sorted(
        (i for i in INTEGRATIONS.values() if i.type == needed), key=lambda i: i.name
    )
    return candidates[0] if candidates else None


def message_id(key: str, sender: str) -> str:
    """The ``Message-ID`` of the e-mail with idempotency ``key``: the same for every attempt."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:40]}.outbox@{domain}>"


def sign(secret: str, body: bytes) -> str:
    """The ``X-Signature`` of a webhook body: ``sha256=`` and the hex HMAC-SHA256."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _smtp_target(url: str) -> tuple[str, int, str, str | None, str | None]:
    """(mode, port, host, user, password) of an SMTP URL.

    ``smtp://`` is plain (STARTTLS on port 587), ``smtp+starttls://`` STARTTLS and
    ``smtps://`` TLS from the start: mode ``plain``, ``starttls`` or ``ssl``.
    """
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if (
        scheme not in ("smtp", "smtps", "smtp+ssl", "smtp+starttls")
        or not parts.hostname
    ):
        raise PermanentError(
            "the SMTP URL must look like smtp://user:password@host:port"
        )
    ssl_mode = scheme in ("smtps", "smtp+ssl")
    port = parts.port or (465 if ssl_mode else 587 if scheme == "smtp+starttls" else 25)
    mode = "plain"
    if ssl_mode:
        mode = "ssl"
    elif scheme == "smtp+starttls" or port == 587:
        mode = "starttls"
    user = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password else None
    return mode, port, parts.hostname, user, password


def send_email(payload: dict[str, Any], key: str, timeout: float) -> None:
    """Send an e-mail {to, subject, text, html, integration} through SMTP."""
    integration = _integration(payload.get("integration"), "email", "smtp")
    if integration is not None:
        url = integration.require("url")
        sender = integration.get("sender") or os.environ.get("MAIL_FROM")
        reply_to = integration.get("reply_to")
    else:
        url = os.environ.get("SMTP_URL") or ""
        sender, reply_to = os.environ.get("MAIL_FROM"), None
        if not url:
            raise DeliveryError(
                "email: the spec has no smtp integration and SMTP_URL is not set"
            )
    mode, port, host, user, password = _smtp_target(str(url))
    sender = str(sender or f"reference_crm@{host}")
    to = payload.get("to")
    raw = [to] if isinstance(to, str) else list(to or [])
    recipients = [
        address for _, address in getaddresses([str(r) for r in raw]) if address
    ]
    if not recipients:
        raise PermanentError("email: no recipient")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(str(r) for r in raw)
    message["Subject"] = str(payload.get("subject") or "")
    if reply_to:
        message["Reply-To"] = str(reply_to)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(key, sender)
    text, html = payload.get("text"), payload.get("html")
    if html is None:
        message.set_content(str(text or ""))
    elif text is None:
        message.set_content(str(html), subtype="html")
    else:
        message.set_content(str(text))
        message.add_alternative(str(html), subtype="html")
    context = ssl.create_default_context()
    try:
        if mode == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=context
            )
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            if mode == "starttls":
                client.starttls(context=context)
            if user:
                client.login(user, password or "")
            client.send_message(
                message, from_addr=parseaddr(sender)[1], to_addrs=recipients
            )
    except smtplib.SMTPResponseException as exc:
        error = f"SMTP {exc.smtp_code} from {host}:{port}: {exc.smtp_error!r}"
        raise (PermanentError if exc.smtp_code >= 500 else DeliveryError)(
            error
        ) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentError(f"SMTP {host}:{port} refused every recipient") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {host}:{port}: {type(exc).__name__}: {exc}") from exc


def _where(url: str) -> str:
    """``scheme://host:port`` of ``url``: error messages never show paths (tokens live there)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def http_request(
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: bytes | None,
    timeout: float,
) -> tuple[int, bytes]:
    """One HTTP request; (status, up to 1 MB of the body). Raises DeliveryError for a network
    failure, a 5xx or a 408/409/425/429 answer, PermanentError for any other 4xx."""
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise PermanentError(
            f"only http and https URLs can be called, not {url[:60]!r}"
        )
    request = urllib.request.Request(url, data=body, method=method.upper())
    request.add_header("User-Agent", USER_AGENT)
    for name, value in headers.items():
        request.add_header(str(name), str(value))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace")
        error = f"HTTP {exc.code} from {_where(url)}: {detail}"
        if exc.code >= 500 or exc.code in RETRYABLE_STATUSES:
            raise DeliveryError(error) from exc
        raise PermanentError(error) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{_where(url)}: {type(exc).__name__}: {reason}") from exc


def _json_body(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def send_telegram(payload: dict[str, Any], key: str, timeout: float) -> None:
    """Send a Telegram message {chat, text, integration} through the Bot API."""
    integration = _integration(payload.get("integration"), "telegram", "telegram")
    if integration is None:
        raise PermanentError("telegram: the spec has no telegram integration")
    token = integration.require("token")
    base = str(integration.get("base_url") or TELEGRAM_BASE_URL).rstrip("/")
    chat = payload.get("chat") or integration.get("chat")
    if not chat:
        raise PermanentError(
            "telegram: no chat (give one in the step or the integration)"
        )
    url = f"{base}/bot{token}/sendMessage"
    headers = {"Content-Type": "application/json"}
    body = _json_body({"chat_id": chat, "text": str(payload.get("text") or "")})
    _, answer = http_request("POST", url, headers=headers, body=body, timeout=timeout)
    try:
        ok = orjson.loads(answer or b"{}").get(
            "ok", True
        )  # nesting capped: no RecursionError
    except (ValueError, AttributeError):
        ok = True
    if ok is False:
        raise DeliveryError(f"telegram: the Bot API answered {answer[:300]!r}")


def send_webhook(payload: dict[str, Any], key: str, timeout: float) -> None:
    """POST {event, payload} signed with the integration's secret (``X-Signature``)."""
    integration = _integration(payload.get("integration"), "webhook", "webhook")
    if integration is None:
        raise PermanentError("webhook: the spec has no webhook integration")
    url = str(integration.require("url"))
    secret = str(integration.require("secret"))
    event = str(payload.get("event") or "")
    body = _json_body({"event": event, "payload": payload.get("payload")})
    headers = {
        "Content-Type": "application/json",
        "X-Event": event,
        "X-Signature": sign(secret, body),
        "Idempotency-Key": key,
    }
    limit = float(integration.get("timeout") or timeout)
    http_request("POST", url, headers=headers, body=body, timeout=limit)


def send_http(payload: dict[str, Any], key: str, timeout: float) -> None:
    """An HTTP call {method, url, headers, json, integration, timeout}; a relative URL is
    joined to the integration's ``base_url`` and its token sent as a bearer token."""
    integration = _integration(payload.get("integration"), "http", "http")
    url = str(payload.get("url") or "")
    headers = {str(k): str(v) for k, v in dict(payload.get("headers") or {}).items()}
    if integration is not None:
        if not urllib.parse.urlsplit(url).scheme:
            base = str(integration.require("base_url")).rstrip("/")
            url = f"{base}/{url.lstrip('/')}"
        token = integration.get("token")
        if token and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = f"Bearer {token}"
        timeout = float(integration.get("timeout") or timeout)
    if payload.get("timeout"):
        timeout = float(payload["timeout"])
    body = None
    if payload.get("json") is not None:
        body = _json_body(payload["json"])
        headers.setdefault("Content-Type", "application/json")
    headers.setdefault("Idempotency-Key", key)
    method = str(payload.get("method") or "GET")
    http_request(method, url, headers=headers, body=body, timeout=timeout)


def send_sms(payload: dict[str, Any], key: str, timeout: float) -> None:
    """POST {to, text, sender} to the SMS gateway, the token as a bearer token."""
    integration = _integration(payload.get("integration"), "sms", "sms")
    if integration is None:
        raise PermanentError("sms: the spec has no sms integration")
    url = str(integration.require("url"))
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    token = integration.get("token")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = _json_body(
        {
            "to": str(payload.get("to") or ""),
            "text": str(payload.get("text") or ""),
            "sender": integration.get("sender"),
        }
    )
    http_request("POST", url, headers=headers, body=body, timeout=timeout)


Deliverer = Callable[[dict[str, Any], str, float], None]
# kind -> function(payload, idempotency key, timeout in seconds); plugins may add kinds.
DELIVERERS: dict[str, Deliverer] = {
    "email": send_email,
    "telegram": send_telegram,
    "sms": send_sms,
    "webhook": send_webhook,
    "http": send_http,
}


def deliver(
    kind: str, payload: dict[str, Any], key: str, timeout: float = DEFAULT_TIMEOUT
) -> None:
    """Deliver one message; raises DeliveryError (try again) or PermanentError (give up)."""
    deliverer = DELIVERERS.get(kind)
    if deliverer is None:
        raise PermanentError(f"unknown outbox kind {kind!r}")
    deliverer(payload, key, timeout)


# --- the API ------------------------------------------------------------------

SUMMARY_KEYS = ("integration", "to", "chat", "subject", "event", "method")


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


def describe(message: OutboxMessage) -> dict[str, Any]:
    """The JSON of a message: its state and who it goes to, never its text (a password reset
    link must not reach the audit roles)."""
    payload = message.payload if isinstance(message.payload, dict) else {}
    summary = {k: payload[k] for k in SUMMARY_KEYS if payload.get(k) is not None}
    if payload.get("url"):
        summary["url"] = (
            _where(str(payload["url"])) if "://" in str(payload["url"]) else None
        )
    return {
        "id": message.id,
        "kind": message.kind,
        "status": message.status,
        "attempts": message.attempts,
        "next_attempt_at": _iso(message.next_attempt_at),
        "created_at": _iso(message.created_at),
        "sent_at": _iso(message.sent_at),
        "locked_until": _iso(message.locked_until),
        "last_error": message.last_error,
        "idempotency_key": message.idempotency_key,
        "summary": summary,
    }


async def _require_reader(request: Request) -> None:
    user = await auth.require_user(request)
    if not audit.can_read(user):
        raise ApiError(403, "forbidden", "Your role may not see the outbox.")


def _list(database: Any, filters: list[Any], limit: int, offset: int) -> dict[str, Any]:
    with database.session() as session:
        total = session.scalar(
            sa.select(sa.func.count(OutboxMessage.id)).where(*filters)
        )
        rows = session.scalars(
            sa.select(OutboxMessage)
            .where(*filters)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        items = [describe(row) for row in rows]
    return {"items": items, "total": total or 0, "limit": limit, "offset": offset}


async def list_messages(request: Request) -> Response:
    """``GET /api/outbox``: newest first; filters ``status`` and ``kind``; limit/offset."""
    await _require_reader(request)
    limit = audit.query_integer(
        request, "limit", audit.DEFAULT_LIMIT, 1, audit.MAX_LIMIT
    )
    offset = audit.query_integer(request, "offset", 0, 0, None)
    filters: list[Any] = []
    status = request.query_params.get("status")
    if status:
        if status not in STATUSES:
            message = f"status must be one of {', '.join(STATUSES)}."
            raise ApiError(422, "validation_error", message, {"status": message})
        filters.append(OutboxMessage.status == status)
    kind = request.query_params.get("kind")
    if kind:
        filters.append(OutboxMessage.kind == kind)
    assert limit is not None and offset is not None
    data = await run_in_threadpool(_list, request.app.state.db, filters, limit, offset)
    return JSONResponse(data)


def _retry(database: Any, message_id: int) -> dict[str, Any] | None:
    with database.session() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None:
            return None
        if message.status == "sent":
            raise ApiError(
                409,
                "conflict",
                "The message was sent already; retrying would send it twice.",
            )
        if message.status == "dead":
            message.attempts = 0
        message.status = "pending"
        message.next_attempt_at = utcnow()
        message.locked_until = None
        message.claim_token = None
        session.flush()
        return describe(message)


async def retry_message(request: Request) -> Response:
    """``POST /api/outbox/{id}/retry``: a dead (or waiting) message is due again now."""
    await _require_reader(request)
    raw = request.path_params["id"]
    data = await run_in_threadpool(_retry, request.app.state.db, raw)
    if data is None:
        raise ApiError(404, "not_found", f"There is no outbox message {raw}.")
    return JSONResponse(data)


# Relative to ``/api``: the app adds them to the routes below its ``/api`` mount.
routes = [
    Route("/outbox", list_messages, methods=["GET"], name="outbox_list"),
    Route(
        "/outbox/{id:int}/retry", retry_message, methods=["POST"], name="outbox_retry"
    ),
]
