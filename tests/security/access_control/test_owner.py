"""Records that vanish after create (issue 10, item 12), over real HTTP on both databases.

With ``owner: assignee``, no default on the owner and a role that reads only its own records,
a record created without an owner answered 201 and then 404 to its creator. Every role whose
read rule is ``own`` creates a record of every entity it may create, in the reference CRM and
in the rule variants of ``owned/app.yaml``, leaving the owner out, and reads it back; the UI's
form lands on the new record's page. A record created without a user keeps its owner empty.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from crmgen_runtime import crud
from crmgen_runtime.db import Database

import crmgen
from crmgen.language.model import Entity, Field, Spec
from tests.backend.payloads import PATTERNS
from tests.security.access_control.owned_app import SPEC, People, imported, owned_out
from tests.security.crm import CRM_SPEC, Crm

_numbers = itertools.count(1)


def own_creators(spec: Spec) -> list[tuple[str, str]]:
    """``(entity, role)`` for each role that may create the entity and reads only its own."""
    found = []
    for entity in spec.entities:
        for permission in entity.permissions:
            actions = dict(permission.actions)
            if actions["read"].mode == "own" and actions["create"].mode != "none":
                found.append((entity.name, permission.role))
    return found


REFERENCE = crmgen.load(CRM_SPEC)
VARIANTS = crmgen.load(SPEC)


def sample(field: Field, n: int) -> Any:
    """A valid value of a required, non-relation field."""
    if field.pattern:
        return PATTERNS[field.pattern](n)
    if field.type == "enum":
        return field.values[0].name
    if field.type in ("integer", "decimal", "money"):
        value = max(int(field.min or 0), 1)
        return value if field.type == "integer" else str(value)
    if field.type == "date":
        return "2024-05-01"
    if field.type == "datetime":
        return "2024-05-01T10:00:00+00:00"
    if field.type == "boolean":
        return True
    if field.type == "email":
        return f"owner{n}@example.com"
    return f"owned {n}".ljust(field.min_length or 0, "x")


def create(crm: Crm, spec: Spec, entity: Entity, token: str) -> dict[str, Any]:
    """A record of ``entity`` with its required fields only (linked records made alike)."""
    body: dict[str, Any] = {}
    for field in entity.fields:
        if not field.required or field.default is not None or field.name == entity.owner:
            continue
        if field.relation is not None:
            target = spec.entity(field.relation.target)
            assert target is not None
            linked = create(crm, spec, target, token)["id"]
            body[field.name] = [linked] if field.relation.kind == "many_to_many" else linked
        else:
            body[field.name] = sample(field, next(_numbers))
    with crm.client(token) as client:
        response = client.post(f"/api/{entity.api_path}", json=body)
    assert response.status_code == 201, (entity.name, body, response.text)
    return dict(response.json())


def created_and_read(crm: Crm, people: People, spec: Spec, name: str, user: str) -> None:
    """``user`` creates a record of ``name`` without its owner, owns it and reads it back."""
    entity = spec.entity(name)
    assert entity is not None and entity.owner is not None
    token, user_id = people.token(crm, user), people.id(crm, user)
    record = create(crm, spec, entity, token)
    assert record[entity.owner] is not None, record
    assert record[entity.owner]["id"] == user_id
    with crm.client(token) as client:
        again = client.get(f"/api/{entity.api_path}/{record['id']}")
    assert again.status_code == 200, again.text
    assert again.json()[entity.owner]["id"] == user_id


# --- the reference CRM -----------------------------------------------------------------------


@pytest.mark.parametrize(("entity", "role"), own_creators(REFERENCE))
def test_reference_records_stay_with_their_creator(
    crm: Crm, people: People, entity: str, role: str
) -> None:
    created_and_read(crm, people, REFERENCE, entity, role)


# --- the rule variants -----------------------------------------------------------------------


@pytest.mark.parametrize(("entity", "role"), own_creators(VARIANTS))
def test_variant_records_stay_with_their_creator(
    owned: Crm, people: People, entity: str, role: str
) -> None:
    created_and_read(owned, people, VARIANTS, entity, role)  # each role has a user of its name


def test_the_form_lands_on_the_new_record(owned: Crm) -> None:
    """A seller's Save of a new account (no owner on the form) opens the account's page."""
    with owned.client(follow_redirects=False) as client:
        client.cookies.set("locale", "en")
        signed = client.post(
            "/api/auth/login", json={"email": "seller@demo.example", "password": "demo-password"}
        )
        assert signed.status_code == 200, signed.text
        form = client.get("/accounts/new")
        assert form.status_code == 200, form.text
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        saved = client.post("/accounts/new", data={"csrf_token": token, "name": "Form account"})
        assert saved.status_code == 303, saved.text
        page = client.get(saved.headers["location"])
    assert page.status_code == 200, page.text
    assert "Form account" in page.text


def test_a_record_created_without_a_user_keeps_its_owner_empty(
    owned: Crm, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Records a process makes with no user behind it (a schedule) are nobody's."""
    out = owned_out(tmp_path_factory)
    resources = imported(out, "resources")
    database = Database(owned.database_url)
    try:
        with database.session() as session:
            values = {"name": "Nobody's"}
            new_id = crud.insert_row(session, resources.RESOURCES["accounts"], values, None, None)
    finally:
        database.dispose()
    assert owned.sql("SELECT owner_id FROM accounts WHERE id = :id", id=new_id) == [(None,)]
