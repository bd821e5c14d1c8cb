"""``crmgen_runtime.principal.CurrentUser``: roles, and superusers who have them all."""

from __future__ import annotations

import dataclasses

import pytest
from crmgen_runtime.principal import CurrentUser


def user(*roles: str, superuser: bool = False) -> CurrentUser:
    return CurrentUser(1, "ann@example.com", "Ann", frozenset(roles), superuser=superuser)


def test_has_role_is_any_of_the_names() -> None:
    sales = user("sales", "support")
    assert sales.has_role("sales")
    assert sales.has_role("admin", "support")
    assert not sales.has_role("admin")
    assert not sales.has_role()
    assert not user().has_role("sales")


def test_a_superuser_has_every_role() -> None:
    assert user(superuser=True).has_role("admin")
    assert user(superuser=True).has_role()


def test_extra_fields_are_kept_but_not_compared_and_the_user_is_frozen() -> None:
    one = CurrentUser(1, "a@x.io", None, frozenset(), extra={"position_id": 3})
    assert one.extra == {"position_id": 3}
    assert one == CurrentUser(1, "a@x.io", None, frozenset(), extra={"position_id": 4})
    assert user().extra == {} and user().superuser is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.id = 2  # type: ignore[misc]
