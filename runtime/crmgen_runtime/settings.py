"""An app's settings, read from environment variables (see the app's README).

What the spec fixes (the app's name, its default database) is bound once per app in
``AppSettings`` (the generated ``settings.APP_SETTINGS``); the rest comes from the environment.

``DATABASE_URL`` defaults to an SQLite file in the working folder; a ``postgresql://`` URL
is used through psycopg 3.

``APP_ENV`` says where the app runs: ``production`` (the default) or ``development``, local
development on one's own machine (``crmgen serve`` sets it). Outside local development the app
refuses to start (``AppSettings.startup``) without a strong ``SECRET_KEY`` and a ``PUBLIC_URL``,
the address users open: mailed links are built from it, and its host is one of the few a
request may name (the loopback names, ``PUBLIC_URL``'s host, ``ALLOWED_HOSTS``).
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from crmgen_runtime.counts import ListLimits
from crmgen_runtime.spreadsheets import ImportLimits

MAX_BODY_BYTES = 2_000_000  # the default cap on a request body (MAX_BODY_BYTES)
ENVIRONMENTS = ("production", "development")
SECRET_KEY_MIN_LENGTH = 32
SECRET_KEY_MIN_DISTINCT = 10  # "kkkk..." is long and still guessable
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
# Whose X-Forwarded-Proto and X-Forwarded-For count (uvicorn's --forwarded-allow-ips).
DEFAULT_FORWARDED_ALLOW_IPS = "127.0.0.1,::1"
LOG_FORMATS = ("text", "json")
METRICS_TOKEN_MIN_LENGTH = 16
# WEB_CONCURRENCY's default: a process per CPU, at most this many (see docs/deploying.md).
WEB_CONCURRENCY_CAP = 4
CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"  # "QUOTA PERIOD" (cgroup v2): a container's CPUs
_HOST_PATTERN = re.compile(r"\*|(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*")
KEY_ADVICE = (
    "set it to a random value, such as the output of "
    "python -c 'import secrets; print(secrets.token_urlsafe(48))', "
    "or set APP_ENV=development on your own machine"
)


class ConfigurationError(SystemExit):
    """Settings the app refuses to start with. A ``SystemExit`` carrying one line: wherever it
    ends the process (``python -m APP serve`` or ``worker``, ``uvicorn --factory``), that line
    is printed, the exit code is 1, and there is no traceback."""

    def __init__(self, app: str, problem: str) -> None:
        super().__init__(f"{app}: refusing to start: {problem}")


@dataclass(frozen=True)
class Settings:
    """The app's configuration."""

    database_url: str
    secret_key: str | None
    smtp_url: str | None
    # The outbox worker (crmgen_runtime.outbox and worker).
    outbox_max_attempts: int = 8
    outbox_backoff_seconds: float = 30.0
    outbox_backoff_max_seconds: float = 3600.0
    outbox_lease_seconds: float = 300.0
    outbox_timeout_seconds: float = 30.0
    # The scheduler (crmgen_runtime.scheduler): in the worker, and in the web app when
    # run_scheduler.
    run_scheduler: bool = False
    scheduler_clock_speed: float = 1.0
    scheduler_clock_origin: float = 0.0
    scheduler_poll_seconds: float = 1.0
    processes_module: str | None = None
    # Worker health (crmgen_runtime.heartbeats, metrics): how often a running worker writes its
    # heartbeat at most, and how recent a heartbeat must be for /metrics to count it alive.
    worker_heartbeat_seconds: float = 5.0
    worker_alive_seconds: float = 60.0
    # Password-reset mail (auth.request_reset): at most so many per account and per client
    # address within the window; more requests are answered alike but send nothing.
    reset_mail_per_account: int = 3
    reset_mail_per_address: int = 10
    reset_mail_window_minutes: float = 60.0
    # How long the link of an invitation (crmgen_runtime.invites) can be used.
    invite_ttl_hours: float = 72.0
    comment_edit_minutes: float = 15.0  # how long a comment's author may edit it
    # Where the app runs, its address, and who may name it (see the module's docstring).
    environment: str = "production"
    public_url: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    forwarded_allow_ips: str = DEFAULT_FORWARDED_ALLOW_IPS
    # Request bodies (body_limit.py) and uploaded files (spreadsheets.py).
    max_body_bytes: int = MAX_BODY_BYTES
    imports: ImportLimits = field(default_factory=ImportLimits)
    # Lists (counts.py): exact totals up to LIST_EXACT_COUNT_LIMIT, offsets up to LIST_MAX_OFFSET.
    lists: ListLimits = field(default_factory=ListLimits)
    # Operations (crmgen_runtime.logs, metrics_route): the log lines' format, the web worker
    # processes of `serve`, and who may read /metrics (nobody unless a token or networks are set).
    log_format: str = "text"
    web_concurrency: int = 1
    metrics_token: str | None = None
    metrics_networks: tuple[str, ...] = ()
    # The API's docs for people at /docs and /redoc (web.api_docs); API_DOCS=0 turns them off.
    api_docs: bool = True
    # Connections each process keeps to PostgreSQL (SQLAlchemy's pool): DB_POOL_SIZE open,
    # up to DB_MAX_OVERFLOW more at peaks. Processes x (both) must fit max_connections.
    db_pool_size: int = 5
    db_max_overflow: int = 10
    # Uploaded files (crmgen_runtime.storage, files): a folder, or an S3 bucket when one is set;
    # the largest attachment of a record (a field's own limit is its ``max_size_mb``).
    files_dir: str = "files"
    files_s3_bucket: str | None = None
    files_s3_prefix: str = ""
    files_s3_endpoint_url: str | None = None
    files_s3_region: str | None = None
    attachment_max_mb: float = 25.0
    # The keys of encrypted fields (crmgen_runtime.crypto): ENCRYPTION_KEYS, BLIND_INDEX_KEY.
    encryption_keys: str | None = field(default=None, repr=False)
    blind_index_key: str | None = field(default=None, repr=False)

    @property
    def engine_options(self) -> dict[str, int]:
        """The pool's size for ``Database`` (SQLite's pool is not sized)."""
        if self.database_url.startswith("sqlite"):
            return {}
        return {"pool_size": self.db_pool_size, "max_overflow": self.db_max_overflow}

    @property
    def metrics_enabled(self) -> bool:
        """``/metrics`` answers once ``METRICS_TOKEN`` or ``METRICS_ALLOW_IPS`` is set."""
        return bool(self.metrics_token or self.metrics_networks)

    @property
    def development(self) -> bool:
        """Local development (``APP_ENV=development``): any key, no ``PUBLIC_URL`` needed."""
        return self.environment == "development"

    @property
    def hosts(self) -> tuple[str, ...]:
        """Every host a request may name: loopback, ``PUBLIC_URL``'s, ``ALLOWED_HOSTS``."""
        public = urlsplit(self.public_url).hostname if self.public_url else None
        return (*LOOPBACK_HOSTS, *([public] if public else []), *self.allowed_hosts)

    @property
    def secure_cookies(self) -> bool:
        """Cookies are ``Secure`` on every request when users come over https."""
        return bool(self.public_url and self.public_url.startswith("https://"))


