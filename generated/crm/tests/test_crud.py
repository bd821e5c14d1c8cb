"""Create, read, update, list and delete every entity of the spec through its REST API.

Each test runs once per entity whose API enables the actions it needs, with a valid record
built from the spec's fields (``spec_data``), as a superuser.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import Api
from tests.spec_data import ENTITIES, PROCESS_WRITTEN


def paths(*actions: str) -> list[str]:
    """The entities whose API enables every one of ``actions``."""
    return [p for p, e in ENTITIES.items() if set(actions) <= set(e.actions)]


def same(returned: Any, sent: Any) -> bool:
    """True when the API returned the value that was sent (links come back as objects)."""
    if isinstance(returned, dict) and "id" in returned and isinstance(sent, int):
        return returned["id"] == sent
    if isinstance(sent, bool) or sent is None:
        return returned is sent
    if isinstance(sent, (int, float)):
        return Decimal(str(returned)) == Decimal(str(sent))
    if isinstance(sent, str) and isinstance(returned, str) and "T" in sent:
        try:
            return dt.datetime.fromisoformat(returned) == dt.datetime.fromisoformat(
                sent
            )
        except ValueError:
            pass
    return returned == sent


def assert_has(record: dict[str, Any], payload: dict[str, Any], path: str) -> None:
    """``record`` holds what was sent (except fields the spec's processes may change)."""
    for name, value in payload.items():
        if name in PROCESS_WRITTEN.get(path, ()):
            continue
        if isinstance(value, list):  # a many-to-many list of ids
            assert sorted(record[name]) == sorted(value), name
        else:
            assert same(record[name], value), (name, record[name], value)


@pytest.mark.parametrize("path", paths("create", "read"))
def test_create_then_read(api: Api, path: str) -> None:
    payload = api.payload(path, 0)
    created = api.post_new(api.admin, path, json=payload)
    assert created.status_code == 201, created.text
    record = created.json()
    assert created.headers["Location"].endswith(f"/api/{path}/{record['id']}")
    assert isinstance(record["version"], int)
    assert_has(record, payload, path)

    read = api.get(api.admin, f"/api/{path}/{record['id']}")
    assert read.status_code == 200, read.text
    assert read.json() == record


@pytest.mark.parametrize("path", paths("create", "update"))
def test_update_with_version_then_stale_is_a_conflict(api: Api, path: str) -> None:
    record = api.create(path, 0)
    url = f"/api/{path}/{record['id']}"
    change = dict([ENTITIES[path].patch]) if ENTITIES[path].patch else {}
    response = api.patch(api.admin, url, json={**change, "version": record["version"]})
    assert response.status_code == 200, response.text
    updated = response.json()
    if path in PROCESS_WRITTEN:  # a process may write the record again
        assert updated["version"] >= record["version"] + 1
    else:
        assert updated["version"] == record["version"] + 1
    assert_has(updated, change, path)

    stale = api.patch(api.admin, url, json={"version": record["version"]})
    assert stale.status_code == 409, stale.text
    assert stale.json()["error"]["code"]


@pytest.mark.parametrize("path", paths("create", "list"))
def test_list_filter_sort_and_page(api: Api, path: str) -> None:
    entity = ENTITIES[path]
    made = [api.create(path, i)["id"] for i in range(len(entity.records))]

    listed = api.get(api.admin, f"/api/{path}", params={"limit": 500})
    assert listed.status_code == 200, listed.text
    page = listed.json()
    ids = [item["id"] for item in page["items"]]
    assert set(made) <= set(ids)
    assert page["total"] == len(ids)

    one = api.get(api.admin, f"/api/{path}", params={"id": made[0]}).json()
    assert [item["id"] for item in one["items"]] == [made[0]]

    if entity.filter is not None:
        name, text = entity.filter
        found = api.get(api.admin, f"/api/{path}", params={name: text})
        assert found.status_code == 200, found.text
        found_ids = {item["id"] for item in found.json()["items"]}
        assert made[0] in found_ids and not found_ids & set(made[1:])

    ascending = api.get(api.admin, f"/api/{path}", params={"sort": "id", "limit": 500})
    descending = api.get(
        api.admin, f"/api/{path}", params={"sort": "-id", "limit": 500}
    )
    up = [item["id"] for item in ascending.json()["items"]]
    assert up == sorted(up)
    assert [item["id"] for item in descending.json()["items"]] == up[::-1]

    first = api.get(api.admin, f"/api/{path}", params={"sort": "id", "limit": 1}).json()
    assert [item["id"] for item in first["items"]] == up[:1]
    if len(up) > 1:
        cursor = first["next_cursor"]
        assert cursor
        params = {"sort": "id", "limit": 1, "cursor": cursor}
        second = api.get(api.admin, f"/api/{path}", params=params).json()
        assert [item["id"] for item in second["items"]] == up[1:2]


@pytest.mark.parametrize("path", paths("create", "delete"))
def test_delete_then_gone(api: Api, path: str) -> None:
    record = api.create(path, 0)
    url = f"/api/{path}/{record['id']}"
    deleted = api.delete(api.admin, url)
    assert deleted.status_code == 204, deleted.text
    if "read" in ENTITIES[path].actions:
        assert api.get(api.admin, url).status_code == 404
    assert api.delete(api.admin, url).status_code == 404


@pytest.mark.parametrize("path", list(ENTITIES))
def test_anonymous_requests_are_refused(api: Api, path: str) -> None:
    entity = ENTITIES[path]
    if "list" in entity.actions:
        assert api.get(None, f"/api/{path}").status_code == 401
    if "create" in entity.actions:
        assert api.post(None, f"/api/{path}", json={}).status_code == 401
