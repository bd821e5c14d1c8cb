"""The files that run the app elsewhere, rendered from ``templates/deploy/*.j2``.

``Dockerfile``, ``.dockerignore``, ``compose.yaml`` (with ``deploy/nginx.conf`` and
``deploy/env.example``; ``deploy/compose.tls.yaml`` and ``deploy/nginx-tls.conf`` add TLS),
``deploy/install.sh`` and the Kubernetes manifests in ``deploy/kubernetes/``. ``crmgen generate`` writes them with every other file of the app (the
render plan); ``crmgen publish`` renders them again with the image tag it was given, and adds what
the Dockerfile copies: the wheel in ``dist/`` and the pinned ``deploy/requirements.txt``. They go
through crmgen's own Jinja environment (the override folder first, the same strict, safe filters
as the backend, ``json`` for exec-form command lists).
"""

from __future__ import annotations

from typing import Any

from crmgen import __version__
from crmgen.render import runtime_wheel
from crmgen.render.planned import PlannedFile

PYTHON_IMAGE = "python:3.11-slim-bookworm"
POSTGRES_IMAGE = "postgres:16-bookworm"
NGINX_IMAGE = "nginx:1.27-alpine"
PORT = 8000
REPLICAS = 3
UID = 10001
# compose's network, and nginx's fixed address in it: the only proxy the app trusts.
APP_SUBNET = "10.231.0.0/24"
PROXY_ADDRESS = "10.231.0.10"
VERSION = "0.1.0"  # the generated app's version (templates/backend/pyproject.toml.j2)

# template under templates/deploy -> path in OUT
FILES = {
    "Dockerfile.j2": "Dockerfile",
    "dockerignore.j2": ".dockerignore",
    "compose.yaml.j2": "compose.yaml",
    "nginx.conf.j2": "deploy/nginx.conf",
    "compose.tls.yaml.j2": "deploy/compose.tls.yaml",
    "nginx-tls.conf.j2": "deploy/nginx-tls.conf",
    "env.example.j2": "deploy/env.example",
    "install.sh.j2": "deploy/install.sh",
    "kubernetes/configmap.yaml.j2": "deploy/kubernetes/configmap.yaml",
    "kubernetes/deployment.yaml.j2": "deploy/kubernetes/deployment.yaml",
    "kubernetes/service.yaml.j2": "deploy/kubernetes/service.yaml",
    "kubernetes/migrate-job.yaml.j2": "deploy/kubernetes/migrate-job.yaml",
    "kubernetes/worker.yaml.j2": "deploy/kubernetes/worker.yaml",
}


def commands(package: str) -> dict[str, list[str]]:
    """The exec-form commands of the image: start, migrate, worker and the health check."""
    probe = (
        "import urllib.request; "
        f"urllib.request.urlopen('http://127.0.0.1:{PORT}/healthz', timeout=4)"
    )
    app = ["python", "-m", package]
    return {
        "start": [*app, "serve", "--host", "0.0.0.0", "--port", str(PORT)],
        "migrate": [*app, "migrate"],
        "worker": [*app, "worker"],
        "healthcheck": ["CMD", "python", "-c", probe],
    }


def wheel_name(package: str, version: str = VERSION) -> str:
    """The file name of the app's wheel (what hatchling builds)."""
    return f"{package}-{version}-py3-none-any.whl"


def context(package: str, wheel: str, image: str | None) -> dict[str, Any]:
    dist_name = package.replace("_", "-")
    version = VERSION
    return {
        "package": package,
        "dist_name": dist_name,
        "version": version,
        "wheel": wheel,
        "image": image or f"{dist_name}:{version}",
        "python_image": PYTHON_IMAGE,
        "postgres_image": POSTGRES_IMAGE,
        "nginx_image": NGINX_IMAGE,
        "port": PORT,
        "replicas": REPLICAS,
        "uid": UID,
        "app_subnet": APP_SUBNET,
        "proxy_address": PROXY_ADDRESS,
        "crmgen_version": __version__,
        "runtime_wheel": runtime_wheel.OUT_PATH,
        **commands(package),
    }


# only in an app that stores files (``Spec.uses_files``)
FILES_ONLY = {"kubernetes/files-pvc.yaml.j2": "deploy/kubernetes/files-pvc.yaml"}


def planned(package: str, base: dict[str, Any], image: str | None = None) -> list[PlannedFile]:
    """The deployment files as entries of the render plan (``base``: what every template sees)."""
    return files({**base, **context(package, wheel_name(package), image)})


def files(values: dict[str, Any]) -> list[PlannedFile]:
    """Every deployment file, rendered with ``values`` (``context``, the ``spec``, plus what
    else they use)."""
    chosen = {**FILES, **(FILES_ONLY if values["spec"].uses_files else {})}
    return [
        PlannedFile(path=path, template=f"deploy/{template}", context=values)
        for template, path in chosen.items()
    ]