def database_url(environ: Mapping[str, str], default: str) -> str:
    """``DATABASE_URL`` (else ``default``), with plain ``postgresql://`` URLs mapped to the
    psycopg 3 driver."""
    url = environ.get("DATABASE_URL") or default
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _number(env: Mapping[str, str], name: str, default: float, low: float) -> float:
    """The number in ``env[name]`` (at least ``low``), else ``default``; ValueError if bad."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= low or value == float("inf"):
        raise ValueError(f"{name} must be a number of at least {low:g}, not {raw!r}")
    return value


def _count(env: Mapping[str, str], name: str, default: int, low: int = 1) -> int:
    """The whole number (at least ``low``) in ``env[name]``, else ``default``; ValueError if
    bad."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit() and int(raw) >= low):
        raise ValueError(f"{name} must be a whole number of at least {low}, not {raw!r}")
    return int(raw)


def import_limits(env: Mapping[str, str]) -> ImportLimits:
    """The ``IMPORT_MAX_*`` settings."""
    default = ImportLimits()
    return ImportLimits(
        file_bytes=_count(env, "IMPORT_MAX_FILE_BYTES", default.file_bytes),
        rows=_count(env, "IMPORT_MAX_ROWS", default.rows),
        columns=_count(env, "IMPORT_MAX_COLUMNS", default.columns),
        cells=_count(env, "IMPORT_MAX_CELLS", default.cells),
        cell_chars=_count(env, "IMPORT_MAX_CELL_CHARS", default.cell_chars),
        table_chars=_count(env, "IMPORT_MAX_TABLE_CHARS", default.table_chars),
        unzipped_bytes=_count(env, "IMPORT_MAX_UNZIPPED_BYTES", default.unzipped_bytes),
        ratio=_count(env, "IMPORT_MAX_RATIO", default.ratio),
        seconds=_number(env, "IMPORT_MAX_SECONDS", default.seconds, 0.1),
        batch_rows=_count(env, "IMPORT_BATCH_ROWS", default.batch_rows),
        inline_rows=_count(env, "IMPORT_INLINE_ROWS", default.inline_rows, low=0),
        lease_seconds=_number(env, "IMPORT_LEASE_SECONDS", default.lease_seconds, 1.0),
    )


