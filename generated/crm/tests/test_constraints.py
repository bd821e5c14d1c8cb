"""Every constraint of the spec's fields is enforced: one refused value per constraint.

Each case takes a valid record and breaks one field (leaves out a required field, makes a
text too long, a number too small, an e-mail address malformed, a link point nowhere...);
the API must answer with the status of the case and name the field, and write nothing.
Unique fields (and unique indexes) refuse a second record with the same values with 409.

One test per entity runs all of its cases on the same valid record (its links made once);
every case runs even when an earlier one fails, and the failure message names each case.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.spec_data import ENTITIES, MISSING, USER_PATH, Invalid

CONSTRAINED = [
    path
    for path, entity in ENTITIES.items()
    if "create" in entity.actions and entity.invalid
]
UNIQUE = [
    path
    for path, entity in ENTITIES.items()
    if "create" in entity.actions and len(entity.records) > 1 and entity.unique
]


def forget_if_written(api: Api, path: str, response: Any) -> None:
    """Delete a record written by mistake, so that it does not disturb the next cases."""
    if response.status_code == 201:
        api.delete(api.admin, f"/api/{path}/{response.json()['id']}")


def refused(api: Api, path: str, valid: dict[str, Any], case: Invalid) -> None:
    """``valid`` broken as ``case`` says is refused, with nothing written."""
    payload = dict(valid)
    if case.value == MISSING:
        payload.pop(case.field, None)
    else:
        payload[case.field] = case.value
    response = api.post_new(api.admin, path, json=payload)
    forget_if_written(api, path, response)
    assert response.status_code == case.status, response.text
    error = response.json()["error"]
    assert case.field in (error.get("fields") or {}), error
    if "list" in ENTITIES[path].actions and path != USER_PATH:  # nothing was written
        made = [key for key in api.links if key[0] == path]
        total = api.get(api.admin, f"/api/{path}", params={"limit": 1}).json()["total"]
        assert total == len(made), "a record was written"


@pytest.mark.parametrize("path", CONSTRAINED)
def test_invalid_values_are_refused(api: Api, path: str) -> None:
    valid = api.payload(path, 0)
    failures = []
    for case in ENTITIES[path].invalid:
        try:
            refused(api, path, valid, case)
        except AssertionError as error:
            failures.append(f"{path} {case.id} (expected {case.status}): {error}")
    if failures:
        pytest.fail("\n".join(failures))


@pytest.mark.parametrize("path", UNIQUE)
def test_duplicates_are_conflicts(api: Api, path: str) -> None:
    first = api.payload(path, 0)
    created = api.post_new(api.admin, path, json=first)
    assert created.status_code == 201, created.text
    failures = []
    for group in ENTITIES[path].unique:
        second = api.payload(path, 1)
        second.update({name: first[name] for name in group})
        response = api.post_new(api.admin, path, json=second)
        forget_if_written(api, path, response)
        if response.status_code != 409 or not response.json()["error"]["code"]:
            failures.append(f"{path} unique {'+'.join(group)}: {response.text}")
    if failures:
        pytest.fail("\n".join(failures))
