"""Fixtures every test folder may use: the shared generated apps (``tests/generated_apps.py``).

The apps under test with encrypted fields (the reference CRM's) need keys: this test process
makes fresh ones (``ENCRYPTION_KEYS``, ``BLIND_INDEX_KEY``) unless its environment has them,
and every app it starts inherits them (``tests.app_settings.app_settings_env`` names them too).
"""

from __future__ import annotations

import os

import pytest
from crmgen_runtime import crypto

from tests.generated_apps import GeneratedApps

for _name, _value in crypto.new_environ().items():
    os.environ.setdefault(_name, _value)


@pytest.fixture(scope="session")
def generated_apps(tmp_path_factory: pytest.TempPathFactory) -> GeneratedApps:
    """``generated_apps("crm")``: a spec of ``tests.generated_apps.SPECS``, generated once per
    test process (shared: read it, or take a copy with ``copy_to``)."""
    return GeneratedApps(tmp_path_factory)
