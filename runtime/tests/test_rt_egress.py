"""``crmgen_runtime.egress`` and ``crmgen_runtime.replies``: outgoing requests to non-public
addresses are refused (nothing is sent) unless the host is allowed by name; a JSON reply is
read field by field. Against a real loopback HTTP server."""

from __future__ import annotations

import logging
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from crmgen_runtime import delivery, egress
from crmgen_runtime.delivery import Courier, Integration, PermanentError
from crmgen_runtime.processes import call_http
from crmgen_runtime.replies import item, unwrap


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[int, list[str]]]:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{port}/json")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b'{"title": "Acme", "items": [{"title": "first"}], "n": {"keys": 2}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield port, hits
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "reserved"),
    ],
)
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    assert why in (egress.refusal(address) or "")


def test_public_addresses_pass() -> None:
    assert egress.refusal("93.184.216.34") is None and egress.refusal("2606:4700::1") is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/json",
        "http://[::1]:{port}/json",
        "http://10.0.0.1:{port}/json",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:{port}/json",  # a name that resolves to 127.0.0.1
    ],
)
def test_an_http_step_to_a_private_address_sends_nothing(
    server: tuple[int, list[str]], url: str, caplog: pytest.LogCaptureFixture
) -> None:
    port, hits = server
    before = len(hits)
    with caplog.at_level(logging.WARNING):
        assert call_http("GET", url.format(port=port), {}, None, 2, {}, "p") is None
    assert "not sent: refused" in caplog.text and "app.allow_hosts" in caplog.text
    assert len(hits) == before


def test_a_redirect_to_a_private_address_is_refused(
    server: tuple[int, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    port, hits = server
    allowed = egress.Egress(["localhost"])
    before = len(hits)
    with caplog.at_level(logging.WARNING):
        url = f"http://localhost:{port}/redirect"
        assert call_http("GET", url, {}, None, 2, {}, "p", egress=allowed) is None
    assert "127.0.0.1 is a loopback address" in caplog.text
    assert hits[before:] == ["/redirect"]  # the redirect's target was never asked


def test_a_host_allowed_by_name_answers_a_readable_reply(
    server: tuple[int, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, _ = server
    reply = call_http(
        "GET",
        f"http://127.0.0.1:{port}/json",
        {},
        None,
        2,
        {},
        "p",
        egress=egress.Egress(["127.0.0.1"]),
    )
    assert reply is not None and reply.status == 200 and reply.ok
    assert reply.headers["content-type"] == "application/json"
    assert reply.body.title == "Acme" and reply.body.missing is None
    assert item(reply.body.items, 0).title == "first" and item(reply.body.items, 5) is None
    assert reply.body.n.keys == 2  # a field named like a dict method is the field
    assert unwrap(reply.body)["items"] == [{"title": "first"}]
    monkeypatch.setenv(egress.ENV, "LocalHost.")
    assert call_http("GET", f"http://localhost:{port}/json", {}, None, 2, {}, "p") is not None


def test_outbox_http_messages_and_webhooks_are_refused_permanently(
    server: tuple[int, list[str]],
) -> None:
    port, hits = server
    before = len(hits)
    hook = Integration(
        "hook", "webhook", {"url": (None, f"http://127.0.0.1:{port}/in"), "secret": (None, "s")}
    )
    courier = Courier({"hook": hook}, "app")
    with pytest.raises(PermanentError, match="loopback"):
        courier.deliver("webhook", {"event": "e", "payload": {}}, "k", 2)
    with pytest.raises(PermanentError, match="link-local"):
        courier.deliver("http", {"url": "http://169.254.169.254/"}, "k", 2)
    assert len(hits) == before
    allowed = Courier({"hook": hook}, "app", allow_hosts=["127.0.0.1"])
    allowed.deliver("webhook", {"event": "e", "payload": {}}, "k", 2)
    assert hits[-1] == "/in"


def test_an_integrations_own_hosts_hold_for_its_requests_only(
    server: tuple[int, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    port, hits = server
    own = (None, ("127.0.0.1",))
    url = f"http://127.0.0.1:{port}/in"
    hook = Integration("hook", "webhook", {"url": (None, url), "secret": (None, "s")})
    trusted = Integration("trusted", "webhook", {"url": (None, url), "secret": (None, "s")})
    trusted.settings["allow_hosts"] = own
    courier = Courier({"hook": hook, "trusted": trusted}, "app")
    before = len(hits)
    courier.deliver("webhook", {"integration": "trusted", "event": "e", "payload": {}}, "k", 2)
    assert hits[before:] == ["/in"] and trusted.hosts() == ("127.0.0.1",) and hook.hosts() == ()
    with pytest.raises(PermanentError, match="loopback"):
        courier.deliver("webhook", {"integration": "hook", "event": "e", "payload": {}}, "k", 2)
    assert courier.egress_for(None) is courier.egress
    assert courier.egress.with_hosts([]) is courier.egress
    # an http step through an integration that allows the host; without it, refused
    reply = call_http(
        "GET", "/json", {}, None, 2, {"base_url": (None, url[:-3]), "allow_hosts": own}, "p"
    )
    assert reply is not None and reply.body.title == "Acme"
    with caplog.at_level(logging.WARNING):
        assert call_http("GET", "/json", {}, None, 2, {"base_url": (None, url[:-3])}, "p") is None
    assert "not sent: refused" in caplog.text


def test_only_http_and_https_are_opened() -> None:
    request = urllib.request.Request("file:///etc/passwd")
    with pytest.raises(urllib.error.URLError):
        egress.DEFAULT.open(request, 2)
    with pytest.raises(PermanentError):
        delivery.http_request("GET", "ftp://example.com/", headers={}, body=None, timeout=2)


def test_a_reply_reads_in_the_templates_of_steps() -> None:
    from crmgen_runtime.processes import template
    from crmgen_runtime.replies import Reply

    reply = Reply(200, {"X-Id": "7"}, b'{"offices": [{"city": "Kazan"}], "n": {"items": 3}}')
    text = (
        "{{ r.body.offices[0].city }} {{ r.status }} {{ r.body.n.items }} {{ r.headers['x-id'] }}"
    )
    assert template(text, html=False).render(r=reply) == "Kazan 200 3 7"
    assert str(reply.body.n) == '{"items":3}' and Reply(200, {}, b"plain").body == "plain"
