"""Naming rules: snake_case and plural defaults, and why a name cannot be used."""

from __future__ import annotations

import pytest

from crmgen.language.names import MAX_NAME_LENGTH, attribute, name_problem, snake_case
from crmgen.language.plurals import pluralize


@pytest.mark.parametrize(
    "name, snake",
    [
        ("Contact", "contact"),
        ("DealStage", "deal_stage"),
        ("HTTPLog", "http_log"),
        ("URLValue", "url_value"),
        ("Deal2Item", "deal2_item"),
        ("already_snake", "already_snake"),
        ("KPIs", "kpis"),  # an acronym's plural stays one word
        ("MyKPIsReport", "my_kpis_report"),
        ("HTTPServer", "http_server"),
    ],
)
def test_snake_case(name: str, snake: str) -> None:
    assert snake_case(name) == snake


@pytest.mark.parametrize(
    "name, plural",
    [
        ("Deal", "Deals"),
        ("Company", "Companies"),
        ("Day", "Days"),  # a vowel before the y
        ("Status", "Statuses"),
        ("Box", "Boxes"),
        ("Match", "Matches"),
        ("Wish", "Wishes"),
        ("Person", "People"),
        ("SalesPerson", "SalesPeople"),
        ("Child", "Children"),
        ("Woman", "Women"),
        # the examples: a plural stays, -iz doubles, -us and -ss take -es
        ("Points", "Points"),
        ("CustomerDetails", "CustomerDetails"),
        ("Quiz", "Quizzes"),
        ("Address", "Addresses"),
        ("CustomerAddress", "CustomerAddresses"),
        ("Settings", "Settings"),
        ("Analysis", "Analyses"),
        ("Campus", "Campuses"),
        ("Tennis", "Tennises"),
        ("Gas", "Gases"),  # inflect knows it as a singular
        ("Idea", "Ideas"),
        ("Hero", "Heroes"),
        ("Leaf", "Leaves"),
        ("Mouse", "Mice"),
        ("Criteria", "Criteria"),
        ("People", "People"),
        ("Equipment", "Equipment"),  # no plural of its own
        ("News", "News"),
        ("Series", "Series"),
        ("KPI", "KPIs"),  # an acronym
        ("HTTPLog", "HTTPLogs"),
        ("Phase2", "Phase2s"),
    ],
)
def test_pluralize(name: str, plural: str) -> None:
    assert pluralize(name) == plural


@pytest.mark.parametrize(
    "name",
    [
        "Contact",
        "DealStage",
        "Deal2",
        "A",
        "Order",
        "Group",
        "Select",
        "Job",
        "Session",
        "AuditEntry",
    ],
)
def test_good_entity_names(name: str) -> None:
    assert name_problem(name, "entity") is None


@pytest.mark.parametrize(
    "name",
    [
        "first_name",
        "x",
        "deal2",
        "a_b_c",
        "position_title",
        "select",
        "order",
        "user",
        "match",
        "type",
    ],
)
def test_good_snake_names(name: str) -> None:
    assert name_problem(name, "field") is None
    assert name_problem(name, "role") is None


@pytest.mark.parametrize(
    "name, words",
    [
        ("deal", ["not a valid entity name", "PascalCase", "'Deal'"]),  # with a suggestion
        ("Deal Stage", ["PascalCase", "'DealStage'"]),
        ("Deal_Stage", ["PascalCase"]),
        ("2Deal", ["PascalCase"]),
        ("Контакт", ["PascalCase"]),
        ("User", ["generated models module defines itself"]),
        ("Base", ["generated models module defines itself"]),
        ("CrmAuditEntry", ["generated models module defines itself"]),
        ("D" + "x" * MAX_NAME_LENGTH, ["too long"]),
    ],
)
def test_bad_entity_names(name: str, words: list[str]) -> None:
    problem = name_problem(name, "entity")
    assert problem is not None and f"'{name}'" in problem
    for word in words:
        assert word in problem


@pytest.mark.parametrize(
    "name, words",
    [
        ("FirstName", ["snake_case", "'first_name'"]),
        ("first name", ["snake_case", "'first_name'"]),
        ("a__b", ["snake_case"]),
        ("_private", ["snake_case"]),
        ("2nd", ["snake_case"]),
        ("имя", ["snake_case"]),
        ("x" * (MAX_NAME_LENGTH + 1), ["too long"]),
    ],
)
def test_bad_snake_names(name: str, words: list[str]) -> None:
    problem = name_problem(name, "field")
    assert problem is not None and f"'{name}'" in problem
    for word in words:
        assert word in problem


def test_the_message_names_what_is_named() -> None:
    assert "role" in (name_problem("Bad Role", "role") or "")
    assert "field" in (name_problem("Class", "field") or "")


@pytest.mark.parametrize("name", ["from", "class", "global", "import", "lambda", "in", "pass"])
def test_python_keywords_name_everything_but_bare_names(name: str) -> None:
    """A field ``from`` is the model attribute ``from_``; entities, roles, processes take
    keywords; the app's package and a process's variables (bare names) cannot."""
    for kind in ("field", "back-reference", "role", "process", "endpoint", "dashboard"):
        assert name_problem(name, kind) is None, kind
    assert name_problem(name.capitalize(), "entity") is None
    assert attribute(name) == f"{name}_"
    for kind, words in (("app", "Python package"), ("variable", "bare name")):
        problem = name_problem(name, kind) or ""
        assert "Python keyword" in problem and words in problem and f"'{name}_value'" in problem


def test_model_attributes_differ_from_names_only_where_they_must() -> None:
    assert [attribute(n) for n in ("name", "match", "type", "session", "query", "self")] == [
        "name",
        "match",
        "type",
        "session",
        "query",
        "self",
    ]
    assert [attribute(n) for n in ("metadata", "registry", "display_field")] == [
        "metadata_",
        "registry_",
        "display_field_",
    ]


def test_inflect_is_imported_without_typeguard_and_typeguard_is_left_as_it_was() -> None:
    import typeguard

    from crmgen.language import plurals

    assert typeguard.typechecked.__module__.startswith("typeguard")  # restored after the import
    assert plurals._import_inflect() is plurals.inflect  # imported once
    assert plurals.pluralize("SalesPerson") == "SalesPeople"
    assert plurals.pluralize("Status") == "Statuses" and plurals.pluralize("Company") == "Companies"
