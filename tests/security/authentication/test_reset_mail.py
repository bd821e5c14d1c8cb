"""Password-reset mail is throttled per account and per client address (issue 10 item 5).

The answer stays 202 and the same whatever happens, so nothing tells whether an account exists
or a limit was reached; what the tests count is the mail queued in the outbox. The throttle's
state is in the database: it holds across app processes (two uvicorns on one database) and
under requests fired in parallel. Each test sends from a loopback address of its own
(127.0.0.x), which the app sees as the client's address, so tests do not share a bucket.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle
from pathlib import Path
from types import ModuleType

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from tests.security.crm import (
    KINDS,
    PACKAGE,
    Crm,
    app_env,
    cloned_database,
    crm_out,
    email,
    free_port,
    start_crm,
)

RESET = "/api/auth/password-reset"
ACCEPTED = {"status": "accepted", "message": "If the account exists, an e-mail is on its way."}


def client_from(crm: Crm, address: str) -> httpx.Client:
    """A client whose requests come from ``address`` (a loopback address)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=crm.base, timeout=30, transport=transport)


def ask(client: httpx.Client, to: str) -> None:
    """Ask for a reset link for ``to``: always the same 202."""
    response = client.post(RESET, json={"email": to})
    assert response.status_code == 202, response.text
    assert response.json() == ACCEPTED


def reset_mails(crm: Crm, to: str) -> int:
    """The reset mails queued for ``to``."""
    count = 0
    for (payload,) in crm.sql("SELECT payload FROM crm_outbox"):
        message = payload if isinstance(payload, dict) else json.loads(payload)
        count += message.get("to") == to and message.get("template") == "password_reset"
    return count


def in_parallel(clients: list[httpx.Client], emails: list[str]) -> None:
    """One reset request per e-mail, all at once, spread over ``clients``."""
    pairs = list(zip(cycle(clients), emails, strict=False))
    with ThreadPoolExecutor(max_workers=len(pairs)) as pool:
        list(pool.map(lambda pair: ask(*pair), pairs))


def test_thirty_requests_queue_three_mails_and_the_address_runs_out(crm: Crm) -> None:
    with client_from(crm, "127.0.0.11") as client:
        for _ in range(30):
            ask(client, email("sales"))
        assert reset_mails(crm, email("sales")) == 3  # 3 per account and hour by default
        ask(client, email("manager"))  # another account, but this address had its 10
    assert reset_mails(crm, email("manager")) == 0


def test_unknown_emails_count_against_the_address(crm: Crm) -> None:
    with client_from(crm, "127.0.0.12") as client:
        for number in range(10):
            ask(client, f"nobody-{number}@demo.example")
        ask(client, email("support"))
    assert reset_mails(crm, email("support")) == 0
    with client_from(crm, "127.0.0.13") as elsewhere:
        ask(elsewhere, email("support"))
    assert reset_mails(crm, email("support")) == 1


def test_known_and_unknown_emails_are_counted_alike(crm: Crm) -> None:
    """The same throttle work whether or not the e-mail has an account."""
    known, unknown = email("admin"), "nobody-alike@demo.example"
    with client_from(crm, "127.0.0.15") as client:
        ask(client, known)
        ask(client, unknown)
    rows = dict(crm.sql("SELECT key, hits FROM crm_rate_limits"))
    for who in (known, unknown):
        hits = rows[f"reset-account:{hashlib.sha256(who.encode()).hexdigest()}"]
        assert len(hits if isinstance(hits, list) else json.loads(hits)) == 1
    assert reset_mails(crm, known) == 1


def test_stale_throttle_rows_are_pruned(crm: Crm) -> None:
    engine = crm.engine()
    try:
        table = sa.Table("crm_rate_limits", sa.MetaData(), autoload_with=engine)
        old = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
        with engine.begin() as connection:
            connection.execute(
                sa.insert(table).values(key="reset-account:stale", hits=[], updated_at=old)
            )
        with client_from(crm, "127.0.0.14") as client:
            ask(client, "someone@demo.example")
        with engine.connect() as connection:
            keys = set(connection.scalars(sa.select(table.c.key)))
    finally:
        engine.dispose()
    assert "reset-account:stale" not in keys
    assert keys  # the rows of the request itself stay