def list_limits(env: Mapping[str, str]) -> ListLimits:
    """The ``LIST_*`` settings."""
    default = ListLimits()
    return ListLimits(
        exact_count=_count(env, "LIST_EXACT_COUNT_LIMIT", default.exact_count),
        max_offset=_count(env, "LIST_MAX_OFFSET", default.max_offset),
    )


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A setting that is on or off (``1``/``0``, ``true``/``false``, ``yes``/``no``,
    ``on``/``off``), ``default`` when unset; ValueError for anything else."""
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} is 1 or 0 (on or off), not {value!r}")


def _environment(env: Mapping[str, str]) -> str:
    """``APP_ENV``: production (also when unset) or development; ValueError otherwise."""
    value = env.get("APP_ENV", "").strip().lower() or "production"
    if value not in ENVIRONMENTS:
        raise ValueError(f"APP_ENV must be production or development, not {value!r}")
    return value


def _public_url(env: Mapping[str, str]) -> str | None:
    """``PUBLIC_URL`` without its trailing slash; ValueError unless an http(s) address."""
    raw = env.get("PUBLIC_URL", "").strip()
    if not raw:
        return None
    if not _is_address(raw):
        raise ValueError(
            "PUBLIC_URL must be the address users open, such as https://crm.example.com, "
            f"not {raw!r}"
        )
    return raw.rstrip("/")


def _is_address(url: str) -> bool:
    """An http(s) URL with a host, and no user, query or fragment."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # ValueError for a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not (parts.username or parts.password)
        and "?" not in url
        and "#" not in url
    )


def _allowed_hosts(env: Mapping[str, str]) -> tuple[str, ...]:
    """``ALLOWED_HOSTS``: host names, ``*.example.com`` (its subdomains) or ``*`` (any)."""
    hosts = []
    for item in re.split(r"[,\s]+", env.get("ALLOWED_HOSTS", "").strip().lower()):
        host = item.removeprefix("[").removesuffix("]").rstrip(".")
        if not host:
            continue
        if not _is_host_pattern(host):
            raise ValueError(
                "ALLOWED_HOSTS lists host names without scheme or port, such as "
                f"crm.example.com or *.example.com, not {item!r}"
            )
        hosts.append(host)
    return tuple(hosts)


def _is_host_pattern(host: str) -> bool:
    """A host name, ``*.`` and a domain, ``*``, or an IPv6 address."""
    if ":" not in host:
        return bool(_HOST_PATTERN.fullmatch(host))
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def _forwarded_allow_ips(env: Mapping[str, str]) -> str:
    """``FORWARDED_ALLOW_IPS``: the proxies' addresses or networks, or ``*``."""
    raw = env.get("FORWARDED_ALLOW_IPS", "").strip() or DEFAULT_FORWARDED_ALLOW_IPS
    for item in (part.strip() for part in raw.split(",")):
        if item == "*":
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(
                "FORWARDED_ALLOW_IPS lists the addresses or networks of the proxies in front "
                f"of the app, such as 10.231.0.10 or 10.0.0.0/8, not {item!r}"
            ) from None
    return raw


def _log_format(env: Mapping[str, str]) -> str:
    """``LOG_FORMAT``: ``text`` (the default) or ``json`` (one JSON object a line)."""
    value = env.get("LOG_FORMAT", "").strip().lower() or "text"
    if value not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be text or json, not {value!r}")
    return value


