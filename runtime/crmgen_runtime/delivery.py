"""Delivering the outbox's messages: e-mail through SMTP, Telegram, SMS gateways, signed
webhooks and plain HTTP calls.

A ``Courier`` holds an app's integrations (``Integration``: each setting a value or the
environment variable to read it from, at delivery time, so secrets stay in the environment) and
delivers one message at a time with ``deliver(kind, payload, key, timeout)``: it raises
``DeliveryError`` when the message may go through on another try and ``PermanentError`` when it
cannot. Delivery is at least once, so every message carries its idempotency ``key``
(``Message-ID`` of an e-mail, ``Idempotency-Key`` header of an HTTP request).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, parseaddr
from typing import Any

import orjson

from crmgen_runtime.egress import DEFAULT as DEFAULT_EGRESS
from crmgen_runtime.egress import Egress, refused

KINDS = ("email", "telegram", "sms", "webhook", "http")
DEFAULT_TIMEOUT = 30.0
TELEGRAM_BASE_URL = "https://api.telegram.org"
# HTTP answers worth trying again; any other 4xx means the request itself is wrong.
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})

Deliverer = Callable[[dict[str, Any], str, float], None]


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

    def hosts(self) -> tuple[str, ...]:
        """The hosts requests through this integration may reach on a non-public address (its
        ``allow_hosts``: a list in the spec, never from the environment)."""
        value = self.settings.get("allow_hosts", (None, ()))[1]
        return tuple(str(h) for h in value) if isinstance(value, (list, tuple)) else ()

    def require(self, name: str) -> Any:
        value = self.get(name)
        if value is None or value == "":
            env = self.settings.get(name, (None, None))[0]
            where = f" (set the environment variable {env})" if env else ""
            raise DeliveryError(f"integration {self.name!r}: {name} is not set{where}")
        return value


def message_id(key: str, sender: str) -> str:
    """The ``Message-ID`` of the e-mail with idempotency ``key``: the same for every attempt."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:40]}.outbox@{domain}>"


