"""crmgen's cache folder: ``$CRMGEN_CACHE``, else ``$XDG_CACHE_HOME/crmgen`` or ``~/.cache/crmgen``.

It holds ``serve``'s generated apps and the runtime's wheels; deleting it loses nothing.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    configured = os.environ.get("CRMGEN_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crmgen"
