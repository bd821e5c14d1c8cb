"""The app's backups, bound as a generated ``backup.py`` binds them."""

from __future__ import annotations

from crmgen_runtime.backup import Backups

from rt_app.cli import COMMANDS
from rt_app.models import Base

BACKUPS = Backups("rt_app", Base.metadata, COMMANDS.alembic_config)
