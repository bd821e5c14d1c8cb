"""Who may change a user's sign-in identity and power (e-mail, ``active``, roles).

Only a role with ``manage_users`` or a superuser; a superuser's account only a superuser;
nobody their own roles or ``active`` flag. ``roles`` is read on every user. The users changed
here are made for the test, so the test users' sessions live on.
"""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.spec_data import (
    ENTITIES,
    ROLES,
    SUPERUSER_ROLES,
    USER_MANAGER_ROLES,
    USER_PATH,
)

USERS = ENTITIES.get(USER_PATH)
UPDATERS = [
    role
    for role in ROLES
    if role not in SUPERUSER_ROLES
    and USERS is not None
    and {"read", "update"} <= set(USERS.actions)
    and USERS.rule(role).actions["update"] == "all"
]
needs_users = pytest.mark.skipif(USERS is None, reason="the User entity has no API")


@needs_users
def test_roles_are_read_on_every_user(api: Api) -> None:
    for role in ROLES:
        found = api.get(api.admin, f"/api/{USER_PATH}/{api.user_ids[role]}")
        assert found.status_code == 200, found.text
        assert found.json()["roles"] == [role]


@needs_users
@pytest.mark.parametrize("role", UPDATERS)
def test_identity_changes_need_user_management(api: Api, role: str) -> None:
    other = api.create(USER_PATH, 0)
    response = api.patch(
        role, f"/api/{USER_PATH}/{other['id']}", json={"active": not other["active"]}
    )
    expected = 200 if role in USER_MANAGER_ROLES else 403
    assert response.status_code == expected, response.text


@needs_users
@pytest.mark.parametrize("role", UPDATERS)
def test_a_superusers_account_is_for_superusers_only(api: Api, role: str) -> None:
    target = api.user_ids[api.admin]
    response = api.patch(role, f"/api/{USER_PATH}/{target}", json={"active": True})
    assert response.status_code == 403, response.text


@needs_users
@pytest.mark.parametrize("role", [*UPDATERS, *SUPERUSER_ROLES[:1]])
def test_nobody_changes_their_own_roles(api: Api, role: str) -> None:
    response = api.patch(
        role, f"/api/{USER_PATH}/{api.user_ids[role]}", json={"roles": []}
    )
    assert response.status_code == 403, response.text
