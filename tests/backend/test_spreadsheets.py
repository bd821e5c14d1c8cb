"""The import limits of a generated app's settings (``IMPORT_MAX_*``), read from the environment.

The reader itself (``crmgen_runtime.spreadsheets``) is unit-tested in
``runtime/tests/test_rt_spreadsheets.py``; the attacks over HTTP are in ``tests/security/files``.
"""

from __future__ import annotations

import pytest
from crmgen_runtime import spreadsheets

from tests.backend.conftest import Generated, generated


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return generated("crm", tmp_path_factory)


def test_limits_come_from_the_environment(gen: Generated) -> None:
    settings = gen.settings.load_settings({"IMPORT_MAX_ROWS": "7", "MAX_BODY_BYTES": "1000"})
    assert settings.imports.rows == 7 and settings.max_body_bytes == 1000
    assert gen.settings.load_settings({}).imports == spreadsheets.ImportLimits()
    for wrong in ("0", "1.5", "many"):
        with pytest.raises(ValueError, match="IMPORT_MAX_CELLS"):
            gen.settings.load_settings({"IMPORT_MAX_CELLS": wrong})
