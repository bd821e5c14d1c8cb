"""``crmgen_runtime.permissions``: 401/403, record rules as SQL, hidden and read-only fields.

The record rules run against real tables (the ``crm_db`` fixture: SQLite, then PostgreSQL).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import sqlalchemy as sa
from crmgen_runtime import permissions
from crmgen_runtime.errors import ApiError
from crmgen_runtime.resources import Access, Rule


def ids(crm: Any, resource: Any, user: Any, action: str = "read") -> list[int]:
    """The ids of ``resource``'s records that ``user`` may ``action``, by a scoped SELECT."""
    model = resource.model
    stmt = permissions.scope(sa.select(model.id).order_by(model.id), resource, user, action)
    with crm.engine.connect() as db:
        return list(db.scalars(stmt))


def test_require_refuses_anonymous_users_with_401(crm: Any) -> None:
    with pytest.raises(ApiError) as caught:
        permissions.require(crm.deals, None, "read")
    assert (caught.value.status, caught.value.code) == (401, "not_authenticated")


def test_require_refuses_a_role_without_the_action_with_403(crm: Any) -> None:
    with pytest.raises(ApiError) as caught:
        permissions.require(crm.deals, crm.clerk, "read")  # no rule for the role
    assert (caught.value.status, caught.value.code) == (403, "forbidden")
    assert caught.value.message == "You may not read Deal records."
    with pytest.raises(ApiError, match="You may not delete Deal records."):
        permissions.require(crm.deals, crm.ann, "delete")  # Access("none")
    with pytest.raises(ApiError, match="You may not update Deal records."):
        permissions.require(crm.deals, crm.vic, "update")  # not in the rule


def test_require_gives_each_roles_access(crm: Any) -> None:
    assert permissions.require(crm.deals, crm.ann, "read") == [Access("own")]
    both = crm.person(1, "sales", "viewer", "clerk")
    modes = [a.mode for a in permissions.require(crm.deals, both, "read")]
    assert modes == ["own", "where"]  # by role name; clerk adds nothing
    assert permissions.require(crm.deals, crm.admin, "delete") == [Access("all")]
    flagged = crm.person(9, superuser=True)
    assert permissions.require(crm.deals, flagged, "anything") == [Access("all")]


def test_condition_all_is_none(crm: Any) -> None:
    assert permissions.condition(crm.deals, crm.admin, "read") is None
    assert permissions.condition(crm.deals, crm.ann, "create") is None  # Access("all")
    mixed = crm.person(1, "sales", "viewer")
    assert permissions.condition(crm.deals, mixed, "create") is None


def test_condition_own_where_and_their_union(crm_db: Any) -> None:
    crm = crm_db
    assert ids(crm, crm.deals, crm.ann) == [1]
    assert ids(crm, crm.deals, crm.bob) == [2, 3]
    assert ids(crm, crm.deals, crm.vic) == [1, 3]  # amount > 100
    assert ids(crm, crm.deals, crm.person(2, "sales", "viewer")) == [1, 2, 3]
    assert ids(crm, crm.companies, crm.vic) == [1, 3, 4]  # named A..., deleted or not
    assert ids(crm, crm.companies, crm.ann) == [1, 4]
    assert ids(crm, crm.deals, crm.admin) == [1, 2, 3]


def test_own_on_the_user_entity_is_the_users_own_record(crm_db: Any) -> None:
    crm = crm_db
    assert crm.users.owner is None
    assert ids(crm, crm.users, crm.ann) == [1]
    assert ids(crm, crm.users, crm.bob, "update") == [2]


def test_a_where_access_without_a_condition_allows_nothing(crm_db: Any) -> None:
    crm = crm_db
    rules = {"odd": Rule({"read": Access("where")})}
    odd = crm.catalog.adopt(dataclasses.replace(crm.deals, name="Odd", rules=rules))
    rule = permissions.condition(odd, crm.person(1, "odd"), "read")
    assert rule is not None
    assert ids(crm, odd, crm.person(1, "odd")) == []


