"""Web processes that end with the ``serve`` process that started them.

With ``WEB_CONCURRENCY`` > 1 (or ``--reload``) uvicorn's supervisor starts the processes that
answer requests. When the supervisor is killed outright (SIGKILL, the OOM killer, a process
manager that signals only the main process) those processes would live on as orphans, holding
the port so that the next start fails. ``serve`` names itself in ``SUPERVISOR_VARIABLE``; each
process it starts asks Linux (``PR_SET_PDEATHSIG``) for SIGTERM when the supervisor ends, and
ends at once if it has ended already. Elsewhere, and for a process not started by ``serve``,
nothing changes.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

SUPERVISOR_VARIABLE = "CRM_SUPERVISOR_PID"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def supervised_by(pid: int) -> dict[str, str]:
    """The environment entry ``serve`` sets before uvicorn starts its processes."""
    return {SUPERVISOR_VARIABLE: str(pid)}


def die_with_supervisor() -> bool:
    """In a process started by ``serve``'s supervisor: SIGTERM when it ends. Whether it applied."""
    named = os.environ.get(SUPERVISOR_VARIABLE, "")
    if sys.platform != "linux" or not named.isdigit() or int(named) == os.getpid():
        return False
    supervisor = int(named)
    if os.getppid() != supervisor:  # not its child (or an orphan already): leave it be
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != supervisor:  # the supervisor ended before the request was made
        os.kill(os.getpid(), signal.SIGTERM)
    return True