def sign(secret: str, body: bytes) -> str:
    """The ``X-Signature`` of a webhook body: ``sha256=`` and the hex HMAC-SHA256."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def smtp_target(url: str) -> tuple[str, int, str, str | None, str | None]:
    """(mode, port, host, user, password) of an SMTP URL.

    ``smtp://`` is plain (STARTTLS on port 587), ``smtp+starttls://`` STARTTLS and
    ``smtps://`` TLS from the start: mode ``plain``, ``starttls`` or ``ssl``.
    """
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps", "smtp+ssl", "smtp+starttls") or not parts.hostname:
        raise PermanentError("the SMTP URL must look like smtp://user:password@host:port")
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


def where(url: str) -> str:
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
    user_agent: str = "crmgen-outbox/1",
    egress: Egress = DEFAULT_EGRESS,
) -> tuple[int, bytes]:
    """One HTTP request; (status, up to 1 MB of the body). Raises DeliveryError for a network
    failure, a 5xx or a 408/409/425/429 answer, PermanentError for any other 4xx and for an
    address ``egress`` refuses (a private or loopback one not allowed by name: nothing is sent)."""
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise PermanentError(f"only http and https URLs can be called, not {url[:60]!r}")
    request = urllib.request.Request(url, data=body, method=method.upper())
    request.add_header("User-Agent", user_agent)
    for name, value in headers.items():
        request.add_header(str(name), str(value))
    try:
        with egress.open(request, timeout) as response:  # http(s) only
            return int(response.status), response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace")
        error = f"HTTP {exc.code} from {where(url)}: {detail}"
        if exc.code >= 500 or exc.code in RETRYABLE_STATUSES:
            raise DeliveryError(error) from exc
        raise PermanentError(error) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if refused(exc) is not None:
            raise PermanentError(f"{where(url)}: {reason}") from exc
        raise DeliveryError(f"{where(url)}: {type(exc).__name__}: {reason}") from exc


def json_body(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Courier:
    """Delivers the messages of one app through its ``integrations`` (by name); ``app`` names
    the app in a default sender (``app@smtp-host``) and the ``User-Agent`` of its requests."""

    def __init__(
        self, integrations: Mapping[str, Integration], app: str, *, allow_hosts: Iterable[str] = ()
    ) -> None:
        self.integrations = dict(integrations)
        # requests to non-public addresses are refused unless their host is allowed by name
        self.egress = Egress(allow_hosts)
        self.app = app
        self.user_agent = f"{app}-outbox/1"
        # kind -> function(payload, idempotency key, timeout in seconds); plugins may add kinds.
        self.deliverers: dict[str, Deliverer] = {
            "email": self.send_email,
            "telegram": self.send_telegram,
            "sms": self.send_sms,
            "webhook": self.send_webhook,
            "http": self.send_http,
        }

    def deliver(
        self, kind: str, payload: dict[str, Any], key: str, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        """Deliver one message; raises DeliveryError (try again) or PermanentError (give up)."""
        deliverer = self.deliverers.get(kind)
        if deliverer is None:
            raise PermanentError(f"unknown outbox kind {kind!r}")
        deliverer(payload, key, timeout)

    def egress_for(self, integration: Integration | None) -> Egress:
        """The policy of a request through ``integration``: the app's, and the hosts the
        integration allows itself (its ``allow_hosts``)."""
        if integration is None:
            return self.egress
        return self.egress.with_hosts(integration.hosts())

    def integration(self, name: Any, kind: str, needed: str) -> Integration | None:
        """The integration ``name`` (which must be of type ``needed``), or the only one of that
        type when ``name`` is empty (None when the app has none)."""
        if name:
            found = self.integrations.get(str(name))
            if found is None:
                raise PermanentError(f"{kind}: the spec has no integration {name!r}")
            if found.type != needed:
                raise PermanentError(
                    f"{kind}: integration {name!r} is a {found.type}, not {needed}"
                )
            return found
        candidates = [i for i in self.integrations.values() if i.type == needed]
        return min(candidates, key=lambda i: i.name) if candidates else None

    def send_email(self, payload: dict[str, Any], key: str, timeout: float) -> None:
        """Send an e-mail {to, subject, text, html, integration} through SMTP."""
        integration = self.integration(payload.get("integration"), "email", "smtp")
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
        mode, port, host, user, password = smtp_target(str(url))
        sender = str(sender or f"{self.app}@{host}")
        to = payload.get("to")
        raw = [to] if isinstance(to, str) else list(to or [])
        recipients = [address for _, address in getaddresses([str(r) for r in raw]) if address]
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
                client.send_message(message, from_addr=parseaddr(sender)[1], to_addrs=recipients)
        except smtplib.SMTPResponseException as exc:
            error = f"SMTP {exc.smtp_code} from {host}:{port}: {exc.smtp_error!r}"
            raise (PermanentError if exc.smtp_code >= 500 else DeliveryError)(error) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"SMTP {host}:{port} refused every recipient") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {host}:{port}: {type(exc).__name__}: {exc}") from exc

    def send_telegram(self, payload: dict[str, Any], key: str, timeout: float) -> None:
        """Send a Telegram message {chat, text, integration} through the Bot API."""
        integration = self.integration(payload.get("integration"), "telegram", "telegram")
        if integration is None:
            raise PermanentError("telegram: the spec has no telegram integration")
        token = integration.require("token")
        base = str(integration.get("base_url") or TELEGRAM_BASE_URL).rstrip("/")
        chat = payload.get("chat") or integration.get("chat")
        if not chat:
            raise PermanentError("telegram: no chat (give one in the step or the integration)")
        url = f"{base}/bot{token}/sendMessage"
        headers = {"Content-Type": "application/json"}
        body = json_body({"chat_id": chat, "text": str(payload.get("text") or "")})
        _, answer = http_request(
            "POST",
            url,
            headers=headers,
            body=body,
            timeout=timeout,
            user_agent=self.user_agent,
            egress=self.egress_for(integration),
        )
        try:
            ok = orjson.loads(answer or b"{}").get("ok", True)  # nesting capped: no RecursionError
        except (ValueError, AttributeError):
            ok = True
        if ok is False:
            raise DeliveryError(f"telegram: the Bot API answered {answer[:300]!r}")

    def send_webhook(self, payload: dict[str, Any], key: str, timeout: float) -> None:
        """POST {event, payload} signed with the integration's secret (``X-Signature``)."""
        integration = self.integration(payload.get("integration"), "webhook", "webhook")
        if integration is None:
            raise PermanentError("webhook: the spec has no webhook integration")
        url = str(integration.require("url"))
        secret = str(integration.require("secret"))
        event = str(payload.get("event") or "")
        body = json_body({"event": event, "payload": payload.get("payload")})
        headers = {
            "Content-Type": "application/json",
            "X-Event": event,
            "X-Signature": sign(secret, body),
            "Idempotency-Key": key,
        }
        limit = float(integration.get("timeout") or timeout)
        http_request(
            "POST",
            url,
            headers=headers,
            body=body,
            timeout=limit,
            user_agent=self.user_agent,
            egress=self.egress_for(integration),
        )

    def send_http(self, payload: dict[str, Any], key: str, timeout: float) -> None:
        """An HTTP call {method, url, headers, json, integration, timeout}; a relative URL is
        joined to the integration's ``base_url`` and its token sent as a bearer token."""
        integration = self.integration(payload.get("integration"), "http", "http")
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
            body = json_body(payload["json"])
            headers.setdefault("Content-Type", "application/json")
        headers.setdefault("Idempotency-Key", key)
        method = str(payload.get("method") or "GET")
        http_request(
            method,
            url,
            headers=headers,
            body=body,
            timeout=timeout,
            user_agent=self.user_agent,
            egress=self.egress_for(integration),
        )

    def send_sms(self, payload: dict[str, Any], key: str, timeout: float) -> None:
        """POST {to, text, sender} to the SMS gateway, the token as a bearer token."""
        integration = self.integration(payload.get("integration"), "sms", "sms")
        if integration is None:
            raise PermanentError("sms: the spec has no sms integration")
        url = str(integration.require("url"))
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        token = integration.get("token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = json_body(
            {
                "to": str(payload.get("to") or ""),
                "text": str(payload.get("text") or ""),
                "sender": integration.get("sender"),
            }
        )
        http_request(
            "POST",
            url,
            headers=headers,
            body=body,
            timeout=timeout,
            user_agent=self.user_agent,
            egress=self.egress_for(integration),
        )
