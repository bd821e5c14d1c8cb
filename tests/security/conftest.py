"""Fixtures of the attack tests (see ``tests/security/crm.py`` for the shared machinery).

The tests are grouped by what they attack, one folder per area: ``authentication/`` (signing
in, passwords, reset mail), ``sessions/`` (cookies, bearer tokens, CSRF, revocation),
``access_control/`` (who may read, link and change what), ``input/`` (values and parameters),
``files/`` (uploads and imports) and ``deployment/`` (hosts, keys, proxies, the shipped
configuration). A new attack goes into a module of its area, named for its topic.

``crm`` is the reference CRM behind a real uvicorn, one per test module and database kind, on a
clone of the seeded template; a module that needs other settings starts its own with
``start_crm(kind, tmp_path_factory, env={...})``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.crm import KINDS, Crm, drop_templates, start_crm


@pytest.fixture(scope="session", autouse=True)
def _drop_postgres_templates() -> Iterator[None]:
    yield
    drop_templates()


@pytest.fixture(scope="module", params=KINDS)
def crm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crm]:
    """The reference CRM on a private copy of the seeded database, over real HTTP."""
    with start_crm(request.param, tmp_path_factory) as running:
        yield running
