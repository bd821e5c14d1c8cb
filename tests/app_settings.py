"""The settings tests run a generated app with: it starts as in production (not in local
development), so its key is strong and it has a public address.

``PUBLIC_URL`` is Starlette's ``TestClient`` host, so in-process requests name an allowed host;
a test that serves over HTTP sets ``PUBLIC_URL`` to the server's own address.
"""

from __future__ import annotations

import os

SECRET_KEY = "crmgen-tests-0123456789-abcdefghijklmnopqrstuvwxyz"
PUBLIC_URL = "http://testserver"


def app_settings_env(**more: str) -> dict[str, str]:
    """``SECRET_KEY``, ``PUBLIC_URL`` and the encrypted fields' keys of this test process
    (tests/conftest.py) for an app under test, plus ``more``."""
    keys = {k: os.environ[k] for k in ("ENCRYPTION_KEYS", "BLIND_INDEX_KEY") if k in os.environ}
    return {"SECRET_KEY": SECRET_KEY, "PUBLIC_URL": PUBLIC_URL, **keys, **more}
