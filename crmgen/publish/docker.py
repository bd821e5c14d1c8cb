"""The ``docker`` stage: build (and push) the image through the Docker SDK.

``--docker`` needs a reachable engine (``docker.from_env()`` and a ping): without one it fails
with a one-line message. ``--docker=auto`` builds when an engine answers and otherwise skips the
stage with a warning. Not asked for, the stage is skipped.
"""

from __future__ import annotations

from typing import Any

from crmgen.publish.stages import Done, Run, StageFailed, StageSkipped

NO_ENGINE = "no Docker engine is reachable ({reason}); start Docker or set DOCKER_HOST"


def connect() -> tuple[Any | None, str]:
    """``(client, "")`` when an engine answers a ping, else ``(None, reason)``."""
    try:
        import docker
        import docker.errors
    except ImportError:
        return None, "the docker Python package is not installed: pip install 'crmgen[docker]'"
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - every way of not reaching the engine is one answer
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(
            ": "
        )
    return client, ""


def run(state: Run) -> Done:
    mode = state.options.docker
    if not mode:
        raise StageSkipped("not asked for (--docker)")
    client, reason = connect()
    if client is None:
        message = NO_ENGINE.format(reason=reason)
        if mode == "auto":
            state.warn(f"--docker=auto: {message}; the image was not built")
            raise StageSkipped(message)
        raise StageFailed(message)
    tag = state.options.tag or f"{state.spec.app.name.replace('_', '-')}:0.1.0"
    try:
        image, _logs = client.images.build(path=str(state.staging), tag=tag, rm=True, pull=False)
        state.artefacts.update(image_id=image.id, image_tag=tag)
        if state.options.push:
            push(client, tag)
    except StageFailed:
        raise
    except Exception as exc:
        raise StageFailed(f"building {tag} failed: {exc}") from exc
    finally:
        client.close()
    return Done(1, 0, f"{tag} {image.id[:19]}")


def push(client: Any, tag: str) -> None:
    repository, _, version = tag.rpartition(":")
    if not repository or "/" in version:
        repository, version = tag, "latest"
    for line in client.images.push(repository, tag=version, stream=True, decode=True):
        if "error" in line:
            raise StageFailed(f"pushing {tag} failed: {line['error']}")
