"""``crmgen_runtime.settings``: the environment read, checked and bound to one app."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from crmgen_runtime import settings as settings_module
from crmgen_runtime.settings import (
    WEB_CONCURRENCY_CAP,
    AppSettings,
    ConfigurationError,
    Settings,
    check,
    database_url,
    default_web_concurrency,
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
        "IMPORT_BATCH_ROWS": "25",
        "IMPORT_INLINE_ROWS": "0",
        "IMPORT_LEASE_SECONDS": "5",
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
    assert (settings.imports.batch_rows, settings.imports.inline_rows) == (25, 0)
    assert settings.imports.lease_seconds == 5


def test_operations_settings() -> None:
    defaults = APP.load(PRODUCTION)
    assert defaults.log_format == "text" and not defaults.metrics_enabled
    assert 1 <= defaults.web_concurrency == default_web_concurrency() <= WEB_CONCURRENCY_CAP
    assert APP.load({"APP_ENV": "development"}).web_concurrency == 1
    assert defaults.engine_options == {}  # SQLite's pool is not sized
    env = {
        **PRODUCTION,
        "DATABASE_URL": "postgresql://u@h/db",
        "WEB_CONCURRENCY": "6",
        "LOG_FORMAT": "JSON",
        "METRICS_TOKEN": "0123456789abcdef",
        "DB_POOL_SIZE": "3",
        "DB_MAX_OVERFLOW": "0",
    }
    settings = APP.load(env)
    assert (settings.web_concurrency, settings.log_format) == (6, "json")
    assert settings.metrics_enabled and settings.metrics_token == "0123456789abcdef"
    assert settings.engine_options == {"pool_size": 3, "max_overflow": 0}


def test_the_default_web_concurrency_follows_the_cpus_a_container_may_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cpu_max = tmp_path / "cpu.max"
    monkeypatch.setattr(settings_module, "CGROUP_CPU_MAX", str(cpu_max))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    assert settings_module.cpu_count() == 16 and default_web_concurrency() == WEB_CONCURRENCY_CAP
    cpu_max.write_text("150000 100000\n")  # a limit of 1.5 CPUs
    assert settings_module.cpu_count() == 2
    cpu_max.write_text("max 100000\n")
    assert settings_module.cpu_count() == 16


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
        ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY must be a whole number of at least 1"),
        ("DB_MAX_OVERFLOW", "2.5", "DB_MAX_OVERFLOW must be a whole number of at least 0"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be text or json"),
        ("METRICS_TOKEN", "short", "METRICS_TOKEN must be at least 16"),
        ("METRICS_ALLOW_IPS", "prometheus", "METRICS_ALLOW_IPS lists the addresses"),
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
