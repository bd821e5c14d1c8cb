"""Fixtures for the outbox worker and scheduler tests: a generated app, loopback services.

The app is generated once (``SPEC``: integrations smtp, telegram and webhook) and only ever run
in subprocesses (``python -m relay_crm ...`` with ``PYTHONPATH=OUT``), each bounded by a
timeout and killed at teardown. The services are real and on 127.0.0.1 only: an aiosmtpd SMTP
server and a threading HTTP server standing in for Telegram and the webhook receiver. Each
test gets a fresh database (SQLite file or a PostgreSQL database of its own, dropped after).
"""

from __future__ import annotations

import asyncio
import email
import email.message
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crmgen.generate import generate
from tests.app_settings import app_settings_env
from tests.migrations.apptools import Templates, app_path, engine_for, write_spec

PACKAGE = "relay_crm"
HERE = Path(__file__).resolve().parent
TELEGRAM_TOKEN = "123:test-token"
WEBHOOK_SECRET = "s3cret-webhook-key"

SPEC = """
app:
  name: relay_crm
  title: Relay CRM
  timezone: Europe/Moscow
roles:
  admin: {superuser: true}
  auditor: {audit: true}
  sales: Sales
entities:
  Contact:
    fields:
      name: {type: string, required: true}
integrations:
  mail:
    type: smtp
    url: {env: RELAY_SMTP_URL}
    sender: Relay CRM <crm@relay.example>
    reply_to: sales@relay.example
  bot:
    type: telegram
    token: {env: RELAY_TELEGRAM_TOKEN}
    base_url: {env: RELAY_TELEGRAM_BASE, default: 'https://api.telegram.org'}
    chat: '42'
  hooks:
    type: webhook
    url: {env: RELAY_WEBHOOK_URL}
    secret: {env: RELAY_WEBHOOK_SECRET}
    timeout: 5
    events: [Contact.create]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the SMTP server --------------------------------------------------------------


class MailHandler:
    """aiosmtpd handler keeping every accepted message (optionally slow)."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.delay = 0.0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]


class SmtpServer:
    """An SMTP server on a fixed loopback port that can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = MailHandler()
        self.controller: Any = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A running SMTP server (``smtp.stop()`` takes it down, ``start()`` brings it back)."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_down() -> Iterator[SmtpServer]:
    """An SMTP server that is not running yet (its port is reserved by nobody)."""
    server = SmtpServer()
    try:
        yield server
    finally:
        server.stop()


# --- the HTTP receiver (Telegram, webhooks) ----------------------------------------


class HttpRecorder(ThreadingHTTPServer):
    """Records every request: (method, path, headers, body); answers 200 {"ok": true}, or
    the status ``statuses[path]``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recording)
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.statuses: dict[str, int] = {}
        self.answers: dict[str, Any] = {}  # path prefix -> the JSON to answer (else {"ok": ...})
        self.redirects: dict[str, str] = {}  # path prefix -> where a 302 sends the client
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def received(self, path_prefix: str) -> list[tuple[str, str, dict[str, str], bytes]]:
        with self.lock:
            return [r for r in self.requests if r[1].startswith(path_prefix)]


class _Recording(BaseHTTPRequestHandler):
    server: HttpRecorder

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        with self.server.lock:
            self.server.requests.append((self.command, self.path, dict(self.headers.items()), body))
        status = self.server.statuses.get(self.path, 200)
        target = next(
            (t for p, t in self.server.redirects.items() if self.path.startswith(p)), None
        )
        if target is not None:
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        answer = next((a for p, a in self.server.answers.items() if self.path.startswith(p)), None)
        data = json.dumps({"ok": status < 400} if answer is None else answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_GET = do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpRecorder]:
    """A loopback HTTP server, allowed by name (``OUTBOUND_ALLOW_HOSTS``): outgoing requests
    to any other private or loopback address are refused."""
    monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", "127.0.0.1")
    server = HttpRecorder()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- the app and its processes ------------------------------------------------------


