"""English plurals name the API paths, tables and back names (``plurals.yaml``), on both databases.

``Points``, ``CustomerDetails`` and ``Quiz`` were ``/api/pointses``, ``/api/customer_detailses``
and ``/api/quizes`` before crmgen took its plurals from inflect (CHANGELOG 0.5.0).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backend.conftest import Backend, make_backend

PATHS = {
    "Quiz": "quizzes",
    "Points": "points",
    "CustomerDetails": "customer_details",
    "Status": "statuses",
    "Address": "addresses",
}


@pytest.fixture(scope="module")
def plurals(dialect: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    yield from make_backend("plurals", dialect, tmp_path_factory)


def test_tables_and_paths_take_english_plurals(plurals: Backend) -> None:
    tables = plurals.gen.models.Base.metadata.tables
    for entity, plural in PATHS.items():
        assert getattr(plurals.gen.models, entity).__tablename__ == plural
    assert "quizzes_points" in tables  # the many-to-many join table
    paths = plurals.client.get("/openapi.json").json()["paths"]
    for plural in PATHS.values():
        assert f"/api/{plural}" in paths and f"/api/{plural}/{{id}}" in paths
    assert not [p for p in paths if "pointses" in p or "detailses" in p or "quizes" in p]


def test_records_travel_through_plural_paths(plurals: Backend) -> None:
    plurals.reset()
    user = plurals.as_user("manager")

    def post(path: str, body: dict[str, object]) -> dict[str, object]:
        response = plurals.client.post(f"/api/{path}", json=body, headers=user)
        assert response.status_code == 201, response.text
        assert response.headers["location"].endswith(f"/api/{path}/{response.json()['id']}")
        return dict(response.json())

    status = post("statuses", {"name": "Open"})
    one, two = (
        post("points", {"name": "One", "value": 1}),
        post("points", {"name": "Two", "value": 2}),
    )
    quiz = post("quizzes", {"name": "Q", "status": status["id"], "points": [one["id"], two["id"]]})
    address = post("addresses", {"name": "HQ", "city": "Sarajevo"})
    details = post("customer_details", {"name": "D", "quiz": quiz["id"], "address": address["id"]})

    got = plurals.client.get(f"/api/quizzes/{quiz['id']}", headers=user).json()
    assert sorted(got["points"]) == sorted([one["id"], two["id"]])
    assert got["status"] == {"id": status["id"], "display": "Open"}
    listed = plurals.client.get(f"/api/customer_details?quiz={quiz['id']}", headers=user).json()
    assert [d["id"] for d in listed["items"]] == [details["id"]]
    assert (
        plurals.client.get("/api/points?sort=-value", headers=user).json()["items"][0]["name"]
        == "Two"
    )
    assert plurals.client.get("/api/pointses", headers=user).status_code == 404
    # back sides are named by plurals too: Quiz.customer_details, Points.quizzes
    back = plurals.client.get(f"/api/quizzes/{quiz['id']}/customer_details", headers=user)
    assert [d["id"] for d in back.json()["items"]] == [details["id"]]
    back = plurals.client.get(f"/api/points/{two['id']}/quizzes", headers=user)
    assert [q["id"] for q in back.json()["items"]] == [quiz["id"]]
    having = plurals.client.get("/api/quizzes?customer_details__name=D", headers=user).json()
    assert [q["id"] for q in having["items"]] == [quiz["id"]]
