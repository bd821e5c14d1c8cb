"""Signing in tells nothing about which accounts exist, nor by time (issue 10 item 9).

Proved by structure, not by a stopwatch: every way a sign-in can go (unknown e-mail, locked,
deactivated, no password, wrong password, right password; through the API and the HTML form)
does exactly one argon2 verification and no hashing, counted by wrapping the runtime's ``hasher``
in the process that serves it (a real uvicorn in a thread of the test process). And the answers
are alike: an unknown e-mail is locked after as many failures as an account, with the same
status, message and ``Retry-After``.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import re
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa
import uvicorn
from argon2 import PasswordHasher
from crmgen_runtime import passwords

from crmgen import load
from tests.app_settings import app_settings_env
from tests.security.crm import (
    CRM_SPEC,
    KINDS,
    PACKAGE,
    PASSWORD,
    Crm,
    cloned_database,
    crm_out,
    email,
    free_port,
)

LOGIN = "/api/auth/login"
# The users' hashes and the app's hasher, made cheap alike (no rehash on success): the
# structure counted is the same, each verification takes a millisecond.
CHEAP = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
WRONG = "not the password"


@functools.cache
def lockout_attempts() -> int:
    """The failures in a row that lock an account (the spec's ``app.auth``)."""
    return load(CRM_SPEC).app.lockout_attempts


class CountingHasher:
    """The app's ``PasswordHasher``, counting its ``verify`` and ``hash`` calls."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def verify(self, stored: Any, password: Any) -> Any:
        self.calls["verify"] += 1
        return self.inner.verify(stored, password)

    def hash(self, password: Any, **options: Any) -> Any:
        self.calls["hash"] += 1
        return self.inner.hash(password, **options)


@dataclass
class Served:
    """The app served by uvicorn in this process, its database and its counting hasher."""

    base: str
    database_url: str
    hasher: CountingHasher

    def sql(self, statement: str, **params: Any) -> None:
        engine = sa.create_engine(self.database_url)
        try:
            with engine.begin() as connection:
                connection.execute(sa.text(statement), params)
        finally:
            engine.dispose()


def _forget(before: set[str]) -> None:
    for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE and m not in before]:
        del sys.modules[name]


@contextmanager
def _imported(out: Any) -> Iterator[dict[str, ModuleType]]:
    """The generated package's modules, importable for a while; forgotten afterwards."""
    before = set(sys.modules)
    sys.path.insert(0, str(out))
    try:
        yield {name: importlib.import_module(f"{PACKAGE}.{name}") for name in ("app", "settings")}
    finally:
        sys.path.remove(str(out))
        _forget(before)


@contextmanager
def served(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The reference CRM on a clone of the template, behind uvicorn in a thread of this process,
    its ``hasher`` the cheap one, counting."""
    folder = tmp_path_factory.mktemp(f"login_{kind}")
    with (
        cloned_database(kind, folder, tmp_path_factory) as url,
        _imported(crm_out(tmp_path_factory)) as modules,
    ):
        original = passwords.hasher
        passwords.hasher = hasher = CountingHasher(CHEAP)
        port = free_port()
        settings = modules["settings"].load_settings(
            app_settings_env(DATABASE_URL=url, PUBLIC_URL=f"http://127.0.0.1:{port}")
        )
        config = uvicorn.Config(
            modules["app"].create_app(settings), host="127.0.0.1", port=port, log_level="warning"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while not server.started:
                assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.05)
            yield Served(f"http://127.0.0.1:{port}", url, hasher)
        finally:
            server.should_exit = True
            thread.join(30)
            passwords.hasher = original


def _csrf(client: httpx.Client) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert match
    return match.group(1)


@pytest.mark.parametrize("kind", KINDS)
def test_every_sign_in_path_does_one_argon2_verification(
    kind: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with served(kind, tmp_path_factory) as app, httpx.Client(base_url=app.base) as client:
        until = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        app.sql("UPDATE users SET password_hash = :h", h=CHEAP.hash(PASSWORD))
        app.sql("UPDATE users SET password_hash = NULL WHERE email = :e", e=email("support"))
        app.sql("UPDATE users SET active = false WHERE email = :e", e=email("sales2"))
        app.sql("UPDATE users SET locked_until = :u WHERE email = :e", u=until, e=email("admin"))
        ghost = f"ghost-{uuid.uuid4().hex[:8]}@demo.example"
        seen: list[tuple[str, int, int, int]] = []

        def attempt(label: str, who: str, password: str, *, form: bool = False) -> None:
            before = Counter(app.hasher.calls)
            if form:
                data = {"email": who, "password": password, "csrf_token": _csrf(client)}
                status = client.post("/login", data=data).status_code
            else:
                status = client.post(LOGIN, json={"email": who, "password": password}).status_code
            client.cookies.clear()
            done = app.hasher.calls - before
            seen.append((label, status, done["verify"], done["hash"]))

        attempt("unknown e-mail", f"nobody-{uuid.uuid4().hex[:8]}@demo.example", PASSWORD)
        attempt("wrong password", email("sales"), WRONG)
        attempt("right password", email("manager"), PASSWORD)
        attempt("no password", email("support"), PASSWORD)
        attempt("inactive, right password", email("sales2"), PASSWORD)
        attempt("inactive, wrong password", email("sales2"), WRONG)
        attempt("locked, right password", email("admin"), PASSWORD)
        attempt("locked, wrong password", email("admin"), WRONG)
        attempt("locked, by the form", email("admin"), PASSWORD, form=True)
        attempt(
            "unknown, by the form", f"nobody-{uuid.uuid4().hex[:8]}@x.example", WRONG, form=True
        )
        for number in range(lockout_attempts() + 1):
            attempt(f"unknown e-mail, attempt {number + 1}", ghost, WRONG)

    statuses = {
        "unknown e-mail": 401,
        "wrong password": 401,
        "right password": 200,
        "no password": 401,
        "inactive, right password": 403,
        "inactive, wrong password": 401,
        "locked, right password": 423,
        "locked, wrong password": 423,
        "locked, by the form": 423,
        "unknown, by the form": 401,
    }
    for number in range(lockout_attempts() + 1):
        statuses[f"unknown e-mail, attempt {number + 1}"] = (
            401 if number + 1 < lockout_attempts() else 423
        )
    expected = [(label, statuses[label], 1, 0) for label, *_ in seen]
    assert seen == expected


def _answer(response: httpx.Response) -> tuple[int, str, str]:
    """Status, error code and message (its time made generic) of a failed sign-in."""
    error = response.json()["error"]
    message = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<time>", error["message"])
    return response.status_code, error["code"], message


def _sign_in(crm: Crm, who: str, password: str = WRONG) -> httpx.Response:
    with crm.client() as client:
        return client.post(LOGIN, json={"email": who, "password": password})


def _cheap_password(crm: Crm, name: str) -> None:
    """``name``'s password hashed cheaply (checked at its own cost): a faster test."""
    crm.sql(
        "UPDATE users SET password_hash = :h WHERE email = :e",
        h=CHEAP.hash(PASSWORD),
        e=email(name),
    )


def test_an_unknown_email_is_locked_like_an_account(crm: Crm) -> None:
    _cheap_password(crm, "support")
    known, unknown = email("support"), f"ghost-{uuid.uuid4().hex[:8]}@demo.example"
    answers: dict[str, list[httpx.Response]] = {known: [], unknown: []}
    for _ in range(lockout_attempts() + 1):
        for who in (known, unknown):
            answers[who].append(_sign_in(crm, who))
    for who in (known, unknown):
        answers[who].append(_sign_in(crm, who, PASSWORD))  # the right one does not help
    assert [_answer(r) for r in answers[known]] == [_answer(r) for r in answers[unknown]]
    statuses = [r.status_code for r in answers[unknown]]
    assert statuses == [401] * (lockout_attempts() - 1) + [423] * 3
    for mine, theirs in zip(answers[known][-3:], answers[unknown][-3:], strict=True):
        assert abs(int(mine.headers["Retry-After"]) - int(theirs.headers["Retry-After"])) <= 2


def test_parallel_attempts_lock_an_unknown_email_as_an_account(crm: Crm) -> None:
    _cheap_password(crm, "sales")
    attempts = lockout_attempts()
    statuses = []
    for who in (email("sales"), f"ghost-{uuid.uuid4().hex[:8]}@demo.example"):
        with ThreadPoolExecutor(max_workers=attempts) as pool:
            answers = pool.map(_sign_in, [crm] * attempts, [who] * attempts)
            statuses.append(sorted(answer.status_code for answer in answers))
    assert statuses == [[401] * (attempts - 1) + [423]] * 2
