"""The spec's ``ui.icon`` reaches the app's ``ui.json``: on each entity and on its menu entry."""

from __future__ import annotations

from pathlib import Path

from crmgen_runtime.web import icons

from crmgen.language import load_spec
from crmgen.render.web import ui_data
from tests.generated_apps import ROOT


def test_every_entity_of_the_reference_crm_has_a_known_icon_in_ui_json() -> None:
    data = ui_data(load_spec(ROOT / "examples" / "crm"))
    assert all(entity["icon"] in icons.names() for entity in data["entities"].values())
    assert data["entities"]["deals"]["icon"] == "handshake"
    items = [item for group in data["nav"] for item in group["items"]]
    lists = [i for i in items if i["kind"] == "entity" and i["view"] == "list"]
    assert lists and all(i["icon"] == data["entities"][i["key"]]["icon"] for i in lists)
    # a board or a calendar gets the runtime's icon of its view; a dashboard, of its kind
    assert all("icon" not in i for i in items if i.get("view", "list") != "list")
    assert {icons.of_nav_item(i) for i in items if i.get("view") == "kanban"} == {"square-kanban"}


def test_an_entity_without_an_icon_has_none_and_the_runtime_picks_the_default(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "app.yaml"
    spec.write_text(
        "app: {name: plain}\nroles:\n  admin: {superuser: true}\n"
        "entities:\n  Note:\n    fields:\n      title: string\n"
        "  Memo:\n    fields:\n      title: string\n    ui: {icon: check-square}\n",
        encoding="utf-8",
    )
    data = ui_data(load_spec(spec))
    assert data["entities"]["notes"]["icon"] is None
    assert data["entities"]["memos"]["icon"] == "check-square"  # an old name Lucide keeps
    items = {i["key"]: i for group in data["nav"] for i in group["items"]}
    assert "icon" not in items["notes"] and icons.of_nav_item(items["notes"]) == "folder"
    assert icons.of_nav_item(items["memos"]) == "check-square"
