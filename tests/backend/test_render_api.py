"""The render helpers of the API: record rules compiled to SQL, and the OpenAPI document."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from crmgen import load
from crmgen.language.model import Condition, Value
from crmgen.render.errors import GenerateError
from crmgen.render.openapi import document_text
from crmgen.render.where_compiler import Conditions, rule_source
from tests.generated_apps import SPECS


@pytest.fixture(scope="module")
def spec():  # type: ignore[no-untyped-def]
    return load(SPECS["crm"])


@pytest.mark.parametrize(
    ("entity", "source", "code"),
    [
        (
            "Contact",
            "not record.is_key",
            "sa.not_(sa.func.coalesce(models.Contact.is_key, sa.false()))",
        ),
        (
            "Deal",
            "record.stage != 'lost'",
            "sa.or_(models.Deal.stage != 'lost', models.Deal.stage.is_(None))",
        ),
        (
            "OrderLine",
            "record.sales_order.owner == user",
            "models.OrderLine.sales_order.has(models.Order.owner_id == user.id)",
        ),
        ("Deal", "record.company == None", "models.Deal.company_id.is_(None)"),
        (
            "Deal",
            "record.stage in ['won', 'lost'] and record.owner == user",
            "sa.and_(models.Deal.stage.in_(['won', 'lost']), (models.Deal.owner_id == user.id))",
        ),
        (
            "Task",
            "record.assignee.position == user.position or has_role('manager')",
            (
                "sa.or_(models.Task.assignee.has(models.User.position_id.is_(None) if "
                "user.extra.get('position_id') is None else models.User.position_id == "
                "user.extra.get('position_id')), sa.true() if (user.has_role('manager')) "
                "else sa.false())"
            ),
        ),
    ],
)
def test_rules_compile_to_sqlalchemy(spec, entity: str, source: str, code: str) -> None:  # type: ignore[no-untyped-def]
    assert rule_source(spec, spec.entity(entity), source) == code


@pytest.mark.parametrize(
    "source", ["record.amount * 2 > 10", "len(record.name) > 3", "record.tasks == user"]
)
def test_untranslatable_rules_raise_a_clear_error(spec, source: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(GenerateError, match="cannot be compiled to SQL"):
        rule_source(spec, spec.entity("Deal"), source)


def test_openapi_is_deterministic_and_complete(spec) -> None:  # type: ignore[no-untyped-def]
    text = document_text(spec)
    assert text == document_text(spec)
    document = json.loads(text)
    assert document["openapi"] == "3.1.0"
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer" and schemes["cookie"]["in"] == "cookie"
    for entity in spec.entities:
        for suffix in ("", "Create", "Update", "List"):
            assert entity.name + suffix in document["components"]["schemas"]
        assert f"/api/{entity.api_path}" in document["paths"]
    deal = document["components"]["schemas"]["DealCreate"]
    assert "vat" not in deal["properties"] and deal["required"] == ["name"]
    listing = document["paths"]["/api/deals"]["get"]
    shared = document["components"]["parameters"]  # the lists' parameters, by reference

    def names(operation: dict[str, Any]) -> set[str]:
        return {
            shared[p["$ref"].rsplit("/", 1)[1]]["name"] if "$ref" in p else p["name"]
            for p in operation["parameters"]
        }

    assert {"limit", "cursor", "offset", "sort", "q", "stage", "filters"} <= names(listing)
    # the back sides of relations: their records, as their own list takes its parameters
    deals_of = document["paths"]["/api/companies/{id}/deals"]["get"]
    assert names(deals_of) == names(listing) | {"id"}
    assert deals_of["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/DealList"
    }
    assert set(deals_of["responses"]) == {"200", "400", "401", "403", "404"}
    assert "/api/contacts/{id}/client_groups" in document["paths"]  # many-to-many
    assert "/api/orders/{id}/invoice" in document["paths"]  # one-to-one
    companies = document["paths"]["/api/companies"]["get"]
    assert {"deals", "contacts", "subsidiaries"} <= names(companies)
    patterns = shared["Company.filters"]["schema"]["patternProperties"]
    wanted = ("deals__stage", "deals__amount__gte", "deals__isnull", "deals__in")
    assert all(any(re.fullmatch(p, key) for p in patterns) for key in wanted)
    assert not any(re.fullmatch(p, "deals__nosuch") for p in patterns)


@pytest.mark.parametrize("name", ["minimal", "crm", "hostile", "exact"])
def test_openapi_document_is_valid_openapi_3_1(name: str) -> None:
    """Checked by openapi-spec-validator against the OpenAPI 3.1 schema (refs resolved)."""
    from openapi_spec_validator import validate

    validate(json.loads(document_text(load(SPECS[name]))))


API_FILES = (
    "app.py",
    "resources.py",
    "settings.py",
)


@pytest.mark.parametrize("name", ["minimal", "crm", "hostile"])
def test_generated_api_modules_are_black_clean(
    name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import black

    from tests.backend.conftest import generated

    gen = generated(name, tmp_path_factory)
    mode = black.Mode(line_length=88, target_versions={black.TargetVersion.PY311})
    for file in API_FILES:
        source = (gen.out / gen.package / file).read_text(encoding="utf-8")
        assert black.format_str(source, mode=mode) == source, file


@pytest.mark.parametrize(
    ("entity", "condition", "code"),
    [
        ("Deal", Condition("stage", "ne", Value("lost")), 'where.ne(models.Deal.stage, "lost")'),
        (
            "Task",
            Condition("status", "in", Value(["new", "done"])),
            'where.in_(models.Task.status, ["new", "done"])',
        ),
        (
            "OrderLine",
            Condition("sales_order.owner", "isnull", Value(True)),
            "models.OrderLine.sales_order.has(where.isnull(models.Order.owner_id, True))",
        ),
    ],
)
def test_conditions_compile_to_calls_of_the_runtime(spec, entity, condition, code) -> None:  # type: ignore[no-untyped-def]
    """The compiler processes, dashboards and reports share (``where.Conditions``)."""
    assert Conditions(spec, "test").condition(entity, condition) == code


def test_an_unknown_field_of_a_condition_names_its_owner(spec) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(GenerateError, match="report r: Deal has no field 'nope'"):
        Conditions(spec, "report r").condition("Deal", Condition("nope", "eq", Value(1)))
