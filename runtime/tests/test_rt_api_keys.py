"""``crmgen_runtime.api_keys``: keys made, used, refused and revoked over HTTP on the small CRM,
on SQLite and PostgreSQL (the middleware's key path, ``KeyLookup``, the routes' checks)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import rt_crm
import sqlalchemy as sa
from conftest import WebClient
from crmgen_runtime import api_keys, auth, auth_routes, tables
from crmgen_runtime.principal import require_user
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

PASSWORD = "correct horse battery"


async def whoami(request: Request) -> Response:
    user = await require_user(request)
    return JSONResponse({"id": user.id, "email": user.email, "roles": sorted(user.roles)})


def client_for(crm: rt_crm.Crm, web_client: WebClient) -> TestClient:
    catalog = crm.catalog
    with crm.database.session() as session:
        auth.create_user(
            catalog, session, email="root@example.com", password=PASSWORD, roles=["admin"]
        )
        auth.create_user(
            catalog, session, email="mo@example.com", password=PASSWORD, roles=["manager"]
        )
        auth.create_user(
            catalog, session, email="sal@example.com", password=PASSWORD, roles=["sales"]
        )
    api = [
        *api_keys.routes(catalog),
        Route("/whoami", whoami),
        Mount("/auth", routes=auth_routes.routes(catalog)),
    ]
    return web_client([Mount("/api", routes=api)], sessions=True)


def bearer(client: TestClient, email: str) -> dict[str, str]:
    answer = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    client.cookies.clear()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_keys_are_made_used_refused_and_revoked(
    crm_web: rt_crm.Crm, web_client: WebClient, cheap_hashes: Any
) -> None:
    client = client_for(crm_web, web_client)
    root, manager, seller = (
        bearer(client, "root@example.com"),
        bearer(client, "mo@example.com"),
        bearer(client, "sal@example.com"),
    )
    assert client.get("/api/api_keys", headers=seller).status_code == 403
    made = client.post(
        "/api/api_keys", json={"name": " Website ", "role": "sales"}, headers=manager
    )
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    assert key.startswith("crm_") and made.json()["name"] == "Website"
    # the key is its own service user, by either header
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        me = client.get("/api/whoami", headers=headers).json()
        assert api_keys.is_service_email(me["email"]) and me["roles"] == ["sales"]
    listed = client.get("/api/api_keys", headers=manager).json()
    shown = [k for k in listed["items"]] if isinstance(listed, dict) else listed
    assert key not in str(shown)  # shown once, stored hashed
    keys = api_keys.catalog_keys(crm_web.catalog)
    with crm_web.database.session() as session:
        stored = session.scalars(sa.select(keys.key_hash)).all()
    assert stored == [auth.digest(key)]
    # the checks of a new key
    for body, status in (
        ({"name": "x", "role": "admin"}, 403),  # a superuser role: superusers only
        ({"name": "", "role": "sales"}, 422),
        ({"name": "x" * 500, "role": "sales"}, 422),
        ({"name": "x", "role": "nobody"}, 422),
        ({"name": "x", "role": "sales", "colour": "red"}, 422),
        ({"name": "x", "role": "sales", "expires_at": "yesterday"}, 422),
        ([1, 2], 422),
    ):
        answer = client.post("/api/api_keys", json=body, headers=manager)
        assert answer.status_code == status, (body, answer.text)
    assert (
        client.post(
            "/api/api_keys", json={"name": "Root", "role": "admin"}, headers=root
        ).status_code
        == 201
    )
    # a key cannot make keys
    assert client.get("/api/api_keys", headers={"X-API-Key": key}).status_code == 403
    # expired: 401
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    expiring = client.post(
        "/api/api_keys", json={"name": "Soon", "role": "sales", "expires_at": soon}, headers=manager
    ).json()
    with crm_web.database.session() as session:
        session.execute(
            sa.update(keys)
            .where(keys.id == expiring["id"])
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
    assert client.get("/api/whoami", headers={"X-API-Key": expiring["key"]}).status_code == 401
    # revoked: 401; revoking twice or an unknown key
    key_id = made.json()["id"]
    assert client.delete(f"/api/api_keys/{key_id}", headers=manager).status_code == 204
    assert client.get("/api/whoami", headers={"X-API-Key": key}).status_code == 401
    assert client.delete("/api/api_keys/999999", headers=manager).status_code == 404
    assert client.delete("/api/api_keys/nope", headers=manager).status_code == 404
    assert client.get("/api/whoami", headers={"X-API-Key": "crm_unknown"}).status_code == 401
    audit = crm_web.catalog.table(tables.AuditEntryTable)
    with crm_web.database.session() as session:
        actions = session.scalars(sa.select(audit.action).where(audit.entity == "ApiKey")).all()
    assert "create" in actions and "delete" in actions or len(actions) >= 2


def test_a_spec_that_turns_keys_off_takes_no_key(
    crm_web: rt_crm.Crm, web_client: WebClient, cheap_hashes: Any, monkeypatch: Any
) -> None:
    client = client_for(crm_web, web_client)
    manager = bearer(client, "mo@example.com")
    key = client.post("/api/api_keys", json={"name": "Old", "role": "sales"}, headers=manager)
    assert client.get("/api/whoami", headers={"X-API-Key": key.json()["key"]}).status_code == 200
    off = dataclasses.replace(crm_web.catalog.config, api_keys=False)
    monkeypatch.setattr(crm_web.catalog, "config", off)
    later = web_client([Mount("/api", routes=[Route("/whoami", whoami)])], sessions=True)
    for headers in (
        {"X-API-Key": key.json()["key"]},
        {"Authorization": f"Bearer {key.json()['key']}"},
    ):
        assert later.get("/api/whoami", headers=headers).status_code == 401
    assert later.get("/api/whoami", headers=manager).status_code == 200  # sessions still work
