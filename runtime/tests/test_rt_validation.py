"""``crmgen_runtime.validation``: payloads coerced per field type, and a code for every error.

Each refusal is checked by its code (``explain`` of the message), so the English text and the
codes the web UI translates stay one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from crmgen_runtime import validation
from crmgen_runtime.errors import ApiError
from crmgen_runtime.resources import FieldInfo

UTC = dt.UTC


def field(type_: str, **options: Any) -> FieldInfo:
    relation = {"ref": "many_to_one", "refs": "many_to_many"}.get(type_, "")
    return FieldInfo("f", type_, column="f", relation=relation, options=options)


def code_of(info: FieldInfo, value: Any) -> tuple[str, dict[str, str]]:
    with pytest.raises(validation.Invalid) as caught:
        validation.coerce(info, value)
    explained = validation.explain(str(caught.value))
    assert explained is not None, str(caught.value)
    return explained


ACCEPTED = [
    (field("string"), "Ann", "Ann"),
    (field("string", min_length=2, max_length=3), "abc", "abc"),
    (field("string", pattern="[A-Z]+"), "AB", "AB"),
    (field("text"), "two\nlines", "two\nlines"),
    (field("file"), "https://files.example/a.pdf", "https://files.example/a.pdf"),
    (field("image"), "AAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAA"),  # an upload's id
    (field("email"), "ann@example.com", "ann@example.com"),
    (field("phone"), "+1 (555) 010-2030", "+1 (555) 010-2030"),
    (field("url"), "https://example.com/a?b", "https://example.com/a?b"),
    (field("enum", values=["new", "won"]), "won", "won"),
    (field("integer"), 7, 7),
    (field("integer"), 7.0, 7),
    (field("integer"), " -12 ", -12),
    (field("integer", min=1, max=10), 10, 10),
    (field("bigint"), 3_000_000_000, 3_000_000_000),
    (field("bigint"), -(2**63), -(2**63)),
    (field("bigint"), "9007199254740993", 2**53 + 1),  # as text: what JavaScript keeps
    (field("bigint"), 3e9, 3_000_000_000),
    (field("float"), 1e308, 1e308),
    (field("float"), 0.1, 0.1),
    (field("float"), 3, 3.0),
    (field("float"), " -2.5e-3 ", -0.0025),
    (field("float", min=0, max=1), 1, 1.0),
    (field("time"), "09:30", dt.time(9, 30)),
    (field("time"), "23:59:59", dt.time(23, 59, 59)),
    (field("decimal"), "12.5", Decimal("12.50")),
    (field("decimal"), 3, Decimal("3.00")),
    (field("decimal"), 0.1, Decimal("0.10")),
    (field("decimal"), "0", Decimal("0.00")),
    (field("money", precision=4, scale=0), 9999, Decimal(9999)),
    (field("decimal", precision=6, scale=3), "-123.456", Decimal("-123.456")),
    (field("decimal", min=0, max=5), "5", Decimal("5.00")),
    (field("boolean"), False, False),
    (field("date"), "2024-02-29", dt.date(2024, 2, 29)),
    (field("datetime"), "2024-12-31T09:30:00Z", dt.datetime(2024, 12, 31, 9, 30, tzinfo=UTC)),
    (field("datetime"), "2024-12-31 09:30", dt.datetime(2024, 12, 31, 9, 30, tzinfo=UTC)),
    (
        field("datetime"),
        "2024-12-31T11:30:00+02:00",
        dt.datetime(2024, 12, 31, 9, 30, tzinfo=UTC),
    ),
    (
        field("json"),
        {"a": [1, "b", None, {"c": 2**63 - 1}]},
        {"a": [1, "b", None, {"c": 2**63 - 1}]},
    ),
    (field("json"), 1.5, 1.5),
    (field("ref"), 5, 5),
    (field("ref"), {"id": 5, "display": "Acme"}, 5),
    (field("refs"), [3, {"id": 1}, 3], [3, 1]),
    (field("refs"), [], []),
]


@pytest.mark.parametrize(("info", "value", "expected"), ACCEPTED)
def test_values_are_coerced_to_what_the_column_stores(
    info: FieldInfo, value: Any, expected: Any
) -> None:
    coerced = validation.coerce(info, value)
    assert coerced == expected and type(coerced) is type(expected)


def deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


REFUSED = [
    (field("string"), 5, "not_text", {}),
    (field("string"), "a\x00b", "nul", {}),
    (field("string", min_length=2), "a", "too_short", {"min": "2"}),
    (field("string", max_length=3), "abcd", "too_long", {"max": "3"}),
    (field("string", pattern="[A-Z]+"), "Ab", "no_match", {"pattern": "[A-Z]+"}),
    (field("string"), "two\nlines", "single_line", {}),
    (field("string"), "cr\r", "single_line", {}),
    (field("email"), "ann@example", "not_email", {}),
    (field("email", max_length=5), "ann@example.com", "too_long", {"max": "5"}),
    (field("phone"), "call me", "not_phone", {}),
    (field("url"), "ftp://example.com", "not_url", {}),
    (field("enum", values=["new", "won"]), "lost", "not_in_choices", {"choices": "new, won"}),
    (field("enum", values=["new"]), 1, "not_in_choices", {"choices": "new"}),
    (field("integer"), True, "not_integer", {}),
    (field("integer"), 1.5, "not_integer", {}),
    (field("integer"), "1.0", "not_integer", {}),
    (field("integer"), "1" * 21, "not_integer", {}),
    (field("integer"), [1], "not_integer", {}),
    (field("integer", min=1), 0, "too_small", {"min": "1"}),
    (field("integer", max=10), 11, "too_large", {"max": "10"}),
    (field("bigint"), 2**63, "not_int64", {}),
    (field("bigint"), -(2**63) - 1, "not_int64", {}),
    (field("bigint"), 1e19, "not_int64", {}),  # what the JSON reader makes of 2**64
    (field("bigint"), 1.5, "not_integer", {}),
    (field("bigint", min=0), -1, "too_small", {"min": "0"}),
    (field("float"), True, "not_number", {}),
    (field("float"), float("nan"), "not_finite", {}),
    (field("float"), float("-inf"), "not_finite", {}),
    (field("float"), 10**400, "not_finite", {}),
    (field("float"), "1e400", "not_finite", {}),
    (field("float"), "NaN", "not_number", {}),
    (field("float"), "inf", "not_number", {}),
    (field("float"), "1" * 65, "not_number", {}),
    (field("float", max=1), 1.5, "too_large", {"max": "1"}),
    (field("time"), "24:00", "not_time", {}),
    (field("time"), "9:30", "not_time", {}),
    (field("time"), "09:30:00.5", "not_time", {}),
    (field("time"), 930, "not_time", {}),
    (field("decimal"), True, "not_number", {}),
    (field("decimal"), [1], "not_number", {}),
    (field("decimal"), float("inf"), "not_finite", {}),
    (field("decimal"), "NaN", "not_finite", {}),
    (field("decimal"), "Infinity", "not_finite", {}),
    (field("decimal"), "1" * 65, "not_decimal", {}),
    (field("decimal"), "abc", "not_decimal", {}),
    (field("decimal"), "1e10", "too_big", {"limit": "10000000000"}),
    (field("money", precision=4, scale=2), "100", "too_big", {"limit": "100"}),
    (field("money", precision=4, scale=2), "99.995", "too_precise", {"scale": "2"}),
    (field("money", precision=4, scale=2), "-99.999", "too_precise", {"scale": "2"}),
    (field("decimal", scale=1), "0.05", "too_precise", {"scale": "1"}),
    (field("decimal", min=0), "-0.01", "too_small", {"min": "0"}),
    (field("decimal", max=5), "5.01", "too_large", {"max": "5"}),
    (field("boolean"), "true", "not_boolean", {}),
    (field("boolean"), 1, "not_boolean", {}),
    (field("date"), "2024-02-30", "not_date", {}),
    (field("date"), "31.12.2024", "not_date", {}),
    (field("date"), 20241231, "not_date", {}),
    (field("datetime"), "2024-12-31", "not_datetime", {}),
    (field("datetime"), "2024-12-31T25:00", "not_datetime", {}),
    (field("datetime"), 0, "not_datetime", {}),
    (field("datetime"), "0001-01-01T00:00+01:00", "not_datetime", {}),
    (field("json"), deep(40), "too_deep", {"depth": "32"}),
    (field("json"), {"a\x00": 1}, "nul", {}),
    (field("json"), [2**63], "not_int64", {}),
    (field("ref"), 0, "not_id", {}),
    (field("ref"), 2**31, "not_id", {}),
    (field("ref"), True, "not_id", {}),
    (field("ref"), "5", "not_id", {}),
    (field("ref"), {"display": "x"}, "not_id", {}),
    (field("refs"), 5, "not_id_list", {}),
    (field("refs"), [1, 0], "not_ids", {}),
    (field("refs"), [1] * 10_001, "too_many", {"max": "10000"}),
    (field("formula"), 1, "not_writable", {"type": "formula"}),
    (FieldInfo("f", "string", not_null=True), None, "required", {}),
]


@pytest.mark.parametrize(("info", "value", "code", "params"), REFUSED)
def test_each_refusal_has_its_code(
    info: FieldInfo, value: Any, code: str, params: dict[str, str]
) -> None:
    assert code_of(info, value) == (code, params)


def test_none_is_null_or_an_empty_list() -> None:
    assert validation.coerce(field("string"), None) is None
    assert validation.coerce(field("refs"), None) == []


def test_record_id() -> None:
    assert validation.record_id(7) == 7
    assert validation.record_id({"id": validation.MAX_ID}) == validation.MAX_ID
    with pytest.raises(validation.Invalid, match="Must be the id of a record"):
        validation.record_id(-1)


SAMPLES: dict[str, dict[str, Any]] = {
    "not_writable": {"type": "formula"},
    "too_short": {"min": 3},
    "too_long": {"max": 30},
    "no_match": {"pattern": "[a-z]+ {x}"},
    "not_in_choices": {"choices": "a, b"},
    "not_phone_number": {"region": "RU"},
    "not_a_choice": {"value": "'c'", "choices": "a, b"},
    "too_small": {"min": -1},
    "too_large": {"max": 9},
    "too_big": {"limit": 1000},
    "too_precise": {"scale": 2},
    "too_deep": {"depth": 32},
    "too_many": {"max": 10},
    "no_such_record": {"target": "Company", "ids": "2, 3"},
    "next_states": {"states": "qualified, lost"},
    "state_required": {"state": "won"},
    "state_conditions": {"state": "won"},
}


@pytest.mark.parametrize("code", sorted(validation.MESSAGES))
def test_message_and_explain_round_trip(code: str) -> None:
    params = SAMPLES.get(code, {})
    text = validation.message(code, **params)
    assert validation.explain(text) == (code, {k: str(v) for k, v in params.items()})


def test_explain_other_words_is_none() -> None:
    assert validation.explain("Something else went wrong.") is None
    assert validation.explain("") is None


def test_validate_returns_the_coerced_values(crm: Any) -> None:
    values = validation.validate(
        crm.deals, {"title": "Big", "amount": "10.5", "partners": [{"id": 2}]}, partial=False
    )
    assert values == {"title": "Big", "amount": Decimal("10.50"), "partners": [2]}
    assert validation.validate(crm.deals, {"stage": "won"}, partial=True) == {"stage": "won"}
    assert validation.validate(crm.deals, {}, partial=True) == {}


def problems(crm: Any, payload: Any, *, partial: bool) -> dict[str, str]:
    with pytest.raises(ApiError) as caught:
        validation.validate(crm.deals, payload, partial=partial)
    assert (caught.value.status, caught.value.code) == (422, "validation_error")
    return caught.value.fields


def test_validate_names_every_bad_field(crm: Any) -> None:
    payload = {
        "title": "",
        "amount": "x",
        "label": "mine",
        "id": 3,
        "created_at": "2024-01-01",
        "nothing": 1,
        "stage": "lost",
    }
    found = problems(crm, payload, partial=True)
    assert list(found) == sorted(found)
    codes = {name: validation.explain(text) for name, text in found.items()}
    assert {name: explained[0] for name, explained in codes.items() if explained} == {
        "amount": "not_decimal",
        "label": "read_only",
        "id": "server_set",
        "created_at": "server_set",
        "nothing": "unknown_field",
        "stage": "not_in_choices",
    }


def test_a_complete_payload_needs_its_required_fields(crm: Any) -> None:
    assert problems(crm, {"amount": 1}, partial=False) == {"title": "This field is required."}
    assert problems(crm, {"title": None}, partial=False) == {"title": "This field is required."}
    assert problems(crm, {"title": 5}, partial=False) == {"title": "Must be text."}
    assert problems(crm, {"title": None}, partial=True) == {"title": "This field is required."}


def test_a_payload_must_be_an_object(crm: Any) -> None:
    with pytest.raises(ApiError) as caught:
        validation.validate(crm.deals, [1, 2], partial=True)
    assert caught.value.message == "The request body must be a JSON object."
    assert caught.value.fields == {}


def test_unknown_field_names_are_given_as_text(crm: Any) -> None:
    assert problems(crm, {1: "x", "title": "t"}, partial=True) == {"1": "Unknown field."}


QUERY = [
    ("ref", None, "7", 7),
    ("refs", None, "0", 0),
    ("integer", None, "42", 42),  # a system column (id)
    ("boolean", None, "Yes", True),
    ("boolean", None, "0", False),
    ("integer", field("integer", min=1, max=5), "100", 100),  # no range in a filter
    ("decimal", field("decimal", scale=2), "0.001", Decimal("0.001")),
    ("money", field("money"), "12", Decimal(12)),
    ("decimal", None, "1.5", Decimal("1.50")),
    ("date", None, "2024-01-02", dt.date(2024, 1, 2)),
    ("bigint", field("bigint", min=0), str(-(2**63)), -(2**63)),  # no range in a filter
    ("float", field("float", max=1), "1e300", 1e300),
    ("time", None, "09:30", dt.time(9, 30)),
    ("datetime", None, "2024-01-02T03:04:05Z", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("enum", field("enum", values=["a", "b"]), "b", "b"),
    ("enum", None, "anything", "anything"),
    ("string", field("string"), "x" * 1000, "x" * 1000),
]


@pytest.mark.parametrize(("type_", "info", "raw", "expected"), QUERY)
def test_query_values(type_: str, info: FieldInfo | None, raw: str, expected: Any) -> None:
    assert validation.parse_query_value(type_, info, raw) == expected


QUERY_REFUSED = [
    ("string", None, "a\x00", "nul", {}),
    ("ref", None, "x", "not_record_id", {}),
    ("ref", None, "-1", "not_record_id", {}),
    ("integer", None, str(2**31), "not_record_id", {}),
    ("boolean", None, "maybe", "not_boolean", {}),
    ("integer", field("integer"), str(2**31), "too_large", {"max": str(2**31 - 1)}),
    ("integer", field("integer"), "x", "not_integer", {}),
    ("decimal", field("decimal", scale=2), "0.0000000000001", "too_precise", {"scale": "12"}),
    ("date", None, "tomorrow", "not_date", {}),
    ("bigint", field("bigint"), str(2**63), "too_large", {"max": str(2**63 - 1)}),
    ("float", field("float"), "nan", "not_number", {}),
    ("time", None, "noon", "not_time", {}),
    ("datetime", None, "now", "not_datetime", {}),
    ("json", None, "{}", "json_filter", {}),
    (
        "enum",
        field("enum", values=["a", "b"]),
        "c",
        "not_a_choice",
        {"value": "'c'", "choices": "a, b"},
    ),
    (
        "enum",
        field("enum", values=["a"]),
        "c" * 101,
        "not_a_choice",
        {"value": repr("c" * 100 + "…"), "choices": "a"},
    ),
    ("string", None, "x" * 1001, "too_long", {"max": "1000"}),
]


@pytest.mark.parametrize(("type_", "info", "raw", "code", "params"), QUERY_REFUSED)
def test_query_values_refused(
    type_: str, info: FieldInfo | None, raw: str, code: str, params: dict[str, str]
) -> None:
    with pytest.raises(validation.Invalid) as caught:
        validation.parse_query_value(type_, info, raw)
    assert validation.explain(str(caught.value)) == (code, params)
