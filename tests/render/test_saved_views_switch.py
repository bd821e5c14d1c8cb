"""``ui.saved_views`` and ``ui.inline_edit`` switch their parts of the app on and off.

Saved views are on by default (``crm_saved_views``, ``/api/views``, the list page's menu) and
cells edited in place off; a spec that turns saved views off and leaves inline editing off gets
no trace of either: no table, no route, no web module, nothing in ``ui.json`` or the OpenAPI
document. ``views`` is a name the app keeps for itself, which ``crmgen validate`` explains.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crmgen import SpecError, load
from crmgen.generate import generate

MINIMAL = Path(__file__).resolve().parents[2] / "examples" / "minimal" / "app.yaml"
TRACES = ("saved_view", "SavedView", "views.routes", "/api/views", "inline_edit", "saved_views")


def _spec(folder: Path, ui: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = MINIMAL.read_text(encoding="utf-8") + ui
    (folder / "app.yaml").write_text(text, encoding="utf-8")
    return folder / "app.yaml"


def _texts(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): p.read_text(encoding="utf-8")
        for p in out.rglob("*")
        if p.is_file() and p.suffix in (".py", ".json", ".md", ".toml", ".yaml")
    }


def test_a_spec_that_turns_them_off_gets_no_trace(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(_spec(tmp_path / "spec", "ui:\n  saved_views: false\n"), out)
    found = {name: trace for name, text in _texts(out).items() for trace in TRACES if trace in text}
    assert found == {}


def test_saved_views_are_on_by_default_and_inline_edit_per_entity(tmp_path: Path) -> None:
    ui = "    ui:\n      inline_edit: true\n"
    spec = _spec(tmp_path / "spec", "").read_text(encoding="utf-8")
    spec = spec.replace(
        "    permissions:\n      staff: all\n", "    permissions:\n      staff: all\n" + ui
    )
    (tmp_path / "spec" / "app.yaml").write_text(spec, encoding="utf-8")
    out = tmp_path / "out"
    generate(tmp_path / "spec" / "app.yaml", out)
    texts = _texts(out)
    assert "class CrmSavedView(" in texts["minimal/models.py"]
    assert "*views.routes(CATALOG)" in texts["minimal/app.py"]
    ui_json = json.loads(texts["minimal/ui.json"])
    assert ui_json["lists"] == {"saved_views": True}
    assert ui_json["entities"]["contacts"]["lists"]["inline_edit"] is True
    assert "/api/views/{id}" in json.loads(texts["minimal/openapi.json"])["paths"]


def test_views_is_a_name_the_app_keeps(tmp_path: Path) -> None:
    spec = _spec(tmp_path / "spec", "").read_text(encoding="utf-8")
    spec += "  View:\n    plural: Views\n    fields:\n      title: string\n    permissions:\n      staff: all\n"
    (tmp_path / "spec" / "app.yaml").write_text(spec, encoding="utf-8")
    with pytest.raises(SpecError) as raised:
        load(tmp_path / "spec" / "app.yaml")
    assert "/api/views is used by the generated app itself" in str(raised.value)
