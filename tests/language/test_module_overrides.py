"""Extending modules: one-word fields relabelled, x- scratch keys for anchors."""

from __future__ import annotations

from pathlib import Path

from crmgen.language import check_spec


def test_a_module_field_in_one_word_form_can_be_relabelled(tmp_path: Path) -> None:
    """A module writes `deadline: date`; the user adds a label without restating the type."""
    (tmp_path / "tasks.yml").write_text(
        "roles: {admin: {superuser: true}}\nentities:\n  Task:\n    fields:\n      deadline: date\n",
        encoding="utf-8",
    )
    (tmp_path / "spec.yaml").write_text(
        "use: [./tasks.yml]\n"
        "entities:\n"
        "  Task:\n"
        "    fields:\n"
        "      deadline: {label: {en: Due by, ru: Срок}}\n",
        encoding="utf-8",
    )
    spec, diagnostics = check_spec(tmp_path / "spec.yaml")
    assert spec is not None, [d.format_text() for d in diagnostics]
    deadline = spec.entity("Task").field("deadline")
    assert deadline.type == "date"
    assert deadline.label.get("ru") == "Срок"


def test_top_level_x_keys_hold_anchors_and_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(
        "x-money: &money {type: money, min: 0}\n"
        "roles: {admin: {superuser: true}}\n"
        "entities:\n"
        "  Deal:\n"
        "    fields:\n"
        "      amount: *money\n",
        encoding="utf-8",
    )
    spec, diagnostics = check_spec(tmp_path / "spec.yaml")
    assert diagnostics == []
    assert spec is not None and spec.entity("Deal").field("amount").min == 0


def test_a_module_used_twice_is_merged_once(tmp_path: Path) -> None:
    """`a` relabels what `base` defines; `b` uses `base` again, which must not undo `a`."""
    (tmp_path / "base.yml").write_text(
        "roles: {admin: {superuser: true}}\nentities:\n  Note:\n    label: Note\n    fields: {text: text}\n",
        encoding="utf-8",
    )
    (tmp_path / "a.yml").write_text(
        "use: [./base.yml]\nentities:\n  Note:\n    label: Memo\n", encoding="utf-8"
    )
    (tmp_path / "b.yml").write_text(
        "use: [./base.yml]\nentities:\n  Tag:\n    fields: {name: string}\n", encoding="utf-8"
    )
    (tmp_path / "spec.yaml").write_text("use: [./a.yml, ./b.yml]\n", encoding="utf-8")
    spec, diagnostics = check_spec(tmp_path / "spec.yaml")
    assert spec is not None, [d.format_text() for d in diagnostics]
    assert spec.entity("Note").label.get("en") == "Memo"
    assert spec.entity("Tag") is not None
