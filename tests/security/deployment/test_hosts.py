"""Poisoned ``Host`` headers: a mailed link never carries a host an attacker chose.

Links come from ``PUBLIC_URL``; requests that name a host outside the allowed hosts (the
loopback names, ``PUBLIC_URL``'s host and ``ALLOWED_HOSTS``) are refused with a 400, except
``/healthz``, which the Kubernetes probes ask with the pod's address.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.security.crm import Crm, email, start_crm

ATTACKER = "evil.example"


def reset(crm: Crm, host: str, name: str) -> Any:
    """``POST /api/auth/password-reset`` for user ``name``, sent with ``Host: host``."""
    with crm.client(headers={"Host": host}) as client:
        return client.post("/api/auth/password-reset", json={"email": email(name)})


def reset_from_the_page(crm: Crm, host: str, name: str) -> Any:
    """The web UI's reset form for user ``name``, every request sent with ``Host: host``."""
    with crm.client(headers={"Host": host}) as client:
        page = client.get("/password-reset")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, page.text
        return client.post(
            "/password-reset", data={"csrf_token": token.group(1), "email": email(name)}
        )


def links(crm: Crm, name: str) -> list[str]:
    """The links of every e-mail in the outbox to user ``name``."""
    found = []
    for (payload,) in crm.sql("SELECT payload FROM crm_outbox WHERE kind = 'email' ORDER BY id"):
        data = json.loads(payload) if isinstance(payload, str) else payload
        if data.get("to") == email(name) and data.get("link"):
            found.append(str(data["link"]))
    return found


@pytest.mark.parametrize(
    "host", [ATTACKER, f"{ATTACKER}:8000", "127.0.0.1.evil.example", "localhost.evil.example"]
)
def test_a_reset_request_for_an_unknown_host_is_refused(crm: Crm, host: str) -> None:
    before = links(crm, "support")
    response = reset(crm, host, "support")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_host"
    assert links(crm, "support") == before  # nothing mailed


@pytest.mark.parametrize(
    "path",
    ["/", "/login", "/password-reset", "/api/auth/me", "/openapi.json", "/docs", "/redoc"],
)
def test_every_page_refuses_an_unknown_host(crm: Crm, path: str) -> None:
    with crm.client(headers={"Host": ATTACKER}) as client:
        response = client.get(path)
    assert response.status_code == 400, response.text
    assert ATTACKER not in response.text


def test_the_mailed_link_carries_the_public_url_whatever_host_was_asked(crm: Crm) -> None:
    alias = f"localhost:{crm.port}"  # an allowed name for the same server
    assert reset(crm, alias, "sales2").status_code == 202
    assert reset_from_the_page(crm, alias, "sales2").status_code == 200
    mailed = links(crm, "sales2")
    assert len(mailed) == 2
    for link in mailed:
        assert link.startswith(f"{crm.base}/password-reset/"), link  # PUBLIC_URL's


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "LOCALHOST:8000"])
def test_loopback_names_are_served(crm: Crm, host: str) -> None:
    with crm.client(headers={"Host": host}) as client:
        assert client.get("/login").status_code == 200


@pytest.mark.parametrize("host", ["10.42.0.7:8000", ATTACKER])
def test_healthz_answers_any_host(crm: Crm, host: str) -> None:
    """Kubernetes probes send the pod's address as the Host."""
    with crm.client(headers={"Host": host}) as client:
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


# --- local development without PUBLIC_URL, and ALLOWED_HOSTS ------------------------------------


@pytest.fixture(scope="module")
def development(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crm]:
    """Local development without ``PUBLIC_URL``, with two more allowed hosts."""
    env = {
        "APP_ENV": "development",
        "PUBLIC_URL": "",
        "ALLOWED_HOSTS": "crm.internal,*.example.org",
    }
    with start_crm("sqlite", tmp_path_factory, env) as running:
        yield running


def test_in_development_the_link_follows_an_allowed_host_only(development: Crm) -> None:
    assert reset(development, "crm.internal", "manager").status_code == 202
    assert links(development, "manager")[-1].startswith("http://crm.internal/password-reset/")
    assert reset(development, ATTACKER, "manager").status_code == 400
    assert not any(ATTACKER in link for link in links(development, "manager"))


@pytest.mark.parametrize("host", ["crm.internal", "CRM.internal:8443", "eu.example.org"])
def test_allowed_hosts_are_served(development: Crm, host: str) -> None:
    with development.client(headers={"Host": host}) as client:
        assert client.get("/login").status_code == 200


@pytest.mark.parametrize(
    "host", ["example.org", "badexample.org", "crm.internal.evil.example", "", ATTACKER]
)
def test_hosts_outside_allowed_hosts_are_refused(development: Crm, host: str) -> None:
    """``*.example.org`` allows the subdomains of example.org, not example.org itself."""
    with development.client(headers={"Host": host}) as client:
        assert client.get("/login").status_code == 400
