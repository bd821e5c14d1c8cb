"""``crmgen serve``: generate, migrate, seed, run; regenerate and restart when the spec changes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.migrations.apptools import ROOT, write_spec

SPEC = """
app:
  name: serve_crm
  title: Serve CRM
roles:
  admin: {superuser: true}
  staff: Staff
entities:
  Contact:
    fields:
      name: {type: string, required: true, max_length: 120}
    permissions:
      staff: all
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_for(
    condition: Callable[[], bool],
    seconds: float,
    what: str,
    log: Path,
    process: subprocess.Popen[bytes],
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            raise AssertionError(f"crmgen serve exited {process.returncode}:\n{log.read_text()}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; serve's output:\n{log.read_text()}")


def test_serve_answers_and_regenerates_on_a_spec_edit(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec", SPEC)
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "CRMGEN_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "crmgen", "serve", str(spec), "--port", str(port)],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: healthy(port), 60, "/healthz", log, process)
        app = next((tmp_path / "cache").glob("serve_crm-*")) / "app"
        versions = app / "migrations" / "versions"
        assert [p.name for p in versions.iterdir()] == ["0001_initial.py"]
        assert "seeded" in log.read_text()
        assert "worker delivering the outbox" in log.read_text()  # the worker runs beside it

        broken = SPEC.replace(
            "    permissions:", "      email: {type: email, unique: true\n    permissions:"
        )
        spec.write_text(broken, encoding="utf-8")
        wait_for(
            lambda: "error" in log.read_text().split("changed: regenerating")[-1],
            30,
            "the error",
            log,
            process,
        )
        assert healthy(port), "an invalid edit keeps the previous server running"

        fixed = SPEC.replace(
            "    permissions:", "      email: {type: email, unique: true}\n    permissions:"
        )
        spec.write_text(fixed, encoding="utf-8")
        wait_for(
            lambda: len(list(versions.glob("0002_*.py"))) == 1, 60, "a new revision", log, process
        )
        wait_for(
            lambda: log.read_text().count("serving serve_crm") >= 2 and healthy(port),
            60,
            "a restart",
            log,
            process,
        )
        assert "add_contact_email" in next(versions.glob("0002_*.py")).name
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


def test_serve_says_so_when_the_port_is_taken(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "crmgen",
                "serve",
                str(ROOT / "examples" / "minimal"),
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env={**os.environ, "CRMGEN_CACHE": str(tmp_path / "cache")},
        )
    assert done.returncode == 1
    assert f"port {port}" in done.stderr and "in use" in done.stderr
