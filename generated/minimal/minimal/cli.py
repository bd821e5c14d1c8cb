"""The command line of the app: ``python -m minimal COMMAND`` (or ``minimal``).

``migrate`` brings the database to the newest schema, ``serve`` runs the web app, ``worker``
delivers the outbox and runs scheduled processes, ``createuser`` adds a user,
``backup``/``restore`` copy every table to and from a portable JSON-lines file, and ``seed``
fills an empty database with demo data. The commands are the runtime's
(``crmgen_runtime.commands``), bound here to this app's configuration and folder.
"""

from __future__ import annotations

from pathlib import Path

import crmgen_runtime
from crmgen_runtime.commands import CommandLine

from minimal import RUNTIME_VERSION
from minimal.settings import CONFIG

COMMANDS = CommandLine(CONFIG, Path(__file__).resolve().parent)
cli = COMMANDS.cli
alembic_config = COMMANDS.alembic_config
run_migrations = COMMANDS.run_migrations


def main() -> None:
    """Console entry point (it first checks that the runtime is the one the app needs)."""
    try:
        crmgen_runtime.require(RUNTIME_VERSION, "minimal")
    except crmgen_runtime.RuntimeVersionError as exc:
        raise SystemExit(f"Error: {exc}") from None
    cli()
