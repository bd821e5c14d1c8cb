"""``crmgen_runtime.settings``: the environment read, checked and bound to one app."""

from __future__ import annotations

import pytest
from crmgen_runtime.settings import (
    AppSettings,
    ConfigurationError,
    Settings,
    check,
    database_url,
    import_limits,
    key_problem,
    load_settings,
)
from crmgen_runtime.spreadsheets import ImportLimits

APP = AppSettings("demo_crm", "sqlite:///demo_crm.sqlite3")
STRONG_KEY = "q8Zr2mX5vN1pL7tK0wY4hB6cJ9dF3gS-"
PRODUCTION = {"SECRET_KEY": STRONG_KEY, "PUBLIC_URL": "https://crm.example.com/"}


def test_defaults_come_from_the_app_and_the_runtime() -> None:
    settings = APP.load({})
    assert settings.database_url == "sqlite:///demo_crm.sqlite3"
    assert settings.environment == "production" and not settings.development
    assert settings.imports == ImportLimits() and settings.max_body_bytes == 2_000_000
    assert settings.hosts == ("localhost", "127.0.0.1", "::1")
    assert not settings.secure_cookies
    assert repr(APP) == "AppSettings('demo_crm', 'sqlite:///demo_crm.sqlite3')"


def test_postgresql_urls_use_psycopg_3() -> None:
    assert database_url({"DATABASE_URL": "postgres://u@h/db"}, "x") == "postgresql+psycopg://u@h/db"
    assert (
        APP.database_url({"DATABASE_URL": "postgresql://u@h/db"}) == "postgresql+psycopg://u@h/db"
    )
    assert APP.database_url({"DATABASE_URL": "sqlite:///other.db"}) == "sqlite:///other.db"


def test_values_are_read_from_the_environment() -> None:
    env = {
        **PRODUCTION,
        "APP_ENV": "Development",
        "ALLOWED_HOSTS": "crm.example.org, *.example.net [::1]",
        "FORWARDED_ALLOW_IPS": "10.0.0.0/8,*",
        "RUN_SCHEDULER": "yes",
        "OUTBOX_MAX_ATTEMPTS": "3",
        "IMPORT_MAX_ROWS": "7",
        "IMPORT_MAX_SECONDS": "2.5",
        "PROCESSES_MODULE": "custom.steps",
    }
    settings = load_settings(env, "sqlite:///x.db")
    assert settings.development and settings.run_scheduler
    assert settings.public_url == "https://crm.example.com" and settings.secure_cookies
    assert settings.allowed_hosts == ("crm.example.org", "*.example.net", "::1")
    assert "crm.example.com" in settings.hosts
    assert settings.forwarded_allow_ips == "10.0.0.0/8,*"
    assert settings.outbox_max_attempts == 3 and settings.processes_module == "custom.steps"
    assert import_limits(env) == settings.imports
    assert settings.imports.rows == 7 and settings.imports.seconds == 2.5


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("APP_ENV", "staging", "APP_ENV must be production or development"),
        ("PUBLIC_URL", "crm.example.com", "PUBLIC_URL must be the address users open"),
        ("PUBLIC_URL", "https://user@crm.example.com", "PUBLIC_URL must be"),
        ("PUBLIC_URL", "https://crm.example.com:port", "PUBLIC_URL must be"),
        ("ALLOWED_HOSTS", "https://crm.example.com", "ALLOWED_HOSTS lists host names"),
        ("ALLOWED_HOSTS", "[::zz]", "ALLOWED_HOSTS lists host names"),
        ("FORWARDED_ALLOW_IPS", "proxy.local", "FORWARDED_ALLOW_IPS lists the addresses"),
        ("OUTBOX_BACKOFF_SECONDS", "-1", "OUTBOX_BACKOFF_SECONDS must be a number of at least 0"),
        ("OUTBOX_LEASE_SECONDS", "soon", "OUTBOX_LEASE_SECONDS must be a number"),
        ("IMPORT_MAX_CELLS", "0", "IMPORT_MAX_CELLS must be a whole number of at least 1"),
    ],
)
def test_a_malformed_value_stops_the_start_with_one_line(name: str, value: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        APP.load({**PRODUCTION, name: value})
    with pytest.raises(ConfigurationError) as stopped:
        APP.startup({**PRODUCTION, name: value})
    assert str(stopped.value.code).startswith(f"demo_crm: refusing to start: {says}")


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (None, "SECRET_KEY is not set"),
        ("change-me-" * 5, "still the placeholder"),
        ("short", "too short (5 of at least 32"),
        ("ab" * 20, "repeats too few characters (2 different ones"),
        (STRONG_KEY, None),
    ],
)
def test_key_problems(key: str | None, problem: str | None) -> None:
    found = key_problem(key)
    assert found == problem if problem is None else problem in (found or "")


def test_production_needs_a_strong_key_and_a_public_url() -> None:
    assert APP.startup(PRODUCTION).public_url == "https://crm.example.com"
    with pytest.raises(
        ConfigurationError, match="demo_crm: refusing to start: SECRET_KEY is not set"
    ):
        APP.startup({"PUBLIC_URL": "https://crm.example.com"})
    with pytest.raises(ConfigurationError, match="PUBLIC_URL is not set"):
        APP.check(Settings(database_url="sqlite://", secret_key=STRONG_KEY, smtp_url=None))
    development = Settings(
        database_url="sqlite://", secret_key=None, smtp_url=None, environment="development"
    )
    assert check(development, "demo_crm") is development


def test_apps_keep_their_own_names_and_databases() -> None:
    other = AppSettings("other_crm", "sqlite:///other.sqlite3")
    assert other.load({}).database_url != APP.load({}).database_url
    with pytest.raises(ConfigurationError, match="^other_crm: "):
        other.startup({})
