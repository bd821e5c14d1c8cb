"""Fixtures every test folder may use: the shared generated apps (``tests/generated_apps.py``)."""

from __future__ import annotations

import pytest

from tests.generated_apps import GeneratedApps


@pytest.fixture(scope="session")
def generated_apps(tmp_path_factory: pytest.TempPathFactory) -> GeneratedApps:
    """``generated_apps("crm")``: a spec of ``tests.generated_apps.SPECS``, generated once per
    test process (shared: read it, or take a copy with ``copy_to``)."""
    return GeneratedApps(tmp_path_factory)
