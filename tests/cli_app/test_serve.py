"""``crmgen serve``: generate, migrate, seed, run; regenerate and restart when the spec changes."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

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
            check=False,
        )
    assert done.returncode == 1
    assert f"port {port}" in done.stderr and "in use" in done.stderr


# --- stopping, a broken first start, the development key --------------------------------------


def start_serve(tmp_path: Path, spec: Path, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    """``crmgen serve SPEC`` in its own session, run from ``tmp_path/work``; its log file."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    log = tmp_path / "serve.log"
    env = {**os.environ, "CRMGEN_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    for name in ("DATABASE_URL", "SECRET_KEY", "PUBLIC_URL", "APP_ENV", "ALLOWED_HOSTS"):
        env.pop(name, None)
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "crmgen", "serve", str(spec), "--port", str(port)],
            env=env,
            cwd=work,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process, log


def started_pids(log: Path) -> list[int]:
    """The app server's and the worker's process ids, as serve announced them."""
    return [int(pid) for pid in re.findall(r"\(pid (\d+)\)", log.read_text())]


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def kill_all(process: subprocess.Popen[bytes], pids: list[int]) -> None:
    """Whatever is still running after a test: serve's session, and the pids it announced."""
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def assert_development_with_the_cache_key(tmp_path: Path, pid: int) -> None:
    """The app server runs in local development, with the key kept in serve's cache folder."""
    folder = next((tmp_path / "cache").glob("serve_crm-*"))
    key_file = folder / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text(encoding="utf-8").strip()
    assert len(key) >= 32
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert f"SECRET_KEY={key}".encode() in environ
    assert b"APP_ENV=development" in environ
    assert list(tmp_path.rglob(".secret_key")) == []  # never in the working folder


@pytest.mark.parametrize(
    "signum",
    [
        signal.SIGTERM,
        signal.SIGHUP,
        signal.SIGINT,
        pytest.param(
            signal.SIGKILL,
            marks=pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG"),
        ),
    ],
    ids=lambda s: s.name,
)
def test_any_stop_signal_stops_everything_serve_started(
    tmp_path: Path, signum: signal.Signals
) -> None:
    spec = write_spec(tmp_path / "spec", SPEC)
    port = free_port()
    process, log = start_serve(tmp_path, spec, port)
    pids: list[int] = []
    try:
        wait_for(lambda: healthy(port), 60, "/healthz", log, process)
        pids = started_pids(log)
        assert len(pids) == 2 and all(alive(pid) for pid in pids), log.read_text()
        urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5).close()  # signs
        assert_development_with_the_cache_key(tmp_path, pids[0])
        process.send_signal(signum)  # to crmgen serve alone, as `kill` or a process manager does
        if signum != signal.SIGKILL:
            process.send_signal(signal.SIGTERM)  # an impatient second one changes nothing
        process.wait(timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(alive(pid) for pid in pids):
            time.sleep(0.1)
        assert [pid for pid in pids if alive(pid)] == [], log.read_text()
        assert port_is_free(port)
        assert process.returncode == (-signum if signum == signal.SIGKILL else 0), log.read_text()
        assert "internal error" not in log.read_text()
    finally:
        kill_all(process, pids)


def test_an_invalid_spec_at_the_first_start_says_nothing_is_served(tmp_path: Path) -> None:
    broken = SPEC.replace(
        "    permissions:", "      email: {type: email, unique: true\n    permissions:"
    )
    spec = write_spec(tmp_path / "spec", broken)
    done = subprocess.run(
        [sys.executable, "-m", "crmgen", "serve", str(spec), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "CRMGEN_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert done.returncode == 1
    assert "error" in done.stderr
    assert "previous version" not in done.stderr
    assert "nothing is served" in done.stderr, done.stderr
