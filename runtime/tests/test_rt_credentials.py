"""``crmgen_runtime.credentials``: bearer tokens, the signed session cookie, CSRF tokens and
``AuthMiddleware``'s answers to each shape of request, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from crmgen_runtime import auth, credentials
from crmgen_runtime.principal import current_user
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

PASSWORD = "correct horse battery"
KEY = b"k" * 32
CSRF_REFUSAL = {
    "error": {
        "code": "csrf",
        "message": "A request signed in by the session cookie must send the "
        "X-CSRF-Token header (the page's csrf-token meta tag).",
        "fields": {},
    }
}


def holding(**settings: object) -> Any:
    """An app-like object whose ``state.settings`` has ``settings``."""
    return SimpleNamespace(state=SimpleNamespace(settings=SimpleNamespace(**settings)))


def scope(*headers: tuple[bytes, bytes], app: Any = None, **more: Any) -> dict[str, Any]:
    return {"type": "http", "headers": list(headers), "app": app, **more}


def request(*headers: tuple[bytes, bytes], app: Any = None, scheme: str = "http") -> Request:
    return Request(
        scope(
            *headers,
            app=app or holding(secret_key="k" * 32),
            method="GET",
            path="/",
            scheme=scheme,
            server=("testserver", 80),
            query_string=b"",
            state={},
        )
    )


def cookie(token: str, key: bytes = KEY) -> tuple[bytes, bytes]:
    value = credentials.sign_token(key, token)
    return (b"cookie", f"{credentials.COOKIE_NAME}={value}".encode())


# --- the signed cookie --------------------------------------------------------------------------


def test_a_signed_token_reads_back_only_with_its_key() -> None:
    signed = credentials.sign_token(KEY, "tok.en")
    assert signed.startswith("tok.en.") and credentials.unsign_token(KEY, signed) == "tok.en"
    assert credentials.unsign_token(b"another key", signed) is None
    assert credentials.unsign_token(KEY, signed[:-1] + "x") is None
    assert credentials.unsign_token(KEY, "no-signature") is None


def test_in_local_development_without_a_key_a_key_file_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    development = holding(secret_key=None, development=True)
    with caplog.at_level(logging.WARNING):
        key = credentials.secret_key(development)
    path = tmp_path / credentials.SECRET_KEY_FILE
    assert path.read_text().strip().encode() == key and len(key) == 64
    assert path.stat().st_mode & 0o777 == 0o600
    assert "SECRET_KEY is not set" in caplog.text
    assert credentials.secret_key(development) == key
    assert credentials.secret_key(holding(secret_key="configured")) == b"configured"
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        credentials.secret_key(holding(secret_key=None, development=False))


def _key_in(folder: str) -> bytes:
    """The development key a fresh process finds in ``folder`` (cache and all)."""
    return credentials._development_key(Path(folder) / credentials.SECRET_KEY_FILE)


def test_processes_started_together_share_one_development_key(tmp_path: Path) -> None:
    """``serve`` with WEB_CONCURRENCY starts its processes at once: each signs with the key the
    first one made, never with an empty or a half-written one."""
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        keys = pool.map(_key_in, [str(tmp_path)] * 8)
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert [p.name for p in tmp_path.iterdir()] == [credentials.SECRET_KEY_FILE]


def test_a_key_file_made_elsewhere_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / credentials.SECRET_KEY_FILE).write_text("from-the-file\n")
    assert credentials.secret_key(holding(secret_key="", development=True)) == b"from-the-file"


def test_cookies_are_secure_over_https_or_for_an_https_public_url() -> None:
    assert credentials.cookies_secure(request(scheme="https"))
    assert not credentials.cookies_secure(request())
    assert credentials.cookies_secure(request(app=holding(secure_cookies=True, secret_key="k")))


# --- the token of a request ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        ([(b"authorization", b"Bearer abc")], "abc"),
        ([(b"authorization", b"  bearer   abc  ")], "abc"),
        ([(b"authorization", b"Bearer ")], None),
        ([(b"authorization", b"Basic abc")], None),
        ([(b"authorization", b"Bearer abc"), (b"authorization", b"Bearer def")], None),
        ([], None),
    ],
)
def test_only_one_bearer_header_is_a_bearer_token(
    headers: list[tuple[bytes, bytes]], token: str | None
) -> None:
    assert credentials.bearer(scope(*headers)) == token


def test_the_bearer_token_wins_over_the_cookie() -> None:
    app = holding(secret_key=KEY.decode())
    with_both = scope((b"authorization", b"Bearer abc"), cookie("from-cookie"), app=app)
    assert credentials.credentials(with_both) == ("abc", False)
    assert credentials.credentials(scope(cookie("from-cookie"), app=app)) == ("from-cookie", True)
    forged = scope(cookie("from-cookie", key=b"other key"), app=app)
    assert credentials.credentials(forged) == (None, True)
    assert credentials.credentials(scope((b"cookie", b"other=1"), app=app)) == (None, False)
    assert credentials.request_token(scope(app=app)) is None
    other = holding(secret_key="other key")
    assert credentials.request_token(forged, other) == "from-cookie"  # the key of ``other``


# --- CSRF tokens --------------------------------------------------------------------------------


def test_before_signing_in_the_csrf_token_belongs_to_a_random_cookie() -> None:
    first = request()
    token = credentials.csrf_token(first)
    assert token and credentials.csrf_token(first) == token  # kept for the request
    response = Response()
    credentials.set_csrf_cookie(first, response)
    made = response.headers["set-cookie"]
    assert made.startswith(f"{credentials.CSRF_COOKIE}=") and "HttpOnly" in made
    value = made.partition("=")[2].partition(";")[0]
    later = request((b"cookie", f"{credentials.CSRF_COOKIE}={value}".encode()))
    assert credentials.csrf_token(later) == token and credentials.csrf_matches(later, token)
    forged = token[:-1] + ("1" if token.endswith("0") else "0")  # one character off
    assert not credentials.csrf_matches(later, forged)
    unmade = Response()
    credentials.set_csrf_cookie(later, unmade)  # the cookie exists: none is set
    assert "set-cookie" not in unmade.headers


def test_a_session_has_its_own_csrf_token() -> None:
    app = holding(secret_key=KEY.decode())
    signed_in = request(cookie("session-token"), app=app)
    assert credentials.csrf_token(signed_in) == credentials.session_csrf_token(app, "session-token")
    nobody = request((b"cookie", f"{credentials.CSRF_COOKIE}=short".encode()), app=app)
    assert credentials.csrf_token(nobody, create=False) is None
    assert not credentials.csrf_matches(nobody, "")


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        ("POST", "/api/things", True),
        ("DELETE", "/api/things/1", True),
        ("GET", "/api/things", False),
        ("OPTIONS", "/api/things", False),
        ("POST", "/api/auth/login", False),
        ("POST", "/login", False),
    ],
)
def test_state_changing_api_requests_need_the_csrf_header(
    method: str, path: str, needed: bool
) -> None:
    assert credentials.needs_csrf({"type": "http", "method": method, "path": path}) is needed


# --- the middleware -----------------------------------------------------------------------------


def signed_in(client: TestClient, crm: Any, email: str) -> dict[str, Any]:
    with crm.database.session() as session:
        auth.create_user(crm.catalog, session, email=email, password=PASSWORD, roles=["sales"])
    response = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_a_bearer_token_signs_in_without_csrf(auth_client: Any, crm_web: Any) -> None:
    client = auth_client()
    token = signed_in(client, crm_web, "ann@example.com")["access_token"]
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/whoami").json() == {"user": None}
    user = client.post("/api/whoami", headers=bearer).json()["user"]
    assert isinstance(user, int)
    assert client.get("/api/whoami", headers={"Authorization": "Bearer wrong"}).json() == {
        "user": None
    }


def test_the_cookie_signs_in_and_state_changes_need_its_csrf_token(
    auth_client: Any, crm_web: Any
) -> None:
    client = auth_client(base_url="https://testserver")  # the cookie is Secure
    body = signed_in(client, crm_web, "bob@example.com")
    user = client.get("/api/whoami").json()["user"]
    assert user is not None
    refused = client.post("/api/whoami")
    assert (refused.status_code, refused.json()) == (403, CSRF_REFUSAL)
    wrong = client.post("/api/whoami", headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    right = client.post("/api/whoami", headers={"X-CSRF-Token": body["csrf_token"]})
    assert right.json() == {"user": user}
    # a wrong bearer token is anonymous: the cookie is not looked at
    other = client.post("/api/whoami", headers={"Authorization": "Bearer wrong"})
    assert other.json() == {"user": None}
    # not exactly one bearer token: signed in by the cookie, CSRF checked
    twice = [("authorization", "Bearer a"), ("authorization", "Bearer b")]
    assert client.post("/api/whoami", headers=twice).status_code == 403
    # signing in again needs no CSRF token (JSON only, no cross-site form sends it)
    again = {"email": "bob@example.com", "password": PASSWORD}
    assert client.post("/api/auth/login", json=again).status_code == 200


def test_a_forged_cookie_is_anonymous(auth_client: Any) -> None:
    client = auth_client()
    client.cookies.set(credentials.COOKIE_NAME, credentials.sign_token(b"wrong", "token"))
    assert client.post("/api/whoami").json() == {"user": None}


def test_the_middleware_may_be_given_its_database(crm_web: Any, cheap_hashes: Any) -> None:
    async def email(request: Request) -> Response:
        user = await current_user(request)
        return Response("" if user is None else user.email)

    middleware = Middleware(
        credentials.AuthMiddleware, catalog=crm_web.catalog, database=crm_web.database
    )
    app = Starlette(routes=[Route("/", email)], middleware=[middleware])
    app.state.settings = SimpleNamespace(secret_key="k" * 32)  # and no ``state.db``
    with crm_web.database.session() as session:
        auth.create_user(crm_web.catalog, session, email="cy@example.com", password=PASSWORD)
    token = auth.sign_in(crm_web.catalog, crm_web.database, "cy@example.com", PASSWORD, None, None)
    with TestClient(app) as client:
        assert (
            client.get("/", headers={"Authorization": f"Bearer {token}"}).text == "cy@example.com"
        )
        assert client.get("/").text == ""
