"""The app's command line, bound as a generated ``cli.py`` binds it."""

from __future__ import annotations

from pathlib import Path

from crmgen_runtime.commands import CommandLine

from rt_app.settings import CONFIG

COMMANDS = CommandLine(CONFIG, Path(__file__).resolve().parent)
cli = COMMANDS.cli
