"""The minimal and the hostile specs generate an API that works end to end too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backend.conftest import Backend, make_backend
from tests.backend.payloads import create


@pytest.fixture(scope="module")
def minimal(dialect: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    yield from make_backend("minimal", dialect, tmp_path_factory)


@pytest.fixture(scope="module")
def hostile(dialect: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    yield from make_backend("hostile", dialect, tmp_path_factory)


def test_minimal_crud_and_staff_access(minimal: Backend) -> None:
    minimal.reset()
    staff = minimal.as_user("staff")
    created = minimal.client.post(
        "/api/contacts", json={"name": "Ann", "email": "ann@example.com"}, headers=staff
    )
    assert created.status_code == 201
    contact = created.json()
    assert minimal.client.get("/api/contacts?q=ann", headers=staff).json()["total"] == 1
    patched = minimal.client.patch(
        f"/api/contacts/{contact['id']}", json={"version": 1, "notes": "hi"}, headers=staff
    )
    assert patched.json()["notes"] == "hi"
    assert minimal.client.get("/api/users", headers=staff).status_code == 403
    assert minimal.client.delete(f"/api/contacts/{contact['id']}", headers=staff).status_code == 204


def test_hostile_strings_round_trip(hostile: Backend) -> None:
    hostile.reset()
    note = create(hostile, "notes", user="sales", full=False)
    body = note["body"]
    assert "DROP TABLE" in body and "{{ x }}" in body  # the default, byte for byte
    title = '\'; DROP TABLE notes; -- "q" {{ x }} </script> שלום 🚀'
    created = create(hostile, "notes", user="sales", full=False, title=title, status="sql")
    found = hostile.client.get("/api/notes?q=DROP+TABLE", headers=hostile.as_user("sales")).json()
    assert [n["title"] for n in found["items"]] == [title]
    assert created["status"] == "sql"
