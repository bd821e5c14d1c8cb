"""The permission matrix of the spec: every role x entity x action, record rules included.

``none``: the role may not do the action at all (403). ``all``: it may, on any record.
``own``: only on records it owns; another user's record does not exist for it (404, so
existence does not leak). ``where``: only on records that meet the spec's condition; reading
and listing agree on which. Hidden fields never appear in what the role reads, and fields
read-only for a role are refused (403 naming the field) when it writes them. Creating and
deleting users also needs user management (``manage_users``): without it, 403.

One test per role and entity checks all of its actions: ``create`` on empty tables, then the
others on the same two records (one the role's own, one another user's), ``update`` and
``delete`` last. Every check runs even when an earlier one fails; the failure message names
each failed check (the action, or the hidden or read-only field) and the rule it broke.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Api
from tests.spec_data import (
    ACTIONS,
    ENTITIES,
    ROLES,
    SUPERUSER_ROLES,
    USER_MANAGER_ROLES,
    USER_PATH,
)

ROLES_WITH_RULES = [role for role in ROLES if role not in SUPERUSER_ROLES]
GROUPS = [
    pytest.param(role, path, id=f"{role}-{path}")
    for role in ROLES_WITH_RULES
    for path, entity in ENTITIES.items()
    if set(ACTIONS) & set(entity.actions)
]
SUCCESS = {"list": 200, "read": 200, "create": 201, "update": 200, "delete": 204}

Record = dict[str, Any]


def records_of(api: Api, path: str, role: str) -> tuple[Record, Record]:
    """Two records of ``path``: one owned by the user ``role``, one by ``<role>2``.

    For the User entity, which has no owner, "mine" is the user ``role`` itself and "theirs"
    a user made for the test.
    """
    if path == USER_PATH:
        mine = api.get(api.admin, f"/api/{path}/{api.user_ids[role]}")
        assert mine.status_code == 200, mine.text
        return mine.json(), api.create(path, 0)
    mine, theirs = api.create(path, 0), api.create(path, 1)
    if ENTITIES[path].owner_column is not None:
        api.set_owner(path, mine["id"], role)
        api.set_owner(path, theirs["id"], f"{role}2")
    return mine, theirs


def attempt(api: Api, user: str, path: str, action: str, record: Record) -> Any:
    """Do ``action`` (read, update or delete) on ``record`` as ``user``."""
    url = f"/api/{path}/{record['id']}"
    if action == "read":
        return api.get(user, url)
    if action == "update":  # a change of nothing but the version: allowed fields only
        return api.patch(user, url, json={"version": record["version"]})
    return api.delete(user, url)


def expected(mode: str, action: str, owned: bool) -> tuple[int, ...]:
    """The statuses ``action`` may answer under ``mode`` on a record (owned or not)."""
    if mode == "none":
        return (403,)
    if mode == "all" or (mode == "own" and owned):
        return (SUCCESS[action],)
    if mode == "own":
        return (404,)
    return (
        SUCCESS[action],
        404,
    )  # where: met (done) or not met (not there for the role)


def listed(api: Api, user: str, path: str) -> set[int]:
    response = api.get(user, f"/api/{path}", params={"limit": 500})
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def mode_of(role: str, path: str, action: str) -> str:
    """The role's rule for ``action``; creating and deleting users needs ``manage_users``."""
    mode = ENTITIES[path].rule(role).actions[action]
    if (
        path == USER_PATH
        and action in ("create", "delete")
        and role not in USER_MANAGER_ROLES
    ):
        return "none"
    return mode


def within_reach(api: Api, role: str, path: str, payload: Record) -> bool:
    """Make the records ``payload`` links to readable by the user ``role`` (a link must name a
    record its author may read): a target read ``own`` gets them as its owner, a user read
    ``own`` is themselves. False when a link stays out of reach (the create then answers 422,
    exactly as for a record that does not exist)."""
    reached = True
    for ref in ENTITIES[path].refs:
        target = ENTITIES[ref.target]
        mode = target.rule(role).actions["read"]
        if mode == "all" or ref.field not in payload:
            continue
        value = payload[ref.field]
        if mode == "own" and ref.user:
            payload[ref.field] = (
                [api.user_ids[role]] if ref.many else api.user_ids[role]
            )
        elif mode == "own" and target.owner_column is not None:
            for record_id in value if ref.many else [value]:
                api.set_owner(ref.target, record_id, role)
        else:
            reached = False
    return reached


