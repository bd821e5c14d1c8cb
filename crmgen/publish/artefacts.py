"""The app's wheel (hatchling's builder, in process) and a deterministic zip of its web assets."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crmgen_runtime import assets

from crmgen.publish import pins
from crmgen.publish.stages import StageFailed
from crmgen.render import runtime_wheel

# The zip's timestamps: constant, so the same files give the same bytes (zip's epoch is 1980).
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def build_wheel(project: Path, dist: Path) -> Path:
    """Build the wheel of ``project`` into ``dist`` with hatchling (reproducible: its fixed timestamps)."""
    try:
        from hatchling.builders.wheel import WheelBuilder
    except ImportError as exc:
        raise StageFailed("building the wheel needs hatchling: pip install hatchling") from exc
    dist.mkdir(parents=True, exist_ok=True)
    try:
        with _environment(pins.RUNTIME_VARIABLE, runtime_wheel.requirement()):
            builder = WheelBuilder(str(project))
            built = list(builder.build(directory=str(dist), versions=["standard"]))
    except Exception as exc:
        raise StageFailed(f"building the wheel failed: {type(exc).__name__}: {exc}") from exc
    return Path(built[0])


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """``os.environ[name] = value`` for the block (the app's wheel then depends on the runtime by
    version, not by a path on this machine)."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


def zip_web_assets(package: Path, target: Path) -> int:
    """Zip the page templates and static files the app serves into ``target`` (the runtime's,
    under the app's own ``templates/`` and ``static/``); returns the file count."""
    files = assets.web_files(package)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in files.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return len(files)
