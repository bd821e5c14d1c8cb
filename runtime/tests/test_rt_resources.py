"""``crmgen_runtime.resources``: resources by path and name, their columns and types, roles.

The resources are the small CRM of the ``crm`` fixture (``rt_crm.py``).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from crmgen_runtime.events import Event
from crmgen_runtime.resources import Catalog, FieldInfo


def test_the_catalog_finds_resources_by_path_and_by_name(crm: Any) -> None:
    catalog = crm.catalog
    assert list(catalog.resources) == ["users", "companies", "deals"]
    assert catalog.resources["deals"] is crm.deals
    assert catalog.by_name["Company"] is crm.companies
    assert crm.deals.catalog is catalog
    assert catalog.superuser_roles == {"admin"} and catalog.user_manager_roles == {"manager"}


def test_target_follows_a_link_through_the_catalog(crm: Any) -> None:
    deals = crm.deals
    assert deals.target(deals.fields["company"]) is crm.companies
    assert deals.target(deals.fields["partners"]) is crm.companies
    assert deals.target(deals.fields["owner"]) is crm.users


def test_a_resource_outside_a_catalog_raises_lookup_error(crm: Any) -> None:
    alone = dataclasses.replace(crm.deals, name="Alone")
    with pytest.raises(LookupError, match="Alone is in no catalog"):
        _ = alone.catalog
    with pytest.raises(LookupError):
        alone.target(alone.fields["company"])


def test_adopt_links_without_serving(crm: Any) -> None:
    catalog = crm.catalog
    extra = dataclasses.replace(crm.deals, name="DealInput", path="deal-input")
    assert catalog.adopt(extra) is extra
    assert extra.catalog is catalog
    assert extra.target(extra.fields["company"]) is crm.companies
    assert "deal-input" not in catalog.resources and "DealInput" not in catalog.by_name


def test_an_empty_catalog_has_no_special_roles(crm: Any) -> None:
    empty = Catalog([])
    assert empty.resources == {} and empty.by_name == {}
    assert not empty.is_superuser(crm.admin)
    assert empty.is_superuser(crm.person(9, superuser=True))


def test_superusers_by_flag_or_role(crm: Any) -> None:
    catalog = crm.catalog
    assert catalog.is_superuser(crm.admin)
    assert catalog.is_superuser(crm.person(9, superuser=True))
    assert catalog.is_superuser(crm.person(9, "sales", "admin"))
    assert not catalog.is_superuser(crm.ann)
    assert not catalog.is_superuser(crm.person(9, "manager"))


def test_user_managers_are_superusers_and_manager_roles(crm: Any) -> None:
    catalog = crm.catalog
    assert catalog.manages_users(crm.person(9, "manager"))
    assert catalog.manages_users(crm.person(9, "sales", "manager"))
    assert catalog.manages_users(crm.admin)
    assert catalog.manages_users(crm.person(9, superuser=True))
    assert not catalog.manages_users(crm.ann)
    assert not catalog.manages_users(crm.person(9))


def test_attribute_is_the_model_column_of_a_field_or_system_column(crm: Any) -> None:
    deals = crm.deals
    assert deals.attribute("owner") is crm.Deal.owner_id
    assert deals.attribute("title") is crm.Deal.title
    assert deals.attribute("id") is crm.Deal.id
    assert deals.attribute("created_at") is crm.Deal.created_at
    with pytest.raises(AttributeError):
        deals.attribute("nothing")


def test_type_of_fields_and_system_columns(crm: Any) -> None:
    deals, companies = crm.deals, crm.companies
    assert deals.type_of("amount") == "money"
    assert deals.type_of("partners") == "refs"
    assert deals.type_of("id") == "integer" and deals.type_of("version") == "integer"
    assert deals.type_of("created_at") == "datetime"
    assert deals.type_of("updated_at") == "datetime"
    assert companies.type_of("created_at") is None  # no timestamps
    assert companies.type_of("updated_at") is None
    assert companies.type_of("id") == "integer"
    assert deals.type_of("nothing") is None
    assert deals.type_of("deleted_at") is None


def test_system_fields_follow_timestamps(crm: Any) -> None:
    assert crm.deals.system_fields == ("id", "version", "created_at", "updated_at")
    assert crm.companies.system_fields == ("id", "version")


def test_computed_fields(crm: Any) -> None:
    (label,) = crm.deals.computed
    assert label.name == "label"
    assert label.compute is not None and label.compute(crm.Deal(title="Big")) == "Big"
    assert crm.companies.computed == ()


def test_field_kinds() -> None:
    ref = FieldInfo("company", "ref", column="company_id", relation="many_to_one")
    one = FieldInfo("profile", "ref", column="profile_id", relation="one_to_one")
    many = FieldInfo("tags", "refs", relation="many_to_many")
    plain = FieldInfo("title", "string", column="title")
    assert ref.is_ref and one.is_ref and not many.is_ref and not plain.is_ref
    assert many.is_list and not ref.is_list and not plain.is_list
    assert plain.options == {} and plain.options is not FieldInfo("x", "string").options


def test_a_field_named_like_a_keyword_has_its_own_attribute(crm: Any) -> None:
    """``from`` is the model attribute ``from_`` over the column "from"; a reference keeps
    ``<name>_id`` for its value and names its relationship ``attr``."""
    plain = FieldInfo("from", "string", attr="from_")
    ref = FieldInfo("global", "ref", attr="global_", relation="many_to_one")
    many = FieldInfo("lambda", "refs", attr="lambda_", relation="many_to_many")
    assert (plain.attr, plain.column, plain.column_name) == ("from_", "from_", "from")
    assert (ref.attr, ref.column, ref.column_name) == ("global_", "global_id", "global_id")
    assert (many.attr, many.column, many.column_name) == ("lambda_", "", "")
    title = FieldInfo("title", "string")
    assert (title.attr, title.column, title.column_name) == ("title", "title", "title")
    deals = crm.catalog.by_name["Deal"]
    assert deals.field_at("title") is deals.fields["title"] and deals.field_at("nothing") is None


def test_hook_modules_are_imported_on_first_use_and_registered_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each module of ``hooks`` is imported when ``events`` is first used and its
    ``register(events)`` called, in the listed order (the spec's processes, then custom code);
    a module without ``register`` is only imported."""
    (tmp_path / "rt_hooks_first.py").write_text(
        "ORDER = []\n"
        "def register(events):\n"
        "    events.on('before_create', 'Deal', lambda event: ORDER.append('first'))\n",
        encoding="utf-8",
    )
    (tmp_path / "rt_hooks_second.py").write_text(
        "import rt_hooks_first\n"
        "def register(events):\n"
        "    events.on('before_create', 'Deal', lambda event: rt_hooks_first.ORDER.append('second'))\n",
        encoding="utf-8",
    )
    (tmp_path / "rt_hooks_plain.py").write_text("IMPORTED = True\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    catalog = Catalog([], hooks=["rt_hooks_first", "rt_hooks_second", "rt_hooks_plain"])
    assert "rt_hooks_first" not in sys.modules
    events = catalog.events
    assert catalog.events is events  # imported and registered once
    assert sys.modules["rt_hooks_plain"].IMPORTED
    deal = SimpleNamespace(name="Deal")
    events.fire(Event("before_create", None, deal, None))
    assert sys.modules["rt_hooks_first"].ORDER == ["first", "second"]
    for name in ("rt_hooks_first", "rt_hooks_second", "rt_hooks_plain"):
        del sys.modules[name]
