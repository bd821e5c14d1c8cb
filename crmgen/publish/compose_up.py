"""The ``deploy`` stage (``--deploy compose``): start the compose file in OUT.

It runs after the swap, on OUT itself. With a reachable engine it runs ``docker compose up -d``;
without one it prints the exact commands, warns (the report keeps the warning) and passes.
"""

from __future__ import annotations

import shlex
import subprocess

from crmgen.publish.docker import connect
from crmgen.publish.stages import Done, Run, StageFailed, StageSkipped

TIMEOUT = 900


def compose_commands(state: Run) -> list[list[str]]:
    """What ``--deploy compose`` runs in OUT when an engine answers."""
    return [
        [
            "docker",
            "compose",
            "--project-directory",
            str(state.out),
            "up",
            "-d",
            "--build",
            "--wait",
        ]
    ]


def run(state: Run) -> Done:
    if state.options.deploy != "compose":
        raise StageSkipped("not asked for (--deploy compose)")
    env_file = state.out / ".env"
    client, reason = connect()
    if client is not None:
        client.close()
    if client is None or not env_file.is_file():
        why = (
            f"no Docker engine is reachable ({reason})"
            if client is None
            else f"{env_file} is missing"
        )
        steps = [
            f"cd {shlex.quote(str(state.out))}",
            "cp deploy/env.example .env  # then set SECRET_KEY, PUBLIC_URL and POSTGRES_PASSWORD",
            "docker compose up -d --build --wait",
        ]
        state.warn(f"--deploy compose: {why}; run these commands:\n    " + "\n    ".join(steps))
        raise StageSkipped(f"not deployed: {why}; the commands to run were printed")
    for command in compose_commands(state):
        done = subprocess.run(
            command, cwd=state.out, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise StageFailed(
                f"{shlex.join(command)} failed: {detail[-1] if detail else done.returncode}"
            )
    return Done(1, 0, "docker compose up -d: running")
