"""Behind a proxy: forwarded headers count only from the trusted proxy, and cookies are
``Secure`` whenever users come over https.

The app runs as the image runs it (``python -m APP serve``) with ``FORWARDED_ALLOW_IPS`` naming
the proxy, 127.0.0.2; the "proxy" is a client bound to 127.0.0.2 and the outsider one bound
to 127.0.0.3 (every 127/8 address is the loopback interface on Linux).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from tests.security.crm import (
    PACKAGE,
    PASSWORD,
    START_TIMEOUT,
    Crm,
    app_env,
    cloned_database,
    crm_out,
    email,
    free_port,
    start_crm,
)

PROXY = "127.0.0.2"
OUTSIDER = "127.0.0.3"
VISITOR = "203.0.113.9"  # the address the proxy says it forwards for


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crm]:
    """``python -m APP serve`` trusting forwarded headers from ``PROXY`` only."""
    out = crm_out(tmp_path_factory)
    folder = tmp_path_factory.mktemp("proxy")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with cloned_database("sqlite", folder, tmp_path_factory) as url:
        env = app_env(out, url, {"PUBLIC_URL": base, "FORWARDED_ALLOW_IPS": PROXY})
        log_path = folder / "serve.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", PACKAGE, "serve", "--port", str(port)],
                env=env,
                cwd=folder,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        crm = Crm(base, url, "sqlite", process, log_path, env)
        try:
            wait_healthy(crm)
            yield crm
        finally:
            process.terminate()
            process.wait(timeout=15)


def wait_healthy(crm: Crm) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert crm.process.poll() is None, crm.log()
        try:
            if httpx.get(f"{crm.base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"no answer on /healthz in {START_TIMEOUT} s:\n{crm.log()}")


def login_from(crm: Crm, address: str, name: str, **headers: str) -> httpx.Response:
    """Sign ``name`` in over a connection from ``address``."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=crm.base, transport=transport, timeout=30) as client:
        response = client.post(
            "/api/auth/login",
            json={"email": email(name), "password": PASSWORD},
            headers=headers,
        )
    assert response.status_code == 200, response.text
    return response


def last_login_ip(crm: Crm, name: str) -> str:
    rows = crm.sql(
        "SELECT ip FROM crm_login_attempts WHERE email = :email ORDER BY id DESC", email=email(name)
    )
    return str(rows[0][0])


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": VISITOR}


def test_https_forwarded_by_the_trusted_proxy_gives_secure_cookies(served: Crm) -> None:
    response = login_from(served, PROXY, "sales", **FORWARDED)
    assert "secure" in response.headers["set-cookie"].lower()
    assert last_login_ip(served, "sales") == VISITOR


def test_forwarded_headers_from_anyone_else_are_ignored(served: Crm) -> None:
    response = login_from(served, OUTSIDER, "sales2", **FORWARDED)
    assert "secure" not in response.headers["set-cookie"].lower()
    assert last_login_ip(served, "sales2") == OUTSIDER


@pytest.fixture(scope="module")
def https_public_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crm]:
    """A CRM whose users come over https (``PUBLIC_URL``), reached here over plain http."""
    with start_crm("sqlite", tmp_path_factory, {"PUBLIC_URL": "https://crm.example.com"}) as crm:
        yield crm


def cookies_set(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def test_an_https_public_url_makes_every_cookie_secure(https_public_url: Crm) -> None:
    crm = https_public_url
    with crm.client(headers={"Host": "crm.example.com"}) as client:
        page = client.get("/login")  # the anonymous CSRF cookie
        login = client.post(
            "/api/auth/login", json={"email": email("manager"), "password": PASSWORD}
        )
        locale = client.get("/locale?set=en&next=/", follow_redirects=False)
    cookies = cookies_set(page) + cookies_set(login) + cookies_set(locale)
    assert len(cookies) == 3, cookies
    for cookie in cookies:
        assert "secure" in cookie.lower(), cookie
