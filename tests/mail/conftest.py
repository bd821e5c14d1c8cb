"""Fixtures of the e-mail tests: one private dovecot per session (``dovecot.py``), an aiosmtpd
server, and the reference CRM behind uvicorn per module and database kind, reading that
mailbox (``IMAP_URL``) and sending through that SMTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mail.dovecot import Dovecot, available
from tests.security.crm import KINDS, Crm, drop_templates, start_crm
from tests.worker.conftest import SmtpServer


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    if not available():
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    server = Dovecot()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", autouse=True)
def _drop_postgres_templates() -> Iterator[None]:
    yield
    drop_templates()


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module", params=KINDS)
def crm(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    dovecot: Dovecot,
    smtp: SmtpServer,
) -> Iterator[Crm]:
    env = {"IMAP_URL": dovecot.url, "SMTP_URL": smtp.url}
    with start_crm(request.param, tmp_path_factory, env) as running:
        yield running
