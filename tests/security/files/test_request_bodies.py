"""Request bodies are read only up to their limit, on every endpoint that reads one, over real
HTTP (the reference CRM on SQLite behind uvicorn): a body announced as too large is refused
before it is sent, a chunked one as soon as it passes the limit, and the server's memory does
not follow the body. Bodies that are small but costly to parse (deeply nested JSON, a form of
a million fields) get a 4xx, never a 500."""

from __future__ import annotations

import http.server
import re
import select
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.security.crm import Crm, start_crm
from tests.security.files.uploads import MiB, browser, csrf, measured

TOTAL = 64 * MiB  # what the client would send
WIRE = 16 * MiB  # at most this much may have left the client when the answer comes (buffers)
SEND_CHUNK = 256 * 1024

# Every kind of endpoint that reads a body: the API's create and update, sign-in and password
# reset, a custom endpoint, an action, and the UI's forms (signed in, so they read the form).
API = [
    ("POST", "/api/contacts"),
    ("PATCH", "/api/contacts/1"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/password-reset"),
    ("POST", "/api/auth/password-reset/confirm"),
    ("POST", "/api/tasks/bulk/reassign"),
    ("POST", "/api/deals/1/win"),
    ("POST", "/api/deals/1/actions/mark_deal_lost"),
]
FORMS = [
    ("POST", "/login"),
    ("POST", "/contacts/new"),
    ("POST", "/contacts/1/edit"),
    ("POST", "/contacts/bulk-delete"),
    ("POST", "/contacts/1/delete"),
]


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crm]:
    with start_crm("sqlite", tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module")
def cookie(crm: Crm) -> str:
    """The session cookie of a signed-in admin."""
    with browser(crm) as client:
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def send(crm: Crm, method: str, path: str, headers: str, *, chunked: bool) -> tuple[int, int]:
    """Send a request whose body would be ``TOTAL`` bytes, stopping once the server answers;
    the status and the bytes of body sent."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {TOTAL}"
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{crm.port}\r\n{headers}{framing}\r\n\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", crm.port), timeout=30) as sock:
        sock.sendall(head.encode())
        piece = b"a" * SEND_CHUNK
        frame = b"%x\r\n" % len(piece) + piece + b"\r\n" if chunked else piece
        try:
            while sent < TOTAL and not select.select([sock], [], [], 0)[0]:
                sock.sendall(frame)
                sent += len(piece)
        except OSError:  # the server answered and closed
            pass
        if sent >= TOTAL:  # everything sent: wait for the answer
            if chunked:
                sock.sendall(b"0\r\n\r\n")
            select.select([sock], [], [], 30)
        answer = b""
        try:
            while b"\r\n" not in answer:
                data = sock.recv(4096)
                if not data:
                    break
                answer += data
        except OSError:
            pass
    match = re.match(rb"HTTP/1\.1 (\d{3})", answer)
    assert match, f"no answer to {method} {path} after {sent} bytes: {answer[:200]!r}"
    return int(match.group(1)), sent


@pytest.mark.parametrize("chunked", [False, True], ids=["announced", "chunked"])
@pytest.mark.parametrize(("method", "path"), API + FORMS, ids=lambda v: str(v))
def test_a_64_mb_body_is_refused_at_the_limit(
    crm: Crm, cookie: str, method: str, path: str, chunked: bool
) -> None:
    if path.startswith("/api/"):
        headers = "Content-Type: application/json\r\n"
    else:
        headers = f"Content-Type: application/x-www-form-urlencoded\r\nCookie: {cookie}\r\n"
    with measured(crm) as cost:
        status, sent = send(crm, method, path, headers, chunked=chunked)
    assert status == 413, (status, sent)
    assert sent <= WIRE, f"{sent / MiB:.0f} MiB went out before the answer"
    assert cost.peak_growth < 32 * MiB, f"peak memory grew by {cost.peak_growth / MiB:.0f} MiB"


def test_an_upload_of_64_mb_is_refused_at_the_limit(crm: Crm, cookie: str) -> None:
    headers = f"Content-Type: multipart/form-data; boundary=b\r\nCookie: {cookie}\r\n"
    for chunked in (False, True):
        with measured(crm) as cost:
            status, sent = send(crm, "POST", "/contacts/import", headers, chunked=chunked)
        assert status == 413 and sent <= WIRE, (status, sent)
        assert cost.peak_growth < 32 * MiB, cost


def test_deeply_nested_json_is_a_400(crm: Crm) -> None:
    with crm.client() as client:
        answer = client.post(
            "/api/auth/login",
            content=b"[" * 200_000,
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_json"


def test_deeply_nested_json_in_a_form_field_is_a_form_error(crm: Crm) -> None:
    with browser(crm) as client:
        page = client.get("/companies/1/edit")
        answer = client.post(
            "/companies/1/edit",
            data={"csrf_token": csrf(page.text), "name": "Deep", "extra": "[" * 200_000},
        )
    assert answer.status_code in (400, 422), answer.status_code


def test_a_form_of_half_a_million_fields_is_refused_cheaply(crm: Crm, cookie: str) -> None:
    body = b"a&" * 500_000  # 1 MB
    with measured(crm) as cost, crm.client(headers={"Cookie": cookie}) as client:
        answer = client.post(
            "/contacts/new",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 413, answer.status_code
    assert cost.peak_growth < 32 * MiB, f"peak memory grew by {cost.peak_growth / MiB:.0f} MiB"


class _Deep(http.server.BaseHTTPRequestHandler):
    """An enrichment service answering with JSON nested 100,000 deep."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"[" * 100_000)

    def log_message(self, *args: object) -> None:
        pass


def test_an_integration_answering_deeply_nested_json_does_not_break_a_create(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    service = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Deep)
    threading.Thread(target=service.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{service.server_port}/api"
    try:
        env = {"ENRICHMENT_API_URL": url}
        with (
            start_crm("sqlite", tmp_path_factory, env=env) as crm,
            crm.client(crm.token("admin")) as client,
        ):
            answer = client.post(
                "/api/companies", json={"name": "Deep Co", "website": "https://deep.example"}
            )
    finally:
        service.shutdown()
        service.server_close()
    assert answer.status_code == 201, answer.text
