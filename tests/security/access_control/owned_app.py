"""The rule variants of ``owned/app.yaml`` behind a real uvicorn, like ``tests.security.crm``.

The spec is generated once per test process; each ``start_owned`` migrates a fresh database of
its kind (an SQLite file, or a PostgreSQL database dropped afterwards) through the app's own
CLI, adds the users below and serves it. Users (password ``demo-password``) at
``<name>@demo.example``: ``admin`` (superuser), ``seller``, ``seller2`` and ``clerk``.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa

from tests.generated_apps import SPECS, generated_app
from tests.security.crm import (
    CLI_TIMEOUT,
    PASSWORD,
    Crm,
    app_env,
    email,
    empty_database,
    start_crm,
)

SPEC = Path(__file__).parent / "owned" / "app.yaml"
PACKAGE = "owned_crm"
USERS = {"admin": "admin", "seller": "seller", "seller2": "seller", "clerk": "clerk"}

SPECS.setdefault("owned", SPEC)


def owned_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``owned/app.yaml`` generated once per test process (the shared ``tests/generated_apps.py``)."""
    return generated_app("owned", tmp_path_factory).out


def imported(out: Path, module: str) -> ModuleType:
    """``owned_crm.<module>`` imported into the test process from the generated folder."""
    if str(out) not in sys.path:
        sys.path.append(str(out))
    return importlib.import_module(f"{PACKAGE}.{module}")


class People:
    """Bearer tokens and ids of the users of each running app, each looked up once (signing
    in verifies an argon2 hash on purpose slowly)."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], str] = {}
        self._ids: dict[tuple[str, str], int] = {}

    def token(self, crm: Crm, name: str) -> str:
        key = (crm.base, name)
        if key not in self._tokens:
            self._tokens[key] = crm.token(name)
        return self._tokens[key]

    def id(self, crm: Crm, name: str) -> int:
        key = (crm.base, name)
        if key not in self._ids:
            self._ids[key] = crm.user_id(name)
        return self._ids[key]


def _add_users(database_url: str) -> None:
    """The users of ``USERS``, written directly (the CLI would cost a process per user)."""
    from argon2 import PasswordHasher

    password_hash = PasswordHasher().hash(PASSWORD)
    engine = sa.create_engine(database_url)
    try:
        metadata = sa.MetaData()
        users = sa.Table("users", metadata, autoload_with=engine)
        roles = sa.Table("crm_user_roles", metadata, autoload_with=engine)
        with engine.begin() as connection:
            for name, role in USERS.items():
                new_id = connection.execute(
                    sa.insert(users)
                    .values(email=email(name), name=name, active=True, password_hash=password_hash)
                    .returning(users.c.id)
                ).scalar_one()
                connection.execute(sa.insert(roles).values(user_id=new_id, role=role))
    finally:
        engine.dispose()


@contextmanager
def start_owned(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crm]:
    """The variant app behind uvicorn on a fresh, migrated database of ``kind``."""
    out = owned_out(tmp_path_factory)
    folder = tmp_path_factory.mktemp(f"owned_{kind}")
    with empty_database(kind, folder, "crmgen_owned") as url:
        subprocess.run(
            [sys.executable, "-m", PACKAGE, "migrate"],
            env=app_env(out, url),
            cwd=folder,
            capture_output=True,
            timeout=CLI_TIMEOUT,
            check=True,
        )
        _add_users(url)
        with start_crm(kind, tmp_path_factory, database_url=url, out=out, package=PACKAGE) as crm:
            yield crm
