"""Fixtures of the access-control attacks: the rule variants of ``owned/app.yaml`` and the
users' tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.access_control.owned_app import People, start_owned
from tests.security.crm import KINDS, Crm


@pytest.fixture(scope="session", params=KINDS)
def owned(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Crm]:
    """The variant app behind a real uvicorn, one per database kind for the whole session."""
    with start_owned(request.param, tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="session")
def people() -> People:
    """The users' tokens and ids, per running app."""
    return People()
