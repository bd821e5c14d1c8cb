"""The ``package`` stage: pinned requirements, the wheel, the web assets zip and the files that
deploy the app (Dockerfile, compose, Kubernetes), all inside the staging folder.

Artefacts (paths relative to OUT): ``dist/<wheel>``, ``dist/<app>-web-assets.zip``,
``deploy/requirements.txt``, and the files listed in ``crmgen.render.deployment.FILES`` (rendered
again with ``--tag``).
"""

from __future__ import annotations

from crmgen.publish import artefacts, pins
from crmgen.publish.stages import Done, Run, StageFailed, count_lines
from crmgen.render import GenerateError, deployment


def run(state: Run) -> Done:
    staging = state.staging
    assert staging is not None
    package = state.spec.app.name
    pinned, missing = pins.pin(pins.app_requirements(staging))
    for requirement in missing:
        state.warn(f"{requirement} is not installed here, so the image cannot pin it: left out")
    requirements = staging / "deploy" / "requirements.txt"
    requirements.parent.mkdir(parents=True, exist_ok=True)
    requirements.write_bytes(pins.requirements_text(pinned, package).encode("utf-8"))

    wheel = artefacts.build_wheel(staging, staging / "dist")
    assets = staging / "dist" / f"{package}-web-assets.zip"
    artefacts.zip_web_assets(staging / package, assets)

    values = {**deployment.context(package, wheel.name, state.options.tag), "spec": state.spec}
    planned = deployment.files(values)
    try:
        state.staged.render(state.env, planned)
    except GenerateError as exc:
        raise StageFailed(str(exc)) from exc
    text_files = [p.path for p in planned] + ["deploy/requirements.txt"]
    binaries = [f"dist/{wheel.name}", f"dist/{assets.name}"]
    state.staged.include(text_files + binaries)
    state.artefacts.update(
        wheel=f"dist/{wheel.name}",
        web_assets=f"dist/{assets.name}",
        dockerfile="Dockerfile",
        compose="compose.yaml",
        kubernetes="deploy/kubernetes",
    )
    lines = count_lines([staging / path for path in text_files])
    return Done(len(text_files) + len(binaries), lines, f"{wheel.name}, {len(pinned)} pins")
