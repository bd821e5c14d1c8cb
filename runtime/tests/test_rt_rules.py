"""Compact descriptions: ``Rule.of``, ``field_map`` and the default column of a field."""

from __future__ import annotations

import pytest
import rt_crm
from crmgen_runtime.resources import ACTIONS, Access, FieldInfo, Rule, field_map


def test_a_rule_gives_its_default_to_every_action_not_named() -> None:
    rule = Rule.of("own", create="all", hidden=["secret"])
    assert {a: x.mode for a, x in rule.actions.items()} == {
        "list": "own",
        "read": "own",
        "create": "all",
        "update": "own",
        "delete": "own",
    }
    assert rule.hidden == frozenset({"secret"}) and rule.read_only == frozenset()
    assert Rule.of().actions == {action: Access("none") for action in ACTIONS}


def test_a_where_rule_keeps_its_condition() -> None:
    rule = Rule.of("none", list=Access("where", rt_crm.starts_with_a), read_only=("name",))
    assert rule.actions["list"].where is rt_crm.starts_with_a
    assert rule.actions["read"] == Access("none") and rule.read_only == {"name"}


def test_an_unknown_action_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown action"):
        Rule.of("all", lisst="none")


def test_fields_are_mapped_by_name_and_get_their_default_column() -> None:
    fields = field_map(
        FieldInfo("title", "string"),
        FieldInfo("company", "ref", relation="many_to_one", target="Company"),
        FieldInfo("partners", "refs", relation="many_to_many", target="Company"),
        FieldInfo("boss", "ref", column="manager_id", relation="one_to_one", target="User"),
    )
    assert list(fields) == ["title", "company", "partners", "boss"]
    assert [info.column for info in fields.values()] == ["title", "company_id", "", "manager_id"]