def _metrics_token(env: Mapping[str, str]) -> str | None:
    """``METRICS_TOKEN``: the bearer token Prometheus sends to read ``/metrics``."""
    token = env.get("METRICS_TOKEN", "").strip()
    if not token:
        return None
    if len(token) < METRICS_TOKEN_MIN_LENGTH or not token.isascii() or not token.isprintable():
        raise ValueError(
            f"METRICS_TOKEN must be at least {METRICS_TOKEN_MIN_LENGTH} printable ASCII "
            f"characters (such as the output of python -c 'import secrets; "
            f"print(secrets.token_urlsafe(32))'), not one of {len(token)}"
        )
    return token


def _metrics_networks(env: Mapping[str, str]) -> tuple[str, ...]:
    """``METRICS_ALLOW_IPS``: the addresses or networks that may read ``/metrics``."""
    networks = []
    for item in re.split(r"[,\s]+", env.get("METRICS_ALLOW_IPS", "").strip()):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValueError(
                "METRICS_ALLOW_IPS lists the addresses or networks that may read /metrics, "
                f"such as 10.0.0.5 or 10.0.0.0/8, not {item!r}"
            ) from None
    return tuple(networks)


def cpu_count() -> int:
    """The CPUs this process may use: its affinity, and the cgroup's quota in a container."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = Path(CGROUP_CPU_MAX).read_text(encoding="ascii").split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


def default_web_concurrency() -> int:
    """Web worker processes when ``WEB_CONCURRENCY`` is not set: one per CPU, at most
    ``WEB_CONCURRENCY_CAP`` (each process keeps its own database connections)."""
    return min(cpu_count(), WEB_CONCURRENCY_CAP)


def _web_concurrency(env: Mapping[str, str]) -> int:
    """``WEB_CONCURRENCY``, else one process in local development and
    ``default_web_concurrency()`` elsewhere."""
    return _count(env, "WEB_CONCURRENCY", 0) or (
        1 if _environment(env) == "development" else default_web_concurrency()
    )


def key_problem(key: str | None) -> str | None:
    """Why ``key`` cannot be the ``SECRET_KEY`` outside local development, or None."""
    if not key:
        return "SECRET_KEY is not set"
    if "changeme" in re.sub(r"[^a-z]", "", key.lower()):
        return "SECRET_KEY is still the placeholder of deploy/env.example"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return (
            f"SECRET_KEY is too short ({len(key)} of at least {SECRET_KEY_MIN_LENGTH} characters)"
        )
    if len(set(key)) < SECRET_KEY_MIN_DISTINCT:
        return (
            f"SECRET_KEY repeats too few characters ({len(set(key))} different ones, "
            f"at least {SECRET_KEY_MIN_DISTINCT})"
        )
    return None


def check(settings: Settings, app: str) -> Settings:
    """``settings`` when the app ``app`` may start with them, else a ``ConfigurationError``."""
    if settings.development:
        return settings
    problem = key_problem(settings.secret_key)
    if problem:
        raise ConfigurationError(app, f"{problem}: {KEY_ADVICE}")
    if not settings.public_url:
        raise ConfigurationError(
            app,
            "PUBLIC_URL is not set: set it to the address users open, such as "
            "https://crm.example.com (mailed links start with it, and requests must name its "
            "host), or set APP_ENV=development on your own machine",
        )
    return settings


def load_settings(env: Mapping[str, str], default_database_url: str) -> Settings:
    """The settings in ``env``; ValueError for a malformed value."""
    return Settings(
        database_url=database_url(env, default_database_url),
        secret_key=env.get("SECRET_KEY"),
        smtp_url=env.get("SMTP_URL"),
        outbox_max_attempts=int(_number(env, "OUTBOX_MAX_ATTEMPTS", 8, 1)),
        outbox_backoff_seconds=_number(env, "OUTBOX_BACKOFF_SECONDS", 30.0, 0),
        outbox_backoff_max_seconds=_number(env, "OUTBOX_BACKOFF_MAX_SECONDS", 3600.0, 0),
        outbox_lease_seconds=_number(env, "OUTBOX_LEASE_SECONDS", 300.0, 0.1),
        outbox_timeout_seconds=_number(env, "OUTBOX_TIMEOUT_SECONDS", 30.0, 0.1),
        run_scheduler=_flag(env, "RUN_SCHEDULER"),
        scheduler_clock_speed=_number(env, "SCHEDULER_CLOCK_SPEED", 1.0, 0.001),
        scheduler_clock_origin=_number(env, "SCHEDULER_CLOCK_ORIGIN", 0.0, 0),
        scheduler_poll_seconds=_number(env, "SCHEDULER_POLL_SECONDS", 1.0, 0.01),
        processes_module=env.get("PROCESSES_MODULE") or None,
        worker_heartbeat_seconds=_number(env, "WORKER_HEARTBEAT_SECONDS", 5.0, 0.05),
        worker_alive_seconds=_number(env, "WORKER_ALIVE_SECONDS", 60.0, 0.1),
        reset_mail_per_account=_count(env, "RESET_MAIL_PER_ACCOUNT", 3),
        reset_mail_per_address=_count(env, "RESET_MAIL_PER_ADDRESS", 10),
        reset_mail_window_minutes=_number(env, "RESET_MAIL_WINDOW_MINUTES", 60.0, 1),
        invite_ttl_hours=_number(env, "INVITE_TTL_HOURS", 72.0, 0.01),
        comment_edit_minutes=_number(env, "COMMENT_EDIT_MINUTES", 15.0, 0.0),
        environment=_environment(env),
        public_url=_public_url(env),
        allowed_hosts=_allowed_hosts(env),
        forwarded_allow_ips=_forwarded_allow_ips(env),
        max_body_bytes=_count(env, "MAX_BODY_BYTES", MAX_BODY_BYTES),
        imports=import_limits(env),
        log_format=_log_format(env),
        web_concurrency=_web_concurrency(env),
        metrics_token=_metrics_token(env),
        metrics_networks=_metrics_networks(env),
        api_docs=_switch(env, "API_DOCS", True),
        db_pool_size=_count(env, "DB_POOL_SIZE", 5),
        db_max_overflow=_count(env, "DB_MAX_OVERFLOW", 10, low=0),
        lists=list_limits(env),
        files_dir=env.get("FILES_DIR") or "files",
        files_s3_bucket=env.get("FILES_S3_BUCKET") or None,
        files_s3_prefix=env.get("FILES_S3_PREFIX", ""),
        files_s3_endpoint_url=env.get("FILES_S3_ENDPOINT_URL") or None,
        files_s3_region=env.get("FILES_S3_REGION") or None,
        attachment_max_mb=_number(env, "ATTACHMENT_MAX_MB", 25.0, 0.001),
        encryption_keys=env.get("ENCRYPTION_KEYS") or None,
        blind_index_key=env.get("BLIND_INDEX_KEY") or None,
    )


class AppSettings:
    """One app's settings reader: its name (in error messages) and default database, bound to
    the functions above. The generated ``settings`` module makes one and exports its methods."""

    def __init__(self, app: str, default_database_url: str, encryption: bool = False) -> None:
        self.app = app
        self.default_database_url = default_database_url
        self.encryption = encryption  # the app has encrypted fields: it needs their keys

    def __repr__(self) -> str:
        return f"AppSettings({self.app!r}, {self.default_database_url!r})"

    def database_url(self, environ: Mapping[str, str]) -> str:
        """``DATABASE_URL`` or the app's default, for SQLAlchemy (``database_url``)."""
        return database_url(environ, self.default_database_url)

    def load(self, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``environ`` (default: the process environment); ValueError for a
        malformed value."""
        return load_settings(os.environ if environ is None else environ, self.default_database_url)

    def check(self, settings: Settings) -> Settings:
        """``settings`` when the app may start with them, else a ``ConfigurationError``; an
        app with encrypted fields installs their keys (``crmgen_runtime.crypto``)."""
        checked = check(settings, self.app)
        if self.encryption:
            from crmgen_runtime import crypto

            keys = {
                crypto.KEYS_VARIABLE: settings.encryption_keys or "",
                crypto.BLIND_VARIABLE: settings.blind_index_key or "",
            }
            if settings.development and not settings.encryption_keys:
                # local development: keys kept beside the development database
                keys = crypto.development_keys(Path(crypto.DEVELOPMENT_KEYS_FILE))
            try:
                crypto.install(crypto.keyring_from(keys))
            except crypto.EncryptionKeyError as exc:
                raise ConfigurationError(self.app, str(exc)) from None
        return checked

    def startup(self, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings a server or worker starts with: ``load``, then ``check``; any problem
        is a ``ConfigurationError``."""
        try:
            settings = self.load(environ)
        except ValueError as exc:
            raise ConfigurationError(self.app, str(exc)) from None
        return self.check(settings)
