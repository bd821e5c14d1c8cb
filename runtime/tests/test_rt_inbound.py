"""``crmgen_runtime.inbound``: signatures, keys and answers, and hooks over HTTP on the small
CRM (SQLite and PostgreSQL): a signed event runs its process once, a replay is a duplicate, a
bad signature a 401, an unset secret a 503, an API key runs as its service user; phones of
process writes and conditions in E.164."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from conftest import WebClient
from crmgen_runtime import api_keys, auth, inbound, phones, where
from crmgen_runtime.errors import ApiError
from crmgen_runtime.processes import Processes, Run
from crmgen_runtime.resources import FieldInfo, Resource, field_map
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

SECRET = "s3cret-" + "x" * 30
ENV = "RT_HOOK_SECRET"


class Outbox:
    def enqueue(self, session: Session, *, kind: str, payload: Any, key: str | None) -> None:
        pass


INPUTS = Resource(
    name="input of hook rt",
    path="/hooks/signed",
    label="signed",
    model=rt_crm.User,
    fields=field_map(
        FieldInfo("ref", "string", required=True, options={"max_length": 20}),
        FieldInfo("name", "string", required=True, options={"max_length": 50}),
        FieldInfo("phone", "phone", options={"max_length": 32, "region": "RU"}),
        FieldInfo("fail", "boolean"),
    ),
    timestamps=False,
    actions=frozenset(),
)
TAKEN: list[Any] = []


def take(run: Run, user: Any, input: Any) -> None:
    """Make a company named by the event (a ``fail`` event fails after writing it)."""
    TAKEN.append(input.phone)
    run.create("Company", {"name": input.name, "owner": user.id})
    if input.fail:
        raise run.error(409, "Refused by the process.")


def hooks() -> list[inbound.Hook]:
    key = lambda event: event.ref
    return [
        inbound.Hook(
            "signed",
            inbound.Hmac(ENV, "u4@example.com"),
            INPUTS,
            key,
            take,
            ("ref",),
        ),
        inbound.Hook("keyed", inbound.KeyAuth(("sales",)), INPUTS, key, take, ("ref",)),
    ]


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def companies(crm: rt_crm.Crm, name: str) -> list[int | None]:
    with crm.database.session() as session:  # type: ignore[union-attr]
        stmt = sa.select(rt_crm.Company.owner_id).where(rt_crm.Company.name == name)
        return list(session.scalars(stmt))


def client_of(crm: rt_crm.Crm, web_client: WebClient) -> TestClient:
    processes = Processes(crm.catalog, outbox=Outbox())
    return web_client(inbound.Inbound(processes, hooks()).routes())


def post(client: TestClient, path: str, event: dict[str, Any], **headers: str) -> Any:
    body = json.dumps(event).encode()
    sent = {"Content-Type": "application/json", **headers}
    if "X-Signature" not in headers and path.endswith("signed"):
        sent["X-Signature"] = sign(body)
    return client.post(path, content=body, headers=sent)


# --- without a database ----------------------------------------------------------------------


def test_signatures_compare_in_constant_time_and_read_only_sha256() -> None:
    body = b'{"a": 1}'
    good = inbound.signature(b"k", body)
    assert good.startswith("sha256=") and len(good) == 7 + 64
    assert inbound.signed(b"k", body, good) and inbound.signed(b"k", body, " " + good.upper())
    assert not inbound.signed(b"k", body, None) and not inbound.signed(b"k", body, "")
    assert not inbound.signed(b"other", body, good)
    assert not inbound.signed(b"k", body + b" ", good)
    assert not inbound.signed(b"k", body, good.replace("sha256=", "sha1="))


def test_json_content_types_secrets_and_keys() -> None:
    assert inbound.is_json("application/json; charset=utf-8") and inbound.is_json(
        "Application/JSON"
    )
    assert not inbound.is_json(None) and not inbound.is_json("text/plain")
    hook = hooks()[0]
    assert inbound.secret_of(hook, {ENV: "abc"}) == b"abc"
    with pytest.raises(ApiError) as unset:
        inbound.secret_of(hook, {})
    assert unset.value.status == 503 and unset.value.code == "not_configured"
    with pytest.raises(ApiError) as empty:
        inbound.event_key(hook, type("E", (), {"ref": " "})())
    assert empty.value.status == 422 and empty.value.fields == {
        "ref": "Required: the event's idempotency key."
    }
    with pytest.raises(ApiError) as long:
        inbound.event_key(hook, type("E", (), {"ref": "x" * 300})())
    assert long.value.status == 422
    assert inbound.event_key(hook, type("E", (), {"ref": 42})()) == "42"


def test_phones_of_process_writes_and_conditions_are_stored_in_e164() -> None:
    info = {"phone": FieldInfo("phone", "phone", options={"region": "RU"})}
    plain = {"phone": FieldInfo("phone", "phone")}
    assert phones.stored_values(info, {"phone": "8 912 345-67-89", "x": 1}) == {
        "phone": "+79123456789",
        "x": 1,
    }
    assert phones.stored_values(info, {"phone": "no number"}) == {"phone": "no number"}
    assert phones.stored_values(plain, {"phone": "8 912"}) == {"phone": "8 912"}
    assert where.phone(["8 912 345 67 89", None, "+44 20 7946 0958"], "RU") == [
        "+79123456789",
        None,
        "+442079460958",
    ]
    assert where.phone(None, "RU") is None and where.phone("8 912", "") == "8 912"


# --- over HTTP ---------------------------------------------------------------------------------


def test_a_signed_hook_runs_once_and_refuses_what_it_should(
    crm_web: rt_crm.Crm, web_client: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_of(crm_web, web_client)
    event = {"ref": "e-1", "name": "Hooked", "phone": "8 912 345-67-89", "extra": "ignored"}
    monkeypatch.delenv(ENV, raising=False)
    unset = post(client, "/hooks/signed", event)
    assert unset.status_code == 503 and unset.json()["error"]["code"] == "not_configured"
    monkeypatch.setenv(ENV, SECRET)
    TAKEN.clear()
    first = post(client, "/hooks/signed", event)
    assert first.status_code == 200, first.text
    assert first.json()["duplicate"] is False and TAKEN == ["+79123456789"]
    again = post(client, "/hooks/signed", event)
    assert again.json() == {"ok": True, "duplicate": True}
    assert companies(crm_web, "Hooked") == [4]  # run as u4, once
    for headers in ({"X-Signature": "sha256=" + "0" * 64}, {"X-Signature": ""}):
        refused = post(client, "/hooks/signed", {**event, "ref": "e-2"}, **headers)
        assert refused.status_code == 401, refused.text
    wrong = post(client, "/hooks/signed", {**event, "ref": "e-2"}, **{"X-Signature": "x"})
    assert wrong.json()["error"]["code"] == "bad_signature"
    bad = post(client, "/hooks/signed", {"ref": "e-3", "phone": "no number"})
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) == {"name", "phone"}
    listed = post(client, "/hooks/signed", [1])  # type: ignore[arg-type]
    assert listed.status_code == 422
    # a process that fails leaves nothing, so the sender may retry
    failed = post(client, "/hooks/signed", {"ref": "e-4", "name": "Failing", "fail": True})
    assert failed.status_code == 409 and companies(crm_web, "Failing") == []
    retried = post(client, "/hooks/signed", {"ref": "e-4", "name": "Failing"})
    assert retried.json()["duplicate"] is False and len(companies(crm_web, "Failing")) == 1
    text = client.post("/hooks/signed", content=b"{}", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    assert post(client, "/hooks/nothing", event).status_code == 404
    with crm_web.database.session() as session:  # type: ignore[union-attr]
        rows = session.execute(sa.select(rt_crm.InboundEvent.hook, rt_crm.InboundEvent.key))
        assert sorted(tuple(r) for r in rows) == [("signed", "e-1"), ("signed", "e-4")]
        audited = session.scalars(
            sa.select(rt_crm.AuditEntry.user_email).where(
                rt_crm.AuditEntry.entity == inbound.ENTITY
            )
        ).all()
        assert audited == ["u4@example.com", "u4@example.com"]


def test_a_signed_hook_without_its_user_answers_503(
    crm_web: rt_crm.Crm, web_client: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, SECRET)
    with crm_web.database.session() as session:  # type: ignore[union-attr]
        session.execute(sa.update(rt_crm.User).where(rt_crm.User.id == 4).values(active=False))
    client = client_of(crm_web, web_client)
    answer = post(client, "/hooks/signed", {"ref": "x", "name": "Nobody"})
    assert answer.status_code == 503 and companies(crm_web, "Nobody") == []


def test_a_keyed_hook_runs_as_the_keys_service_user(
    crm_web: rt_crm.Crm, web_client: WebClient
) -> None:
    catalog, database = crm_web.catalog, crm_web.database
    assert database is not None
    root = rt_crm.person(4, "admin", superuser=True)
    sales = api_keys.create(database, catalog, root, {"name": "Shop", "role": "sales"}, None)
    viewer = api_keys.create(database, catalog, root, {"name": "View", "role": "viewer"}, None)
    client = client_of(crm_web, web_client)
    event = {"ref": "k-1", "name": "Keyed"}
    assert post(client, "/hooks/keyed", event).status_code == 401
    assert post(client, "/hooks/keyed", event, **{"X-API-Key": "crm_nope"}).status_code == 401
    assert post(client, "/hooks/keyed", event, **{"X-API-Key": viewer["key"]}).status_code == 403
    made = post(client, "/hooks/keyed", event, Authorization=f"Bearer {sales['key']}")
    assert made.status_code == 200, made.text
    assert companies(crm_web, "Keyed") == [sales["user_id"]]
    user = auth.user_by_id(catalog, database, sales["user_id"])
    assert user is None  # the service user never signs in (inactive)
