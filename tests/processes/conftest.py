"""Fixtures of the process tests: the generated apps of tests/backend (reference CRM and small
inline specs), one database per module and dialect, SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backend.conftest import Backend, crm, crm_backend, dialect, make_backend  # noqa: F401
from tests.generated_apps import SPECS

HERE = Path(__file__).parent
SPECS.setdefault("notes", HERE / "notes.yaml")
# The enrichment call of the reference CRM (an http step with into) must fail fast offline.
os.environ.setdefault("ENRICHMENT_API_URL", "http://127.0.0.1:9/api")


@pytest.fixture(scope="module")
def notes_backend(dialect: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:  # noqa: F811
    yield from make_backend("notes", dialect, tmp_path_factory)


@pytest.fixture
def notes(notes_backend: Backend) -> Backend:
    notes_backend.reset()
    return notes_backend