def test_scope_refuses_anonymous_users(crm: Any) -> None:
    with pytest.raises(ApiError) as caught:
        permissions.scope(sa.select(crm.Deal.id), crm.deals, None, "read")
    assert caught.value.status == 401


def test_scope_leaves_an_unlimited_statement_alone(crm: Any) -> None:
    stmt = sa.select(crm.Deal.id)
    assert permissions.scope(stmt, crm.deals, crm.admin, "read") is stmt


def test_scope_limits_update_and_delete(crm_db: Any) -> None:
    crm = crm_db
    Deal = crm.Deal
    with crm.engine.begin() as db:
        update = permissions.scope(
            sa.update(Deal).values(stage="won"), crm.deals, crm.bob, "update"
        )
        assert db.execute(update).rowcount == 2
        won = db.scalars(sa.select(Deal.id).where(Deal.stage == "won").order_by(Deal.id))
        assert list(won) == [2, 3]
        delete = permissions.scope(sa.delete(Deal), crm.deals, crm.ann, "update")
        db.execute(crm.deal_partners.delete())
        assert db.execute(delete).rowcount == 1
        assert list(db.scalars(sa.select(Deal.id).order_by(Deal.id))) == [2, 3]
    with pytest.raises(ApiError) as caught:
        permissions.scope(sa.delete(Deal), crm.deals, crm.ann, "delete")
    assert caught.value.status == 403


def test_readable_leaves_out_hidden_fields(crm: Any) -> None:
    everything = {"title", "amount", "stage", "label", "owner", "company", "partners"}
    system = {"id", "version", "created_at", "updated_at"}
    deals = crm.deals
    assert permissions.readable(deals, None) == everything | system
    assert permissions.readable(deals, crm.admin) == everything | system
    assert permissions.readable(deals, crm.ann) == (everything - {"amount"}) | system
    assert permissions.readable(deals, crm.vic) == (everything - {"title"}) | system
    assert permissions.readable(deals, crm.person(1, "sales", "viewer")) == everything | system
    assert permissions.readable(deals, crm.clerk) == system
    assert permissions.readable(crm.companies, crm.ann) == {"name", "owner", "id", "version"}


def test_writable_leaves_out_read_only_and_hidden_fields(crm: Any) -> None:
    deals = crm.deals
    everything = frozenset(deals.fields)
    assert permissions.writable(deals, crm.admin, "update") == everything
    assert permissions.writable(deals, crm.ann, "update") == everything - {"amount", "stage"}
    assert permissions.writable(deals, crm.ann, "create") == everything - {"amount", "stage"}
    assert permissions.writable(deals, crm.vic, "update") == frozenset()  # may not update
    assert permissions.writable(deals, crm.ann, "delete") == frozenset()  # Access("none")
    assert permissions.writable(deals, crm.clerk, "update") == frozenset()
    mixed = crm.person(1, "sales", "viewer")
    assert permissions.writable(deals, mixed, "update") == everything - {"amount", "stage"}


def test_check_writable_names_every_refused_field(crm: Any) -> None:
    deals = crm.deals
    permissions.check_writable(deals, crm.ann, {"title": "x", "owner": 1})
    permissions.check_writable(deals, crm.ann, {"nothing": 1, "id": 3})  # not fields: validation
    permissions.check_writable(deals, crm.admin, {"stage": "won", "amount": 1})
    with pytest.raises(ApiError) as caught:
        permissions.check_writable(deals, crm.ann, {"title": "x", "stage": "won", "amount": 1})
    error = caught.value
    assert (error.status, error.code) == (403, "forbidden_fields")
    assert error.message == "Your role may not change some of these fields."
    assert list(error.fields) == ["amount", "stage"]
    assert set(error.fields.values()) == {"Your role may not change this field."}
    with pytest.raises(ApiError) as caught:
        permissions.check_writable(deals, crm.vic, {"title": "x"}, "create")
    assert list(caught.value.fields) == ["title"]