@pytest.fixture(scope="session")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("relay")
    target = folder / "out"
    generate(write_spec(folder / "spec", SPEC), target)
    return target


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    """Migrated empty databases, one per dialect and test process, to copy from."""
    made = Templates(tmp_path_factory.mktemp("relay_templates"))
    try:
        yield made
    finally:
        made.drop()


@pytest.fixture
def database(kind: str, tmp_path: Path, out: Path, templates: Templates) -> Iterator[str]:
    """A fresh, migrated database (a copy of the dialect's migrated template)."""
    yield from templates.fresh(out, PACKAGE, kind, tmp_path)


class Apps:
    """Starts app subprocesses (worker, serve, python snippets) and always kills them."""

    def __init__(self, out: Path, folder: Path) -> None:
        self.out = out
        self.folder = folder
        self.running: list[subprocess.Popen[bytes]] = []
        self.env: dict[str, str] = {}

    def environ(self, url: str, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "database_url")
        }
        env.update(
            PYTHONPATH=os.pathsep.join([app_path(self.out), str(HERE)]),
            DATABASE_URL=url,
            NO_PROXY="*",
            no_proxy="*",
            RELAY_TELEGRAM_TOKEN=TELEGRAM_TOKEN,
            RELAY_WEBHOOK_SECRET=WEBHOOK_SECRET,
            LOG_LEVEL="INFO",
            **app_settings_env(),
        )
        env.update(self.env)
        env.update(extra)
        return env

    def start(self, url: str, *args: str, log: str, **extra: str) -> subprocess.Popen[bytes]:
        """``python -m relay_crm ARGS`` in the background, output to ``log``."""
        with open(self.folder / log, "ab") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", PACKAGE, *args],
                cwd=self.out,
                env=self.environ(url, **extra),
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.running.append(process)
        return process

    def run(
        self, url: str, *args: str, timeout: float = 60, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """``python -m relay_crm ARGS`` to the end (bounded); fails on a non-zero exit."""
        done = subprocess.run(
            [sys.executable, "-m", PACKAGE, *args],
            cwd=self.out,
            env=self.environ(url, **extra),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, (
            f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
        return done

    def python(self, url: str, code: str, timeout: float = 60) -> Any:
        """Run ``code`` (printing JSON) with the app importable; its result."""
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=self.out,
            env=self.environ(url),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout or "null")

    def enqueue(self, url: str, messages: list[dict[str, Any]]) -> None:
        """``outbox.enqueue`` each {kind, payload, key} in one transaction of the app."""
        code = (
            "import json, sys\n"
            "from crmgen_runtime.db import Database\n"
            f"from {PACKAGE}.outbox import enqueue\n"
            f"from {PACKAGE}.settings import load_settings\n"
            "db = Database(load_settings().database_url)\n"
            "with db.session() as session:\n"
            f"    for m in json.loads({json.dumps(json.dumps(messages))}):\n"
            "        enqueue(session, kind=m['kind'], payload=m['payload'], key=m.get('key'))\n"
            "db.dispose()\n"
            "print('null')\n"
        )
        self.python(url, code)

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 20) -> int:
        """SIGTERM, then wait (SIGKILL if it does not exit in time); the exit code."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise AssertionError(f"{process.args} ignored SIGTERM for {timeout}s") from None

    def kill_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.kill()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.folder.glob("*.log"))
        )


@pytest.fixture
def apps(out: Path, tmp_path: Path) -> Iterator[Apps]:
    runner = Apps(out, tmp_path)
    try:
        yield runner
    finally:
        runner.kill_all()


def outbox_rows(url: str) -> list[dict[str, Any]]:
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            rows = (
                connection.execute(sa.text("SELECT * FROM crm_outbox ORDER BY id")).mappings().all()
            )
            return [dict(r) for r in rows]
    finally:
        engine.dispose()


def wait_for(condition: Callable[[], Any], timeout: float, what: str, step: float = 0.1) -> Any:
    """Poll ``condition`` until it is truthy (its value), failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)
