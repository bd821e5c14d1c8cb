"""Processes started by ``serve``'s supervisor end with it, even when it is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from crmgen_runtime import supervision

RUNTIME = Path(supervision.__file__).resolve().parents[1]

# A supervisor as uvicorn is one: a process that names itself and spawns a child (multiprocessing,
# spawn), which asks to die with it; it prints the child's pid and waits to be killed.
SUPERVISOR = textwrap.dedent(
    """
    import multiprocessing, os, sys, time
    from crmgen_runtime import supervision

    def child(ready):
        ready.put(supervision.die_with_supervisor())
        time.sleep(60)

    if __name__ == "__main__":
        os.environ.update(supervision.supervised_by(os.getpid()))
        context = multiprocessing.get_context("spawn")
        ready = context.Queue()
        process = context.Process(target=child, args=(ready,))
        process.start()
        print(process.pid, ready.get(timeout=30), flush=True)
        time.sleep(60)
    """
)


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_ends_when_its_supervisor_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "supervisor.py"
    script.write_text(SUPERVISOR, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(RUNTIME)}
    parent = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the killed supervisor's semaphores
        text=True,
    )
    child = 0
    try:
        assert parent.stdout is not None
        pid, applied = parent.stdout.readline().split()
        child = int(pid)
        assert applied == "True" and running(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while running(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(child), "the child outlived its supervisor"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
        if parent.stdout is not None:
            parent.stdout.close()
        if child and running(child):
            os.kill(child, signal.SIGKILL)


def test_nothing_changes_outside_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(supervision.SUPERVISOR_VARIABLE, raising=False)
    assert supervision.die_with_supervisor() is False
    monkeypatch.setenv(supervision.SUPERVISOR_VARIABLE, str(os.getpid()))  # the supervisor itself
    assert supervision.die_with_supervisor() is False
    monkeypatch.setenv(supervision.SUPERVISOR_VARIABLE, "1")  # not this process's parent
    assert supervision.die_with_supervisor() is False
    monkeypatch.setenv(supervision.SUPERVISOR_VARIABLE, "not a pid")
    assert supervision.die_with_supervisor() is False
