"""The generated app and its runtime: OUT installs offline with the runtime wheel it carries, and
an app refuses to start on a runtime of another version, saying what to install."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import crmgen_runtime

from crmgen import __version__
from crmgen.render import runtime_wheel


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def test_out_carries_the_runtime_wheel_at_crmgens_version(minimal_out: Path) -> None:
    wheel = minimal_out / runtime_wheel.OUT_PATH
    assert wheel.name == f"crmgen_runtime-{__version__}-py3-none-any.whl"
    assert crmgen_runtime.__version__ == __version__  # the two versions are locked together
    assert wheel.read_bytes() == runtime_wheel.wheel_bytes()


def test_pip_install_out_takes_the_runtime_from_its_wheels_folder_with_no_index(
    minimal_out: Path, tmp_path: Path
) -> None:
    """A fresh virtualenv (seeing this environment's packages except crmgen and the runtime
    through a ``.pth`` file, for the app's other dependencies, since there is no index)
    installs OUT with ``--no-index``: the runtime comes from OUT's ``wheels/``."""
    out = tmp_path / "out"
    shutil.copytree(minimal_out, out)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    [site] = venv.glob("lib/python3.*/site-packages")
    # this environment's packages, but not crmgen's nor the runtime's (the runtime must come
    # from OUT): a folder of links to the rest, named in a .pth file
    others = tmp_path / "others"
    others.mkdir()
    for folder in sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}):
        for entry in Path(folder).iterdir():
            own = entry.name.lower().replace("-", "_")
            if "crmgen" in own or entry.suffix == ".pth" or (others / entry.name).exists():
                continue
            (others / entry.name).symlink_to(entry)
    (site / "others.pth").write_text(f"{others}\n")
    # this interpreter's pip, installing into the virtualenv (no pip copied into it: faster)
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    install += ["--no-index"]
    install += ["--no-build-isolation", str(out)]
    done = subprocess.run(
        install, env=_env(), capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    where = subprocess.run(
        [str(python), "-c", "import crmgen_runtime, minimal; print(crmgen_runtime.__file__)"],
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert where.stdout.startswith(str(venv)), where.stdout
    helped = subprocess.run(
        [str(python), "-m", "minimal", "--help"],
        check=False,
        env=_env(),
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert helped.returncode == 0, helped.stderr


def test_an_app_on_another_runtime_version_says_what_to_install(
    minimal_out: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    shutil.copytree(Path(crmgen_runtime.__file__).parent, other / "crmgen_runtime")
    init = other / "crmgen_runtime" / "__init__.py"
    init.write_text(
        re.sub(r'__version__ = "[^"]+"', '__version__ = "0.0.1"', init.read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    env = _env(PYTHONPATH=os.pathsep.join([str(other), str(minimal_out)]))
    done = subprocess.run(
        [sys.executable, "-m", "minimal", "migrate"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 1
    assert f"minimal was generated for crmgen-runtime {__version__}" in done.stderr
    assert "crmgen-runtime 0.0.1 is installed" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "minimal.sqlite3").exists()  # nothing ran
