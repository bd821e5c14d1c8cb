"""The ``compile`` stage: byte-compile every Python file and import the app in a child process.

The child runs with the staging folder as its working folder and on ``sys.path``. The bytecode
stays in the staging folder's ``__pycache__`` folders for the test stage to reuse, and is removed
before the swap (``crmgen.publish.swap``), so OUT gets no bytecode from publishing. (A
``PYTHONPYCACHEPREFIX`` elsewhere would look cleaner but makes the child recompile every
installed library it imports: 2.1 s instead of 1.0 s for examples/crm.)
"""

from __future__ import annotations

import os
import subprocess
import sys

from crmgen.publish.stages import Done, Run, StageFailed, count_lines

TIMEOUT = 120

CHILD = """
import compileall, importlib, sys
if not compileall.compile_dir(".", quiet=1, workers=1):
    sys.exit("byte-compiling failed")
module = importlib.import_module(sys.argv[1] + ".app")
if not callable(getattr(module, "create_app", None)):
    sys.exit(sys.argv[1] + ".app has no create_app()")
"""


def child_env(state: Run, **extra: str) -> dict[str, str]:
    """The environment of the app's child processes: staging on the path, bytecode outside it."""
    env = dict(os.environ)
    env.update(PYTHONPATH=str(state.staging), **extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def run(state: Run) -> Done:
    assert state.staging is not None
    package = state.spec.app.name
    command = [sys.executable, "-c", CHILD, package]
    try:
        done = subprocess.run(
            command,
            cwd=state.staging,
            env=child_env(state),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise StageFailed(f"importing {package}.app took longer than {TIMEOUT} s") from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise StageFailed(f"{package}.app does not import: {detail[-1] if detail else 'no output'}")
    paths = sorted(state.staging.rglob("*.py"))
    return Done(len(paths), count_lines(paths))