@pytest.fixture(scope="module", params=KINDS)
def two_apps(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Crm, Crm]]:
    """Two app processes on one database, 3 mails per account and 6 per address."""
    kind = request.param
    env = {"RESET_MAIL_PER_ACCOUNT": "3", "RESET_MAIL_PER_ADDRESS": "6"}
    folder = tmp_path_factory.mktemp(f"reset_{kind}")
    with (
        cloned_database(kind, folder, tmp_path_factory) as url,
        start_crm(kind, tmp_path_factory, env, database_url=url) as one,
        start_crm(kind, tmp_path_factory, env, database_url=url) as two,
    ):
        yield one, two


def test_parallel_requests_from_two_processes_never_pass_the_account_limit(
    two_apps: tuple[Crm, Crm],
) -> None:
    clients = [client_from(crm, "127.0.0.21") for crm in two_apps]
    try:
        in_parallel(clients, [email("sales")] * 24)
    finally:
        for client in clients:
            client.close()
    assert reset_mails(two_apps[0], email("sales")) == 3


def test_parallel_requests_from_two_processes_never_pass_the_address_limit(
    two_apps: tuple[Crm, Crm],
) -> None:
    names = ["admin", "manager", "support", "sales2"]
    clients = [client_from(crm, "127.0.0.22") for crm in two_apps]
    try:
        in_parallel(clients, [email(name) for name in names] * 4)
    finally:
        for client in clients:
            client.close()
    # Every request counts against the address, even one for an account past its 3 (so an
    # address cannot probe accounts for free): in the order the requests happen to arrive, the
    # 6 the address lets through make 6 mails, or 5 when one of them was an account's 4th
    # (two such among 6 would take 8 requests). Never more than the address's 6.
    mails = sum(reset_mails(two_apps[0], email(name)) for name in names)
    assert mails in (5, 6), mails


def generated_settings(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The generated app's ``settings`` module (it imports nothing of the app)."""
    path = crm_out(tmp_path_factory) / PACKAGE / "settings.py"
    spec = importlib.util.spec_from_file_location("reset_mail_settings", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RESET_MAIL_PER_ACCOUNT", "0"),
        ("RESET_MAIL_PER_ADDRESS", "2.5"),
        ("RESET_MAIL_PER_ADDRESS", "many"),
        ("RESET_MAIL_WINDOW_MINUTES", "-1"),
    ],
)
def test_bad_limits_are_refused_by_name(
    tmp_path_factory: pytest.TempPathFactory, name: str, value: str
) -> None:
    settings = generated_settings(tmp_path_factory)
    with pytest.raises(ValueError, match=name):
        settings.load_settings({name: value})
    limits = settings.load_settings({})
    assert (limits.reset_mail_per_account, limits.reset_mail_per_address) == (3, 10)


def test_the_app_names_a_bad_limit_and_does_not_start(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    out = crm_out(tmp_path_factory)
    env = app_env(out, f"sqlite:///{tmp_path / 'crm.sqlite3'}", {"RESET_MAIL_PER_ACCOUNT": "0"})
    done = subprocess.run(
        [sys.executable, "-m", PACKAGE, "serve", "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "RESET_MAIL_PER_ACCOUNT must be a whole number" in done.stderr
    assert "Traceback" not in done.stderr


def test_email_change_mail_is_limited_per_account_too(crm: Crm) -> None:
    """Another mail a request sends to an address of the caller's choosing: the same limit."""
    crm.add_user("changer", "sales")
    with crm.client(crm.token("changer")) as client:
        answers = [
            client.post(
                "/api/auth/email",
                json={"email": "victim@elsewhere.example", "password": "demo-password"},
            ).status_code
            for _ in range(5)
        ]
    assert answers == [202, 202, 202, 429, 429]
    assert len(crm.mails("victim@elsewhere.example")) == 3
