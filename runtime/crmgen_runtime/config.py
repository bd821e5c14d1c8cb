"""What the spec fixed for an app as a whole, in one object: ``AppConfig``.

The generated ``settings.py`` makes it (``settings.CONFIG``) and the app's ``Catalog`` carries
it (``catalog.config``), so runtime code that is handed a catalog (or a resource: its
``resource.catalog``) finds the app's name, roles, clock, formats, expression functions and
settings machinery there, and never in a module-level global: several apps can live in one
process (the test suites do).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from crmgen_runtime.clock import Clock
from crmgen_runtime.formats import Formats
from crmgen_runtime.functions import Functions
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.settings import AppSettings


@dataclass(frozen=True)
class AppConfig:
    """An app's spec-wide configuration (what the environment does not decide)."""

    name: str  # the app's package name: logs, cookies, backups, error messages
    title: str = ""
    database_url: str = ""  # the default database (an SQLite file named after the app)
    timezone: str = "UTC"
    currency: str = "USD"
    locales: tuple[str, ...] = ("en",)
    default_locale: str = "en"
    roles: frozenset[str] = frozenset()  # every role of the spec
    audit_roles: frozenset[str] = frozenset()  # roles that may read the audit log
    lockout_attempts: int = 5  # failed sign-ins in a row that lock an account ...
    lockout_minutes: int = 30  # ... for this long
    two_factor: bool = True  # users may turn on two-factor sign-in (twofactor)
    two_factor_required: frozenset[str] = frozenset()  # roles that must
    api_keys: bool = True  # API keys are credentials (api_keys); False: the spec turns them off
    # the app tells its users things (crmgen_runtime.notifications): a notify step, comments
    notifications: bool = False
    # phone fields are stored in E.164 and read in this region when written without their
    # country code (crmgen_runtime.phones); "": free text, as the user wrote it
    phone_region: str = ""
    # some fields are stored encrypted (crmgen_runtime.crypto): the app needs their keys
    encryption: bool = False
    clock: Clock = field(init=False, repr=False, compare=False)
    formats: Formats = field(init=False, repr=False, compare=False)
    functions: Functions = field(init=False, repr=False, compare=False)
    settings: AppSettings = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        clock = Clock(self.timezone)  # datetimes are stored in UTC, shown in this zone
        database_url = self.database_url or f"sqlite:///{self.name}.sqlite3"
        # a frozen dataclass: the derived objects are set once, here
        object.__setattr__(self, "clock", clock)
        object.__setattr__(self, "formats", Formats(clock, self.currency))
        object.__setattr__(self, "functions", Functions(clock))
        object.__setattr__(self, "settings", AppSettings(self.name, database_url, self.encryption))

    @property
    def plain_title(self) -> str:
        """The title on one line, its whitespace collapsed (mail subjects, help texts)."""
        return " ".join(self.title.split())

    @property
    def lockout(self) -> dt.timedelta:
        """How long a locked account stays locked."""
        return dt.timedelta(minutes=self.lockout_minutes)

    def may_read_audit(self, user: CurrentUser | None) -> bool:
        """True for superusers and the roles with the audit flag."""
        return user is not None and (user.superuser or bool(user.roles & self.audit_roles))
