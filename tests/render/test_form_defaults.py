"""A field's constant default reaches the app's ``ui.json``, where the new-record form starts
with it; an expression's default (computed on create) does not."""

from __future__ import annotations

from pathlib import Path

from crmgen.language import load_spec
from crmgen.render.web import ui_data
from tests.generated_apps import ROOT


def test_the_reference_crms_new_deal_starts_as_a_lead() -> None:
    data = ui_data(load_spec(ROOT / "examples" / "crm"))
    assert data["entities"]["deals"]["fields"]["stage"]["default"] == "lead"


def test_only_literal_defaults_reach_the_form(tmp_path: Path) -> None:
    spec = tmp_path / "app.yaml"
    spec.write_text(
        "app: {name: plain}\nroles:\n  admin: {superuser: true}\n"
        "entities:\n  Note:\n    fields:\n      title: {type: string, default: Untitled}\n"
        "      pinned: {type: boolean, default: true}\n"
        "      due: {type: date, default: '= today()'}\n"
        "      body: text\n",
        encoding="utf-8",
    )
    fields = ui_data(load_spec(spec))["entities"]["notes"]["fields"]
    assert fields["title"]["default"] == "Untitled" and fields["pinned"]["default"] is True
    assert "default" not in fields["due"] and "default" not in fields["body"]
