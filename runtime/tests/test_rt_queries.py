"""The list query's parts: cursors of every column type, filters on true/false fields, search
without search fields, and values as JSON carries them."""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import orjson
import pytest
import rt_crm
from crmgen_runtime import queries, responses
from crmgen_runtime.errors import ApiError
from crmgen_runtime.queries import SortKey


def key(type_: str, nullable: bool = True) -> SortKey:
    return SortKey("x", None, False, nullable, type_)


@pytest.mark.parametrize(
    ("type_", "value", "decoded"),
    [
        ("integer", 5, 5),
        ("bigint", -(2**63), -(2**63)),
        ("float", 1e308, 1e308),
        ("float", 2, 2.0),
        ("time", "09:30:00", dt.time(9, 30)),
        ("boolean", True, True),
        ("money", "1.50", Decimal("1.50")),
        ("date", "2024-05-01", dt.date(2024, 5, 1)),
        ("datetime", "2024-05-01T10:00:00+03:00", dt.datetime(2024, 5, 1, 7, tzinfo=dt.UTC)),
        ("string", "Acme", "Acme"),
    ],
)
def test_a_cursor_carries_each_type(type_: str, value: Any, decoded: Any) -> None:
    cursor = queries.encode_cursor("x", [value])
    assert queries.decode_cursor(cursor, "x", [key(type_)]) == [decoded]


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        ("integer", True),
        ("integer", 2**64),
        ("float", "1.5"),
        ("float", False),
        ("time", "noon"),
        ("boolean", 1),
        ("money", "NaN"),
        ("money", "lots"),
        ("date", "soon"),
        ("string", 5),
        ("string", "a\x00"),
    ],
)
def test_a_forged_cursor_is_a_400(type_: str, value: Any) -> None:
    cursor = base64.urlsafe_b64encode(json.dumps(["x", [value]]).encode()).decode()
    with pytest.raises(ApiError) as raised:
        queries.decode_cursor(cursor, "x", [key(type_)])
    assert raised.value.status == 400 and raised.value.fields["cursor"].startswith("Invalid")


def test_a_cursor_of_another_shape_is_a_400() -> None:
    keys = [key("string")]
    for forged in (
        queries.encode_cursor("x", ["a", "b"]),  # two values for one key
        queries.encode_cursor("y", ["a"]),  # made for another order
        base64.urlsafe_b64encode(b'["x", "a"]').decode(),  # values not a list
        "%%%",
    ):
        with pytest.raises(ApiError):
            queries.decode_cursor(forged, "x", keys)
    with pytest.raises(ApiError):  # empty where the column never is
        queries.decode_cursor(queries.encode_cursor("x", [None]), "x", [key("string", False)])


def test_a_boolean_field_takes_no_order_comparison(crm: rt_crm.Crm) -> None:
    with pytest.raises(ApiError) as raised:
        queries.parse_list_query(crm.users, frozenset({"id", "active"}), [("active__gt", "true")])
    assert raised.value.fields == {"active__gt": "__gt does not apply to true/false fields."}
    # a search over no readable search field finds nothing (and an empty one everything)
    [nothing] = queries.search(crm.companies, frozenset(), "acme")
    assert str(nothing) == "false"
    assert queries.search(crm.companies, frozenset(), " ") == []


def test_json_values_as_json_carries_them() -> None:
    naive = dt.datetime(2024, 5, 1, 10, 0)
    assert responses.json_ready(naive) == "2024-05-01T10:00:00+00:00"
    assert responses.json_ready(dt.date(2024, 5, 1)) == "2024-05-01"
    assert responses.json_ready(Decimal("1E-12")) == "0.000000000001"
    assert responses.json_ready("x") == "x"
    assert responses.dumps({"n": Decimal("2.50")}) == b'{"n":"2.50"}'
    with pytest.raises(TypeError, match="not JSON serializable"):
        responses.dumps({1, 2})
    moscow = dt.datetime(2024, 5, 1, 13, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    assert responses.aware(moscow) == dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)
    assert orjson.loads(responses.JSONResponse({"a": 1}).body) == {"a": 1}
