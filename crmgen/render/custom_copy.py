"""The spec's custom folder copied into the app as ``PKG/custom/``, byte for byte.

The copies are generated files like any other (listed with their digests in the ``.crmgen``
marker), so an edit of the copy in OUT is caught; the source of truth is the folder beside the
spec, which crmgen only reads. Python files are not formatted: they are the user's.
"""

from __future__ import annotations

from pathlib import Path

from crmgen.language.custom_code import FOLDER
from crmgen.language.model import Spec
from crmgen.render.writer import Staging


def copy_custom(spec: Spec, staging: Staging) -> list[Path]:
    """Add every file of the spec's custom folder to ``staging``; returns their staged paths."""
    if spec.custom is None:
        return []
    base = f"{spec.app.name}/{FOLDER}"
    return [staging.add(f"{base}/{name}", spec.custom.read(name)) for name in spec.custom.files]
