"""The app's configuration: its name is its package's, as in every generated app."""

from __future__ import annotations

from crmgen_runtime.config import AppConfig

CONFIG = AppConfig("rt_app", title="RT\nCRM", timezone="Europe/Moscow")
