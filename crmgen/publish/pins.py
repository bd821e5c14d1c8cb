"""Pinned requirements for the image: the app's dependencies at the versions installed here.

The app's ``pyproject.toml`` names its dependencies (plus the ``postgresql`` extra the image
needs); each one, and everything it needs in turn, is pinned to the version that
``importlib.metadata`` finds in this environment, where the generated tests just passed.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from crmgen.render import runtime_wheel

IMAGE_EXTRAS = ("postgresql",)
# Set while publish builds the app's wheel, so the wheel needs ``crmgen-runtime==X`` (no path).
RUNTIME_VARIABLE = "CRMGEN_RUNTIME_REQUIREMENT"


def app_requirements(project: Path) -> list[Requirement]:
    """The dependencies ``project/pyproject.toml`` declares, with the image's extras (the
    runtime as ``crmgen-runtime==X``, the way the image installs it: ``runtime_requirement``)."""
    data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [runtime_requirement(name) for name in data.get("dependencies", [])]
    for extra in IMAGE_EXTRAS:
        names += data.get("optional-dependencies", {}).get(extra, [])
    return [Requirement(name) for name in names]


def runtime_requirement(name: str) -> str:
    """A dependency as the image's install sees it: the runtime's line (a path inside OUT,
    ``{env:CRMGEN_RUNTIME_REQUIREMENT:...}``) is ``crmgen-runtime==X``, found in ``wheels/``."""
    if name.startswith("{env:" + RUNTIME_VARIABLE + ":"):
        return runtime_wheel.requirement()
    return name


def pin(requirements: list[Requirement]) -> tuple[list[str], list[str]]:
    """``(pins, missing)``: ``name==version`` lines for the whole closure, sorted, and the
    requirements that are not installed here (left out: the caller warns)."""
    environment = default_environment()
    pins: dict[str, str] = {}
    missing: list[str] = []
    todo = [(req, "") for req in requirements]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({**environment, "extra": extra}):
            continue
        key = canonicalize_name(req.name)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            missing.append(str(req))
            continue
        first = key not in pins
        pins[key] = f"{key}=={dist.version}"
        if not first and not req.extras:
            continue
        for line in dist.requires or []:
            child = Requirement(line)
            if child.marker is None:
                todo.append((child, ""))
            else:
                todo.extend((child, wanted) for wanted in ("", *sorted(req.extras)))
    return sorted(pins.values()), sorted(set(missing))


def requirements_text(pins: list[str], package: str) -> str:
    header = (
        f"# Pinned dependencies of {package}: the versions its tests passed with.\n"
        "# Written by crmgen publish; deploy/install.sh installs them with the wheel.\n"
    )
    return header + "".join(f"{line}\n" for line in pins)