def check_create(api: Api, role: str, path: str) -> None:
    entity = ENTITIES[path]
    rule = entity.rule(role)
    mode = mode_of(role, path, "create")
    payload = api.payload(path, len(entity.records) - 1)
    removed = {n: payload.pop(n) for n in rule.read_only + rule.hidden if n in payload}
    if mode == "none":
        response = api.post_new(role, path, json=payload)
        assert response.status_code == 403, response.text
        return
    answers = {201}
    if mode == "where":  # allowed when the new record meets the condition
        answers.add(403)
    if removed or not within_reach(api, role, path, payload):
        answers.add(
            422
        )  # fields it may not write left out (maybe required), or links out of reach
    response = api.post_new(role, path, json=payload)
    assert response.status_code in answers, response.text


def check_list(api: Api, role: str, path: str, mine: Record, theirs: Record) -> None:
    rule = ENTITIES[path].rule(role)
    mode = rule.actions["list"]
    response = api.get(role, f"/api/{path}")
    if mode == "none":
        assert response.status_code == 403, response.text
        return
    ids = listed(api, role, path)
    if mode == "all":
        assert {mine["id"], theirs["id"]} <= ids, "not every record is listed"
    elif mode == "own":
        assert mine["id"] in ids, "its own record is not listed"
        assert theirs["id"] not in ids, "another user's record is listed"
    elif rule.wheres.get("read") == rule.wheres.get("list"):
        readable = {
            r["id"]
            for r in (mine, theirs)
            if api.get(role, f"/api/{path}/{r['id']}").status_code == 200
        }
        shown = ids & {mine["id"], theirs["id"]}
        assert shown == readable, "listing and reading disagree"


def check_on_records(
    api: Api, role: str, path: str, action: str, mine: Record, theirs: Record
) -> None:
    """``read``, ``update`` or ``delete`` on the role's own record, then on another's."""
    mode = mode_of(role, path, action)
    if not (path == USER_PATH and action == "delete"):  # users do not delete themselves
        outcome = attempt(api, role, path, action, mine)
        allowed = expected(mode, action, owned=True)
        assert outcome.status_code in allowed, f"own record: {outcome.text}"
    outcome = attempt(api, role, path, action, theirs)
    allowed = expected(mode, action, owned=False)
    assert outcome.status_code in allowed, f"another user's record: {outcome.text}"


def check_hidden(api: Api, role: str, path: str, mine: Record) -> None:
    entity = ENTITIES[path]
    rule = entity.rule(role)
    shown: list[Record] = []
    if "list" in entity.actions and rule.actions["list"] != "none":
        response = api.get(role, f"/api/{path}")
        assert response.status_code == 200, response.text
        shown += response.json()["items"]
    if "read" in entity.actions and rule.actions["read"] != "none":
        response = api.get(role, f"/api/{path}/{mine['id']}")
        assert response.status_code in (200, 404), response.text
        if response.status_code == 200:
            shown.append(response.json())
    for record in shown:
        assert not set(rule.hidden) & set(record), record


def check_read_only(api: Api, role: str, path: str, mine: Record, name: str) -> None:
    value = mine.get(name)
    if isinstance(value, dict) and "id" in value:
        value = value["id"]
    response = api.patch(
        role,
        f"/api/{path}/{mine['id']}",
        json={name: value, "version": mine["version"]},
    )
    if response.status_code == 200:  # wrongly written: the next checks need its version
        mine["version"] = response.json()["version"]
    if (
        ENTITIES[path].rule(role).actions["update"] == "where"
        and response.status_code == 404
    ):
        return  # the record does not meet the role's condition: not there for it
    assert response.status_code == 403, response.text
    assert name in (response.json()["error"].get("fields") or {}), response.text


@pytest.mark.parametrize("role,path", GROUPS)
def test_permissions(api: Api, role: str, path: str) -> None:
    entity = ENTITIES[path]
    rule = entity.rule(role)
    failures: list[str] = []

    def check(name: str, mode: str, function: Callable[..., None], *args: Any) -> None:
        try:
            function(api, role, path, *args)
        except AssertionError as error:
            failures.append(f"{role} {name} /api/{path} (rule: {mode}): {error}")

    if "create" in entity.actions:
        check("create", rule.actions["create"], check_create)
        api.reset()  # the other actions start from empty tables again
    if set(entity.actions) - {"create"}:
        mine, theirs = records_of(api, path, role)
        if "list" in entity.actions:
            check("list", rule.actions["list"], check_list, mine, theirs)
        if "read" in entity.actions:
            check("read", rule.actions["read"], check_on_records, "read", mine, theirs)
        if rule.hidden:
            check("hidden fields", f"hidden {rule.hidden}", check_hidden, mine)
        if "update" in entity.actions and rule.actions["update"] != "none":
            for name in rule.read_only:
                check(f"update of {name}", "read-only", check_read_only, mine, name)
        for action in ("update", "delete"):
            if action in entity.actions:
                mode = rule.actions[action]
                check(action, mode, check_on_records, action, mine, theirs)
    if failures:
        pytest.fail("\n".join(failures))
