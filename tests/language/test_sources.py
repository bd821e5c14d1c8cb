"""Spec sources: a folder of files is one spec; `use:` pulls in modules the spec extends."""

from __future__ import annotations

from pathlib import Path

import pytest

import crmgen
from crmgen.language import check_spec
from tests.language.sample_specs import write

ROLES = "roles: {admin: {superuser: true}, sales: Sales}\n"


def _errors(path: Path) -> list[str]:
    return [d.format_text() for d in check_spec(path)[1] if d.severity == "error"]


def test_a_folder_of_files_is_merged_into_one_spec(tmp_path: Path) -> None:
    write(
        tmp_path,
        "app: {name: shop}\n" + ROLES + "entities:\n  Deal:\n    fields:\n      title: string\n",
        "app.yaml",
    )
    write(
        tmp_path,
        "entities:\n  Invoice:\n    fields:\n      deal: {type: ref, to: Deal}\n",
        "sales/invoices.yml",
    )
    write(
        tmp_path, "entities:\n  Nope: {fields: {x: string}}\n", ".hidden/skip.yaml"
    )  # hidden folders are skipped
    write(tmp_path, "not: a spec\n", "notes.txt")
    spec = crmgen.load(tmp_path)
    assert [e.name for e in spec.entities if not e.builtin] == ["Deal", "Invoice"]
    invoice = spec.entity("Invoice")
    assert invoice is not None and invoice.field("deal").relation.target == "Deal"  # type: ignore[union-attr]
    assert Path(invoice.position.file).name == "invoices.yml"
    assert spec.app.name == "shop"


def test_the_same_value_set_in_two_files_is_a_conflict_located_in_both(tmp_path: Path) -> None:
    write(tmp_path, "app: {name: shop}\n" + ROLES, "a.yaml")
    write(tmp_path, "roles:\n  admin: Admin\n", "b.yaml")
    [error] = _errors(tmp_path)
    b_file = str(tmp_path / "b.yaml")
    assert error.startswith(f"{b_file}:2:3: error: ") or (
        error.split(":")[0].endswith("b.yaml") and ":2:3: error: " in error
    )
    assert "'roles.admin' is set in two files" in error
    assert "a.yaml:2:" in error  # where it was first set


def test_an_empty_folder_is_a_located_error(tmp_path: Path) -> None:
    [error] = _errors(tmp_path)
    assert "no .yaml or .yml files" in error


def test_use_a_built_in_module_and_extend_it(tmp_path: Path) -> None:
    spec_file = write(
        tmp_path,
        "use: [contacts]\n"
        + ROLES
        + """\
entities:
  Contact:
    label: Person
    fields:
      nickname: {type: string, max_length: 40}
      phone: {type: phone, label: Mobile}
    permissions:
      sales: own
""",
    )
    spec = crmgen.load(spec_file)
    contact = spec.entity("Contact")
    assert contact is not None
    names = [f.name for f in contact.fields]
    assert {"full_name", "email", "phone", "nickname"} <= set(names)
    assert names.index("nickname") > names.index("full_name")  # the module's fields come first
    assert contact.label.get("en") == "Person"  # the user's label replaces the module's
    phone = contact.field("phone")
    assert phone is not None and phone.label.get("en") == "Mobile"
    assert phone.position.file == "app.yaml" or phone.position.file.endswith("app.yaml")
    full_name = contact.field("full_name")
    assert full_name is not None and full_name.position.file.endswith(
        "contacts.yaml"
    )  # located in the module
    assert contact.permission("sales") is not None
    assert any(f.endswith("contacts.yaml") for f in spec.files)


def test_an_unknown_module_is_located_with_a_hint(tmp_path: Path) -> None:
    spec_file = write(tmp_path, "use: [contcts]\n" + ROLES)
    [error] = _errors(spec_file)
    assert error.startswith(f"{spec_file}:1:7: error: ") or ":1:7: error: " in error
    assert "unknown spec module 'contcts'" in error and "did you mean 'contacts'" in error


def test_use_a_local_module(tmp_path: Path) -> None:
    write(
        tmp_path / "lib",
        "entities:\n  Tag:\n    fields:\n      name: {type: string, unique: true}\n",
        "common.yaml",
    )
    spec_file = write(
        tmp_path / "app",
        "use: [../lib/common.yaml]\n"
        + ROLES
        + "entities:\n  Tag:\n    fields:\n      color: string\n",
    )
    spec = crmgen.load(spec_file)
    tag = spec.entity("Tag")
    assert tag is not None and [f.name for f in tag.fields] == ["name", "color"]


def test_use_a_module_beside_the_spec(tmp_path: Path) -> None:
    write(tmp_path / "mods", "roles: {auditor: Auditor}\n", "common.yaml")
    write(tmp_path, "use: [./mods/common.yaml]\n" + ROLES)
    spec = crmgen.load(tmp_path / "app.yaml")
    assert {r.name for r in spec.roles} >= {"auditor", "admin", "sales"}


def test_a_missing_local_module_is_located(tmp_path: Path) -> None:
    spec_file = write(tmp_path, "use: [./nope.yaml]\n" + ROLES)
    [error] = _errors(spec_file)
    assert ":1:7: error: " in error and "no spec module at './nope.yaml'" in error


def test_a_cycle_of_use_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "use: [./b.yaml]\n" + ROLES, "a.yaml")
    write(tmp_path, "use: [./a.yaml]\n", "b.yaml")
    errors = _errors(tmp_path / "a.yaml")
    assert any("cycle" in e for e in errors), errors


def test_a_problem_inside_a_module_is_located_in_the_module(tmp_path: Path) -> None:
    write(tmp_path, "entities:\n  Tag:\n    fields:\n      name: {type: strng}\n", "common.yaml")
    spec_file = write(tmp_path / "app", "use: [../common.yaml]\n" + ROLES)
    [error] = _errors(spec_file)
    assert "common.yaml:4:" in error and "strng" in error


@pytest.mark.parametrize(
    "use, words",
    [
        ("use: contacts", ["expected a list"]),
        ("use: 5", ["expected a list"]),
        ("use: [5]", ["a module in use:"]),
    ],
)
def test_a_malformed_use_is_a_located_error(tmp_path: Path, use: str, words: list[str]) -> None:
    spec_file = write(tmp_path, use + "\n" + ROLES)
    errors = _errors(spec_file)
    assert errors and all(":1:" in e for e in errors), errors
    for word in words:
        assert any(word in e for e in errors), errors


def test_a_file_that_is_not_utf8_is_a_located_error(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_bytes(b"app: {name: caf\xe9}\n")
    [error] = _errors(tmp_path / "app.yaml")
    assert ":1:" in error and ": error: " in error and "UTF-8" in error


def test_a_file_that_is_not_a_mapping_is_a_located_error(tmp_path: Path) -> None:
    spec_file = write(tmp_path, "- admin\n- sales\n")
    [error] = _errors(spec_file)
    assert ":1:1: error: " in error and "mapping" in error
