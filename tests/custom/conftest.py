"""The app of ``tests/custom/shop`` (a spec with custom code beside it), generated once per
session by the backend fixtures, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backend.conftest import Backend, dialect, make_backend

__all__ = ["dialect"]


@pytest.fixture(scope="module")
def shop_backend(dialect: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    yield from make_backend("shop", dialect, tmp_path_factory)


@pytest.fixture
def shop(shop_backend: Backend) -> Backend:
    shop_backend.reset()
    return shop_backend
