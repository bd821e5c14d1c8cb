"""Settings of the app: what the spec fixed, and how the rest is read from the environment.

The machinery is the runtime's (``crmgen_runtime.settings``: environment variables, their
checks, ``ConfigurationError``); ``CONFIG`` binds it to this app, with the app's own clock,
formats and expression functions, bound to its time zone and currency, so several apps can run
in one process (see the runtime's docs, "Per-app configuration"). The app's catalog carries it.
"""

from __future__ import annotations

from crmgen_runtime.config import AppConfig
from crmgen_runtime.settings import ConfigurationError, Settings

APP_NAME = "reference_crm"
DEFAULT_DATABASE_URL = "sqlite:///reference_crm.sqlite3"
LOCALES = ("en", "ru", "id", "bs", "zh")
DEFAULT_LOCALE = "ru"
TIMEZONE = "Europe/Moscow"
CURRENCY = "RUB"
LOCKOUT_ATTEMPTS = 5
LOCKOUT_MINUTES = 30

CONFIG = AppConfig(
    APP_NAME,
    title="Эталонная CRM",
    database_url=DEFAULT_DATABASE_URL,
    timezone=TIMEZONE,
    currency=CURRENCY,
    locales=LOCALES,
    default_locale=DEFAULT_LOCALE,
    roles=frozenset(["admin", "manager", "sales", "support"]),
    audit_roles=frozenset(["admin", "manager"]),
    lockout_attempts=LOCKOUT_ATTEMPTS,
    lockout_minutes=LOCKOUT_MINUTES,
    notifications=True,
    encryption=True,  # encrypted fields: ENCRYPTION_KEYS and BLIND_INDEX_KEY must be set
    phone_region="RU",  # phones in E.164, shown per region
)
CLOCK = CONFIG.clock  # datetimes are stored in UTC and shown in the app's time zone
ZONE = CLOCK.zone
FORMATS = CONFIG.formats  # dates, numbers and money as people read them
fn = CONFIG.functions  # what the spec's expressions call: fn.today(), fn.days(3), ...

APP_SETTINGS = CONFIG.settings
load_settings = APP_SETTINGS.load
check = APP_SETTINGS.check
startup_settings = APP_SETTINGS.startup
database_url = APP_SETTINGS.database_url

__all__ = [
    "APP_NAME",
    "APP_SETTINGS",
    "CLOCK",
    "CONFIG",
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
