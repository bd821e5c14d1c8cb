"""Settings of the app: what the spec fixed, and how the rest is read from the environment.

The machinery is the runtime's (``crmgen_runtime.settings``: environment variables, their
checks, ``ConfigurationError``); this module binds it to this app. It also makes the app's own
clock, formats and expression functions, bound to its time zone and currency, so several apps
can run in one process (see the runtime's docs, "Per-app configuration").
"""

from __future__ import annotations

from crmgen_runtime.clock import Clock
from crmgen_runtime.formats import Formats
from crmgen_runtime.functions import Functions
from crmgen_runtime.settings import AppSettings, ConfigurationError, Settings

APP_NAME = "minimal"
DEFAULT_DATABASE_URL = "sqlite:///minimal.sqlite3"
LOCALES = ("en",)
DEFAULT_LOCALE = "en"
TIMEZONE = "UTC"
CURRENCY = "USD"
LOCKOUT_ATTEMPTS = 5
LOCKOUT_MINUTES = 30

CLOCK = Clock(TIMEZONE)  # datetimes are stored in UTC and shown in the app's time zone
ZONE = CLOCK.zone
FORMATS = Formats(CLOCK, CURRENCY)  # dates, numbers and money as people read them
fn = Functions(CLOCK)  # what the spec's expressions call: fn.today(), fn.days(3), ...

APP_SETTINGS = AppSettings(APP_NAME, DEFAULT_DATABASE_URL)
load_settings = APP_SETTINGS.load
check = APP_SETTINGS.check
startup_settings = APP_SETTINGS.startup
database_url = APP_SETTINGS.database_url

__all__ = [
    "APP_NAME",
    "APP_SETTINGS",
    "CLOCK",
    "CURRENCY",
    "ConfigurationError",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_LOCALE",
    "FORMATS",
    "LOCALES",
    "LOCKOUT_ATTEMPTS",
    "LOCKOUT_MINUTES",
    "Settings",
    "TIMEZONE",
    "ZONE",
    "check",
    "database_url",
    "fn",
    "load_settings",
    "startup_settings",
]
