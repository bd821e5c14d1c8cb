"""The app's wheel (hatchling's builder, in process) and a deterministic zip of its web assets."""

from __future__ import annotations

import zipfile
from pathlib import Path

from crmgen.publish.stages import StageFailed

# The zip's timestamps: constant, so the same files give the same bytes (zip's epoch is 1980).
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
WEB_FOLDERS = ("static", "templates")


def build_wheel(project: Path, dist: Path) -> Path:
    """Build the wheel of ``project`` into ``dist`` with hatchling (reproducible: its fixed timestamps)."""
    try:
        from hatchling.builders.wheel import WheelBuilder
    except ImportError as exc:
        raise StageFailed("building the wheel needs hatchling: pip install hatchling") from exc
    dist.mkdir(parents=True, exist_ok=True)
    try:
        built = list(WheelBuilder(str(project)).build(directory=str(dist), versions=["standard"]))
    except Exception as exc:
        raise StageFailed(f"building the wheel failed: {type(exc).__name__}: {exc}") from exc
    return Path(built[0])


def zip_web_assets(package: Path, target: Path) -> int:
    """Zip ``package/static`` and ``package/templates`` into ``target``; returns the file count."""
    files = sorted(
        path
        for folder in WEB_FOLDERS
        if (package / folder).is_dir()
        for path in (package / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(package).as_posix(), date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return len(files)
