"""The shared generated apps (``tests/generated_apps.py``): one generation per spec and test
process, a pristine OUT, fresh imports that leave ``sys.modules`` alone, private copies."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.generated_apps import SPECS, GeneratedApps, generated_app


def test_a_spec_is_generated_once_per_test_process(
    generated_apps: GeneratedApps, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = generated_apps("minimal")
    assert generated_app("minimal", tmp_path_factory) is app
    assert app.spec == SPECS["minimal"]
    assert app.package == "minimal"
    assert (app.out / "minimal" / "app.py").is_file()


def test_imports_are_fresh_and_leave_no_trace(generated_apps: GeneratedApps) -> None:
    app = generated_apps("minimal")
    caches = set(app.out.rglob("__pycache__"))  # other tests may have run the app before
    first = app.import_modules("models", "resources")
    second = app.import_modules("models")
    assert first["models"] is not second["models"]  # a test may change its own copy
    assert first["resources"].__name__ == "minimal.resources"
    assert not [m for m in sys.modules if m.split(".")[0] == "minimal"]
    assert str(app.out) not in sys.path
    assert set(app.out.rglob("__pycache__")) == caches  # importing writes no bytecode in OUT
    assert app.models is app.modules["models"]  # the default pass, made once
    assert app.models is app.models


def test_copy_to_gives_a_private_copy(generated_apps: GeneratedApps, tmp_path: Path) -> None:
    app = generated_apps("minimal")
    copy = app.copy_to(tmp_path / "mine")
    models = copy / "minimal" / "models.py"
    assert models.read_bytes() == (app.out / "minimal" / "models.py").read_bytes()
    models.write_text("# changed\n", encoding="utf-8")
    assert (app.out / "minimal" / "models.py").read_text(encoding="utf-8") != "# changed\n"


def test_an_unknown_attribute_is_an_attribute_error(generated_apps: GeneratedApps) -> None:
    with pytest.raises(AttributeError):
        _ = generated_apps("minimal").nonesuch
