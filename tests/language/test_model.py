"""The typed model: frozen all the way down, with defaults derived from the spec."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

import crmgen
from crmgen.language.model import ACTIONS, Access, Spec
from crmgen.render.api import field_facts
from crmgen.render.web import ui_data
from tests.language.sample_specs import MINIMAL, RICH, write

# The rich spec plus literals that are lists and mappings (a json default, an `in` condition).
RICHER = RICH.replace(
    "      closed_on: date\n",
    "      closed_on: date\n      meta: {type: json, default: {a: [1, 2], b: {c: null}}}\n",
).replace("stage: new, closed_on__lt", "stage__in: [new, won], closed_on__lt")


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    return crmgen.load(write(tmp_path_factory.mktemp("rich"), RICHER))


def _walk(obj: Any, path: str = "spec") -> Iterator[tuple[str, Any]]:
    """Every value in the model with its path; dataclasses and tuples are opened."""
    yield path, obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from _walk(getattr(obj, f.name), f"{path}.{f.name}")
    elif isinstance(obj, tuple):
        for i, item in enumerate(obj):
            yield from _walk(item, f"{path}[{i}]")
    elif isinstance(obj, MappingProxyType):
        for key, value in obj.items():
            yield from _walk(value, f"{path}[{key!r}]")


def test_richer_spec_loads(rich: Spec) -> None:
    assert RICHER != RICH and rich.entity("Deal").field("meta") is not None  # type: ignore[union-attr]


def test_nothing_in_the_model_is_mutable(rich: Spec) -> None:
    seen_types = set()
    for path, value in _walk(rich):
        seen_types.add(type(value).__name__)
        if dataclasses.is_dataclass(value):
            assert type(value).__dataclass_params__.frozen, (
                f"{path}: {type(value).__name__} is not frozen"
            )  # type: ignore[attr-defined]
        else:
            assert isinstance(
                value, (tuple, str, int, float, bool, type(None), MappingProxyType)
            ), f"{path} is a {type(value).__name__}"
    assert "dict" not in seen_types and "list" not in seen_types and "set" not in seen_types


def test_the_model_can_be_hashed_where_it_has_no_mappings(tmp_path: Path) -> None:
    spec = crmgen.load(write(tmp_path, MINIMAL))
    assert hash(spec) == hash(crmgen.load(tmp_path / "app.yaml"))
    assert spec == crmgen.load(tmp_path / "app.yaml")


def test_assigning_to_the_model_raises(rich: Spec) -> None:
    deal = rich.entity("Deal")
    assert deal is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        deal.name = "Other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        deal.fields[0].required = True  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rich.app.title = None  # type: ignore[misc,assignment]
    with pytest.raises(TypeError):
        deal.fields[0] = deal.fields[1]  # type: ignore[index]
    meta = deal.field("meta")
    assert meta is not None and meta.default is not None
    with pytest.raises(TypeError):
        meta.default.literal["a"] = 1  # a json default is a read-only mapping
    assert meta.default.literal["a"] == (1, 2)


def test_relations_get_default_back_names_and_on_delete(rich: Spec) -> None:
    deal = rich.entity("Deal")
    assert deal is not None
    company = deal.field("company").relation  # type: ignore[union-attr]
    assert company is not None and company.kind == "many_to_one" and company.target == "Company"
    assert company.back == "deals"  # the plural of the entity, in snake_case
    assert company.on_delete == "restrict"  # required -> restrict
    owner = deal.field("owner").relation  # type: ignore[union-attr]
    assert owner is not None and owner.on_delete == "set_null"  # optional -> set_null
    tags = deal.field("tags").relation  # type: ignore[union-attr]
    assert tags is not None and tags.kind == "many_to_many" and tags.on_delete is None
    assert tags.through == "deals_tags" and tags.back == "deals"
    assert deal.field("company").column == "company_id" and deal.field("tags").column == ""  # type: ignore[union-attr]
    incoming = {(e.name, f.name) for e, f in rich.incoming("Company")}
    assert incoming == {("Deal", "company")}


def test_two_refs_to_the_same_entity_get_distinct_back_names(tmp_path: Path) -> None:
    spec = crmgen.load(
        write(
            tmp_path,
            "roles: {admin: {superuser: true}}\nentities:\n  Transfer:\n    fields:\n"
            "      source: {type: ref, to: Account}\n      target: {type: ref, to: Account}\n"
            "  Account:\n    fields:\n      name: string\n      parent: {type: ref, to: Account}\n",
        )
    )
    transfer = spec.entity("Transfer")
    account = spec.entity("Account")
    assert transfer is not None and account is not None
    assert transfer.field("source").relation.back == "source_transfers"  # type: ignore[union-attr]
    assert transfer.field("target").relation.back == "target_transfers"  # type: ignore[union-attr]
    assert account.field("parent").relation.back == "parent_accounts"  # type: ignore[union-attr]


def test_a_relation_names_the_field_its_links_show(tmp_path: Path) -> None:
    spec = crmgen.load(
        write(
            tmp_path,
            "roles: {admin: {superuser: true}}\nentities:\n  Contact:\n    fields:\n"
            "      name: string\n      company: {type: ref, to: Company, display: tax_id}\n"
            "      partners: {type: refs, to: Company}\n      owner: {type: ref, to: User}\n"
            "  Company:\n    fields: {name: string, tax_id: string}\n",
        )
    )
    contact = spec.entity("Contact")
    assert contact is not None
    fields = {f.name: f for f in contact.fields}
    assert fields["company"].relation.display == "tax_id"  # type: ignore[union-attr]
    assert fields["partners"].relation.display is None  # type: ignore[union-attr]
    # what the app is given: the resource's field and the UI's (the target's display by default)
    assert field_facts(contact, fields["company"]).display == "tax_id"
    assert field_facts(contact, fields["partners"]).display == ""
    ui = ui_data(spec)["entities"]["contacts"]["fields"]
    assert (ui["company"]["display"], ui["partners"]["display"]) == ("tax_id", "name")
    assert "display" not in ui["name"]


def test_api_paths_and_tables_are_plural_snake_case(tmp_path: Path) -> None:
    spec = crmgen.load(
        write(
            tmp_path,
            "roles: {admin: {superuser: true}}\nentities:\n  DealStage: {fields: {name: string}}\n"
            "  Company: {fields: {name: string}}\n  Person: {fields: {name: string}}\n"
            "  Box: {plural: Crates, fields: {name: string}}\n",
        )
    )
    paths = {e.name: (e.api_path, e.table, e.plural) for e in spec.entities if not e.builtin}
    assert paths == {
        "DealStage": ("deal_stages", "deal_stages", "DealStages"),
        "Company": ("companies", "companies", "Companies"),
        "Person": ("people", "people", "People"),
        "Box": ("crates", "crates", "Crates"),
    }
    assert spec.entity("DealStage").label.get("en") == "Deal stage"  # type: ignore[union-attr]


def _actions(spec: Spec, entity: str, role: str) -> dict[str, Access]:
    permission = spec.entity(entity).permission(role)  # type: ignore[union-attr]
    assert permission is not None
    return dict(permission.actions)


def test_permission_shorthands_expand_to_every_action(rich: Spec) -> None:
    assert _actions(rich, "Company", "manager") == {a: Access("all") for a in ACTIONS}
    read = _actions(rich, "Company", "sales")
    assert read == {
        "list": Access("all"),
        "read": Access("all"),
        "create": Access("none"),
        "update": Access("none"),
        "delete": Access("none"),
    }
    sales = _actions(rich, "Deal", "sales")
    assert sales["list"] == Access("own") and sales["create"] == Access("all")
    assert sales["delete"] == Access("none")  # not given -> none
    assert sales["update"].mode == "where" and str(sales["update"].where) == "record.stage != 'won'"
    assert rich.entity("Deal").permission("sales").hidden == ("vat",)  # type: ignore[union-attr]
    assert rich.entity("Deal").permission("admin") is None  # type: ignore[union-attr]
    assert rich.entity("Deal").permission("sales").access("delete") == Access("none")  # type: ignore[union-attr]


def test_own_and_none_shorthands(tmp_path: Path) -> None:
    spec = crmgen.load(
        write(
            tmp_path,
            "roles: {admin: {superuser: true}, sales: S, guest: G}\nentities:\n  Lead:\n    owner: owner\n"
            "    fields:\n      name: string\n      owner: {type: ref, to: User}\n"
            "    permissions: {sales: own, guest: none}\n",
        )
    )
    assert _actions(spec, "Lead", "sales") == {
        a: Access("own") if a != "create" else Access("all") for a in ACTIONS
    }
    assert _actions(spec, "Lead", "guest") == {a: Access("none") for a in ACTIONS}


def test_defaults_of_a_minimal_spec(tmp_path: Path) -> None:
    spec = crmgen.load(write(tmp_path, MINIMAL))
    assert spec.app.name == "minimal" and spec.app.locales == ("en",) and spec.app.timezone == "UTC"
    assert spec.entities[0].name == "User" and spec.entities[0].builtin
    contact = spec.entity("Contact")
    assert contact is not None
    assert contact.display == "name" and contact.api == ACTIONS and contact.timestamps
    assert contact.field("name").max_length == 120 and contact.field("notes").max_length is None  # type: ignore[union-attr]
    assert contact.search == ("name", "email", "phone")
    assert [r.name for r in spec.roles] == ["admin", "staff"] and spec.role("admin").superuser  # type: ignore[union-attr]
    assert spec.ui.navigation[0].items[0].target == "User" or any(
        item.target == "Contact" for group in spec.ui.navigation for item in group.items
    )
