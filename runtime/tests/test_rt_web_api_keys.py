"""``crmgen_runtime.web.api_key_pages``: a user manager makes a key on ``/api-keys`` (shown
once, never cached), the key works on the API, is listed without itself and revoked with a
button; anyone else is refused; through real requests on the small CRM (SQLite and
PostgreSQL)."""

from __future__ import annotations

import html
import re
from typing import Any

import rt_crm
import sqlalchemy as sa
from conftest import WebClient, site_routes
from crmgen_runtime import api_keys, auth, auth_routes, tables
from crmgen_runtime.principal import require_user
from crmgen_runtime.web import api_key_pages, auth_pages, error_pages
from crmgen_runtime.web.site import Site
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from test_rt_web_pages import PASSWORD, csrf_of, sign_in


async def whoami(request: Request) -> Response:
    user = await require_user(request)
    return JSONResponse({"email": user.email, "roles": sorted(user.roles)})


def client_for(crm: rt_crm.Crm, site: Site, web_client: WebClient) -> TestClient:
    with crm.database.session() as session:
        for email, role in (("root@example.com", "admin"), ("mo@example.com", "manager")):
            auth.create_user(crm.catalog, session, email=email, password=PASSWORD, roles=[role])
        auth.create_user(
            crm.catalog, session, email="sal@example.com", password=PASSWORD, roles=["sales"]
        )
    api = [
        *api_keys.routes(crm.catalog),
        Route("/whoami", whoami),
        Mount("/auth", routes=auth_routes.routes(crm.catalog)),
    ]
    routes = [Mount("/api", routes=api), *site_routes(site, auth_pages, api_key_pages, error_pages)]
    return web_client(
        routes, site=site, sessions=True, html_errors=True, base_url="https://testserver"
    )


def made_key(page: str) -> str:
    found = re.search(r'id="new-key" type="text" readonly value="([^"]+)"', page)
    assert found, "the page shows the new key"
    return html.unescape(found.group(1))


def test_a_manager_makes_lists_and_revokes_a_key(
    crm_web: rt_crm.Crm, site: Site, web_client: WebClient, cheap_hashes: Any
) -> None:
    client = client_for(crm_web, site, web_client)
    assert client.get("/api-keys").headers["location"].startswith("/login")
    sign_in(client, "mo@example.com")
    page = client.get("/api-keys")
    assert page.status_code == 200 and "API keys" in page.text
    roles = re.findall(r'<option value="(\w+)"', page.text)
    assert "admin" not in roles and {"manager", "sales"} <= set(roles)  # no superuser role
    token = csrf_of(client, "/api-keys")

    refused = client.post(
        "/api-keys", data={"csrf_token": token, "name": " ", "role": "sales", "expires_at": ""}
    )
    assert refused.status_code == 422 and 'id="k_name_error"' in refused.text
    past = client.post(
        "/api-keys",
        data={"csrf_token": token, "name": "Site", "role": "sales", "expires_at": "2001-01-01"},
    )
    assert past.status_code == 422 and 'id="k_expires_error"' in past.text
    forged = client.post("/api-keys", data={"csrf_token": token, "name": "X", "role": "admin"})
    assert forged.status_code == 403 and "crm_" not in forged.text
    no_token = client.post("/api-keys", data={"name": "Site", "role": "sales"})
    assert no_token.status_code == 403

    made = client.post(
        "/api-keys",
        data={
            "csrf_token": token,
            "name": "Telephony",
            "role": "sales",
            "expires_at": "2999-01-01",
        },
    )
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    key = made_key(made.text)
    assert key.startswith(api_keys.PREFIX)
    me = client.get("/api/whoami", headers={"X-API-Key": key, "Cookie": ""})
    assert me.status_code == 200 and me.json()["roles"] == ["sales"]

    listed = client.get("/api-keys").text
    assert "Telephony" in listed and key not in listed and key[: api_keys.SHOWN] in listed
    key_id = int(re.findall(r'data-key="(\d+)"', listed)[0])
    revoked = client.post(
        f"/api-keys/{key_id}/revoke", data={"csrf_token": token}, follow_redirects=True
    )
    assert revoked.status_code == 200 and "The key is revoked" in revoked.text
    assert f'action="/api-keys/{key_id}/revoke"' not in revoked.text  # no button on it now
    client.cookies.clear()
    assert client.get("/api/whoami", headers={"X-API-Key": key}).status_code == 401
    model = crm_web.catalog.table(tables.AuditEntryTable)
    with crm_web.database.session() as session:
        actions = session.scalars(
            sa.select(model.action).where(model.entity == api_keys.ENTITY).order_by(model.id)
        ).all()
    assert actions == ["create", "update"]
    sign_in(client, "mo@example.com")
    missing = client.post("/api-keys/99999/revoke", data={"csrf_token": csrf_of(client, "/")})
    assert missing.status_code == 404


def test_the_pages_are_for_user_managers_only(
    crm_web: rt_crm.Crm, site: Site, web_client: WebClient, cheap_hashes: Any
) -> None:
    client = client_for(crm_web, site, web_client)
    sign_in(client, "root@example.com")
    page = client.get("/api-keys")
    assert page.status_code == 200 and '<option value="admin"' in page.text
    root_key = client.post(
        "/api-keys",
        data={"csrf_token": csrf_of(client, "/api-keys"), "name": "Ops", "role": "admin"},
    )
    assert root_key.status_code == 201
    client.cookies.clear()
    sign_in(client, "mo@example.com")
    listed = client.get("/api-keys").text
    assert "Ops" in listed and "/revoke" not in listed  # a superuser's key: not for a manager
    client.cookies.clear()
    sign_in(client, "sal@example.com")
    assert client.get("/api-keys").status_code == 403
    token = csrf_of(client, "/")
    assert (
        client.post(
            "/api-keys", data={"csrf_token": token, "name": "X", "role": "sales"}
        ).status_code
        == 403
    )
    assert client.post("/api-keys/1/revoke", data={"csrf_token": token}).status_code == 403
    assert api_key_pages.keys_url(site, rt_crm.deals, rt_crm.person(1, "manager")) is None
    assert api_key_pages.entity_routes("deals", rt_crm.deals) == []
