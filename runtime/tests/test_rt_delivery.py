"""``crmgen_runtime.delivery`` against real loopback services: an SMTP server (aiosmtpd) and an
HTTP server on 127.0.0.1 that records what it was sent and answers what the test asks."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from crmgen_runtime import delivery
from crmgen_runtime.delivery import Courier, DeliveryError, Integration, PermanentError


class Received:
    """What the loopback HTTP server was sent, and the answers it gives, in order."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: list[tuple[int, bytes]] = []


@pytest.fixture
def http() -> Iterator[tuple[str, Received]]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            received.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": self.rfile.read(length),
                }
            )
            status, body = received.answers.pop(0) if received.answers else (200, b"{}")
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (the controller checks it by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def courier(*integrations: Integration) -> Courier:
    # the loopback test server is allowed by name (other private addresses are refused)
    return Courier({i.name: i for i in integrations}, "shop", allow_hosts=["127.0.0.1"])


# --- integrations ------------------------------------------------------------------------


def test_a_setting_comes_from_its_variable_else_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    mail = Integration("mail", "smtp", {"url": ("SHOP_SMTP", "smtp://fallback"), "x": (None, 1)})
    monkeypatch.delenv("SHOP_SMTP", raising=False)
    assert mail.get("url") == "smtp://fallback" and mail.get("x") == 1
    assert mail.get("missing", "default") == "default"
    monkeypatch.setenv("SHOP_SMTP", "smtp://from-env")
    assert mail.require("url") == "smtp://from-env"
    with pytest.raises(DeliveryError, match="set the environment variable SHOP_TOKEN"):
        Integration("t", "telegram", {"token": ("SHOP_TOKEN", None)}).require("token")


def test_the_courier_picks_the_named_integration_or_the_first_of_its_type() -> None:
    a, b = Integration("b2", "http", {}), Integration("a1", "http", {})
    chosen = courier(a, b, Integration("mail", "smtp", {}))
    assert chosen.integration("", "http", "http") is b
    assert chosen.integration("b2", "http", "http") is a
    assert chosen.integration(None, "sms", "sms") is None
    with pytest.raises(PermanentError, match="no integration 'nope'"):
        chosen.integration("nope", "http", "http")
    with pytest.raises(PermanentError, match="is a smtp, not http"):
        chosen.integration("mail", "http", "http")
    with pytest.raises(PermanentError, match="unknown outbox kind"):
        chosen.deliver("pigeon", {}, "k")


def test_smtp_urls_message_ids_and_signatures() -> None:
    assert delivery.smtp_target("smtp://u:p%40ss@mail.example:2525") == (
        "plain",
        2525,
        "mail.example",
        "u",
        "p@ss",
    )
    assert delivery.smtp_target("smtp://mail.example")[:2] == ("plain", 25)
    assert delivery.smtp_target("smtp://mail.example:587")[0] == "starttls"
    assert delivery.smtp_target("smtp+starttls://mail.example")[:2] == ("starttls", 587)
    assert delivery.smtp_target("smtps://mail.example")[:2] == ("ssl", 465)
    with pytest.raises(PermanentError):
        delivery.smtp_target("http://mail.example")
    first = delivery.message_id("key-1", "CRM <crm@shop.example>")
    assert first == delivery.message_id("key-1", "crm@shop.example")
    assert first.endswith(".outbox@shop.example>") and first != delivery.message_id("k2", "a@b")
    body = b'{"event":"x"}'
    expected = hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    assert delivery.sign("secret", body) == f"sha256={expected}"
    assert delivery.where("https://user:token@hooks.example:8443/path?q=1") == (
        "https://hooks.example:8443"
    )


# --- e-mail --------------------------------------------------------------------------------


def test_an_email_reaches_the_smtp_server_with_its_idempotency_key(
    smtp: tuple[int, Inbox],
) -> None:
    port, inbox = smtp
    mail = Integration("mail", "smtp", {"url": (None, f"smtp://127.0.0.1:{port}")})
    payload = {"to": ["Ann <ann@example.com>"], "subject": "Hi", "text": "t", "html": "<p>h</p>"}
    courier(mail).deliver("email", payload, "key-1", 5)
    [(sender, recipients, raw)] = inbox.messages
    message = message_from_bytes(raw)
    assert sender == "shop@127.0.0.1" and recipients == ["ann@example.com"]
    assert message["Subject"] == "Hi" and message["Message-ID"] == delivery.message_id(
        "key-1", "shop@127.0.0.1"
    )
    assert {part.get_content_type() for part in message.walk()} >= {"text/plain", "text/html"}


def test_email_without_an_integration_uses_smtp_url_and_needs_a_recipient(
    smtp: tuple[int, Inbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, inbox = smtp
    monkeypatch.delenv("SMTP_URL", raising=False)
    with pytest.raises(DeliveryError, match="SMTP_URL is not set"):
        courier().deliver("email", {"to": "a@example.com"}, "k", 5)
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("MAIL_FROM", "desk@shop.example")
    with pytest.raises(PermanentError, match="no recipient"):
        courier().deliver("email", {"to": []}, "k", 5)
    courier().deliver("email", {"to": "a@example.com", "html": "<b>x</b>"}, "k", 5)
    [(sender, _, raw)] = inbox.messages
    assert sender == "desk@shop.example"
    assert message_from_bytes(raw).get_content_type() == "text/html"


def test_an_smtp_server_that_does_not_answer_is_a_retry() -> None:
    mail = Integration("mail", "smtp", {"url": (None, "smtp://127.0.0.1:9")})
    with pytest.raises(DeliveryError) as caught:
        courier(mail).deliver("email", {"to": "a@example.com"}, "k", 2)
    assert not isinstance(caught.value, PermanentError)


# --- HTTP ----------------------------------------------------------------------------------


def test_http_answers_decide_between_retry_and_give_up(http: tuple[str, Received]) -> None:
    url, received = http
    received.answers += [(200, b"ok"), (503, b"busy"), (429, b""), (404, b"no such hook")]
    loopback = delivery.Egress(["127.0.0.1"])
    assert delivery.http_request("GET", url, headers={}, body=None, timeout=5, egress=loopback) == (
        200,
        b"ok",
    )
    for permanent in (False, False, True):
        with pytest.raises(DeliveryError) as caught:
            delivery.http_request("GET", url, headers={}, body=None, timeout=5, egress=loopback)
        assert isinstance(caught.value, PermanentError) is permanent
    assert "no such hook" in str(caught.value)
    with pytest.raises(PermanentError, match="only http and https"):
        delivery.http_request("GET", "file:///etc/passwd", headers={}, body=None, timeout=5)
    with pytest.raises(DeliveryError):
        delivery.http_request(
            "GET", "http://127.0.0.1:9/", headers={}, body=None, timeout=2, egress=loopback
        )


def test_a_webhook_is_signed_and_carries_its_key(http: tuple[str, Received]) -> None:
    url, received = http
    hook = Integration("hook", "webhook", {"url": (None, url + "/in"), "secret": (None, "s3")})
    courier(hook).deliver("webhook", {"event": "deal.won", "payload": {"id": 7}}, "key-9", 5)
    [request] = received.requests
    assert request["path"] == "/in" and request["headers"]["Idempotency-Key"] == "key-9"
    assert request["headers"]["X-Signature"] == delivery.sign("s3", request["body"])
    assert request["headers"]["User-Agent"] == "shop-outbox/1"
    assert json.loads(request["body"]) == {"event": "deal.won", "payload": {"id": 7}}


def test_telegram_sms_and_http_calls(http: tuple[str, Received]) -> None:
    url, received = http
    bot = Integration("bot", "telegram", {"token": (None, "T"), "base_url": (None, url)})
    sms = Integration("sms", "sms", {"url": (None, url + "/sms"), "token": (None, "S")})
    api = Integration("api", "http", {"base_url": (None, url + "/v1"), "token": (None, "A")})
    chosen = courier(bot, sms, api)
    chosen.deliver("telegram", {"chat": 42, "text": "hi"}, "k1", 5)
    received.answers.append((200, b'{"ok": false, "description": "chat not found"}'))
    with pytest.raises(DeliveryError, match="Bot API"):
        chosen.deliver("telegram", {"chat": 42, "text": "hi"}, "k2", 5)
    with pytest.raises(PermanentError, match="no chat"):
        chosen.deliver("telegram", {"text": "hi"}, "k3", 5)
    chosen.deliver("sms", {"to": "+100", "text": "code"}, "k4", 5)
    chosen.deliver("http", {"method": "PUT", "url": "items/1", "json": {"a": 1}}, "k5", 5)
    telegram, _, text, call = received.requests
    assert telegram["path"] == "/botT/sendMessage"
    assert json.loads(telegram["body"]) == {"chat_id": 42, "text": "hi"}
    assert (
        text["headers"]["Authorization"] == "Bearer S" and json.loads(text["body"])["to"] == "+100"
    )
    assert call["method"] == "PUT" and call["path"] == "/v1/items/1"
    assert (
        call["headers"]["Authorization"] == "Bearer A"
        and call["headers"]["Idempotency-Key"] == "k5"
    )
    for kind in ("telegram", "sms", "webhook"):
        with pytest.raises(PermanentError, match=f"no {kind} integration"):
            courier().deliver(kind, {}, "k", 5)
