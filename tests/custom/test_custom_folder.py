"""The custom folder beside the spec: copied into the app byte for byte on every generate,
never changed, its copies guarded like any generated file; ``serve`` watches it, ``init``
writes it."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from crmgen.generate import generate
from crmgen.init import write_starter
from crmgen.language import check_spec
from crmgen.render import HandEdited
from crmgen.render.marker import read_marker
from crmgen.serve import watched_files

SHOP = Path(__file__).with_name("shop")


def _digests(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    """A copy of the shop spec, with what the copy must skip or keep as it is."""
    folder = tmp_path / "shop"
    shutil.copytree(SHOP, folder, ignore=shutil.ignore_patterns("__pycache__"))
    custom = folder / "custom"
    (custom / "__pycache__").mkdir()
    (custom / "__pycache__" / "hooks.cpython-311.pyc").write_bytes(b"\0cache")
    (custom / "data.yaml").write_text("not: [a, spec\n", encoding="utf-8")  # not read as spec
    (custom / "notes.txt").write_bytes(b"tabs\tand CRLF\r\nkept   \n")
    (custom / "unformatted.py").write_text("x=( 1,\n2 )\n", encoding="utf-8")
    return folder


def test_the_custom_folder_survives_regeneration_byte_for_byte(spec: Path, tmp_path: Path) -> None:
    before = _digests(spec / "custom")
    out = tmp_path / "out"
    generate(spec, out)
    generate(spec, out)
    assert _digests(spec / "custom") == before  # never changed
    assert (spec / "custom" / "__pycache__").is_dir()
    copy = out / "shop" / "custom"
    assert _digests(copy) == before  # every file, not only .py; not formatted
    assert not (copy / "__pycache__").exists()
    listed = read_marker(out).files
    assert {f"shop/custom/{name}" for name in before} <= set(listed)

    # the copies are generated files: an edit of one in OUT stops generate
    edited = copy / "pricing.py"
    edited.write_text(edited.read_text(encoding="utf-8") + "# edited in OUT\n", encoding="utf-8")
    with pytest.raises(HandEdited) as stopped:
        generate(spec, out)
    assert "shop/custom/pricing.py" in str(stopped.value)
    source = spec / "custom" / "pricing.py"
    source.write_text("def discount(run, amount, rate):\n    return 0\n", encoding="utf-8")
    with pytest.raises(HandEdited):
        generate(spec, out)  # a new source does not silently replace the edit in OUT either
    generate(spec, out, force=True)
    assert edited.read_bytes() == source.read_bytes()
    assert "# edited in OUT" in (copy / "pricing.py.orig").read_text(encoding="utf-8")


def test_without_a_custom_folder_the_app_has_none(tmp_path: Path) -> None:
    spec = tmp_path / "app.yaml"
    spec.write_text((SHOP / "app.yaml").read_text().split("processes:")[0], encoding="utf-8")
    model, _ = check_spec(spec)
    assert model is not None and model.custom is None
    out = tmp_path / "out"
    generate(spec, out)
    assert not (out / "shop" / "custom").exists()
    assert 'hooks=["shop.processes"]' in (out / "shop" / "resources.py").read_text()


def test_a_single_spec_file_has_its_custom_folder_beside_it(tmp_path: Path) -> None:
    spec = tmp_path / "crm.yaml"
    shutil.copy(SHOP / "app.yaml", spec)
    shutil.copytree(SHOP / "custom", tmp_path / "custom")
    model, diagnostics = check_spec(spec)
    assert model is not None, diagnostics
    assert model.custom is not None and model.custom.folder == (tmp_path / "custom").resolve()
    assert "hooks.py" in model.custom.files and "deals/audit.py" in model.custom.files


def test_serve_watches_the_custom_folder(spec: Path) -> None:
    watched = watched_files(spec)
    assert spec / "app.yaml" in watched
    assert (spec / "custom" / "hooks.py").resolve() in watched
    assert (spec / "custom" / "static" / "shop.css").resolve() in watched
    assert (spec / "custom" / "data.yaml").resolve() in watched  # a custom file, not a spec part
    assert not any("__pycache__" in p.parts for p in watched)


def test_init_writes_a_custom_folder_that_does_nothing_yet(tmp_path: Path) -> None:
    target = write_starter(tmp_path / "mycrm", None, False)
    custom = tmp_path / "mycrm" / "custom"
    names = sorted(p.name for p in custom.iterdir())
    assert names == ["__init__.py", "hooks.py", "middleware.py", "routes.py", "steps.py"]
    for path in custom.iterdir():
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    (custom / "steps.py").write_text("# mine\n", encoding="utf-8")
    write_starter(tmp_path / "mycrm", None, True)  # --force: the spec only, never custom code
    assert (custom / "steps.py").read_text(encoding="utf-8") == "# mine\n"
    model, diagnostics = check_spec(target)
    assert model is not None and model.custom is not None, diagnostics
    assert model.custom.wired == ("hooks", "routes", "middleware")
