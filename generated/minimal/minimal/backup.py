"""Backup and restore of this app's database: ``crmgen_runtime.backup`` bound to its name, its
models and its migrations (the file format is described there).

``python -m minimal backup FILE`` and ``restore FILE`` use ``BACKUPS``; the spec's
``backup`` steps call ``dump``.
"""

from __future__ import annotations

from crmgen_runtime.backup import BackupError, Backups

from minimal.cli import COMMANDS
from minimal.models import Base
from minimal.settings import APP_NAME

__all__ = ["BACKUPS", "BackupError", "dump", "load"]

BACKUPS = Backups(APP_NAME, Base.metadata, COMMANDS.alembic_config)
dump = BACKUPS.dump
load = BACKUPS.load
