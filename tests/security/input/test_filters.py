"""List filters refuse values that can never match their field, naming the value (real HTTP)."""

from __future__ import annotations

import pytest

from tests.security.crm import Crm


@pytest.mark.parametrize(
    "params",
    [
        {"stage": "x"},
        {"stage__in": "x"},
        {"stage__in": "won,x"},
        {"stage__ne": "nope"},
    ],
)
def test_an_enum_filter_value_outside_the_enum_is_a_400_naming_it(
    crm: Crm, params: dict[str, str]
) -> None:
    with crm.client(crm.token("admin")) as admin:
        response = admin.get("/api/deals", params=params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    (key,) = params
    bad = next(v for v in params[key].split(",") if v != "won")
    assert bad in error["fields"][key] and bad in error["message"]


def test_enum_filters_with_known_values_still_work(crm: Crm) -> None:
    with crm.client(crm.token("admin")) as admin:
        for params in ({"stage": "won"}, {"stage__in": "won,lost"}, {"stage__ne": "won"}):
            response = admin.get("/api/deals", params=params)
            assert response.status_code == 200, response.text
