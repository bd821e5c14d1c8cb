"""Inbound webhooks (issue 15 item 3): the reference CRM's ``telephony`` and
``callback_requests`` hooks at ``/hooks/<name>``, over HTTP on both databases.

A signed call event becomes one call interaction on the contact matched by phone number (any
way of writing it), owned by the employee whose phone took the call, who gets one screen-pop
notification linking to the contact; a replay changes nothing (200, duplicate); an unsigned,
badly signed or otherwise signed event is a 401 and writes nothing; a bad payload is a 422
naming its fields; racing copies log the call once; without its user the hook answers 503; a
hook with API keys writes as the key's service user. One app per database, started with the
telephony secret (the 503 of an unset secret is in runtime/tests/test_rt_inbound.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2 as httpx
import pytest

from tests.security.crm import KINDS, Crm, start_crm

SECRET = "telephony-" + "s" * 40
HOOK = "/hooks/telephony"
CALLBACKS = "/hooks/callback_requests"
RUN_AS = "telephony@example.com"  # examples/crm/inbound.yaml
STAFF_PHONE = "+79161112233"


@pytest.fixture(scope="module", params=KINDS)
def crm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crm]:
    """The reference CRM with the telephony secret set, its run_as user, a seller's phone."""
    env = {"TELEPHONY_WEBHOOK_SECRET": SECRET}
    with start_crm(request.param, tmp_path_factory, env=env) as running:
        running.sql(
            "INSERT INTO users (email, name, active) VALUES (:email, 'Telephony', :active)",
            email=RUN_AS,
            active=True,
        )
        running.sql(
            "UPDATE users SET phone = :phone WHERE id = :id",
            phone=STAFF_PHONE,
            id=running.user_id("sales"),
        )
        yield running


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(crm: Crm, event: dict[str, Any], signature: str | None = "sign", **kw: Any) -> Any:
    body = json.dumps(event).encode()
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["X-Signature"] = sign(body)
    elif signature is not None:
        headers["X-Signature"] = signature
    headers.update(kw.pop("headers", {}))
    return httpx.post(crm.base + HOOK, content=body, headers=headers, timeout=30, **kw)


def call(**values: Any) -> dict[str, Any]:
    event = {
        "call_id": uuid.uuid4().hex,
        "caller": "8 912 345-67-89",
        "callee": "8 (916) 111-22-33",
        "direction": "inbound",
        "duration": 74,
        "recording_url": "https://records.example/r/1.mp3",
        "started_at": "2026-03-04T10:20:30Z",
    }
    event.update(values)
    return event


def contact(crm: Crm, phone: str) -> int:
    token = crm.token("sales")
    name = f"Caller {uuid.uuid4().hex[:6]}"
    with crm.client(token) as client:
        made = client.post("/api/contacts", json={"full_name": name, "phone": phone})
    assert made.status_code == 201, made.text
    assert made.json()["phone"] == "+79123456789"
    return int(made.json()["id"])


def calls(crm: Crm, phone: str) -> list[tuple[Any, ...]]:
    rows = crm.sql(
        "SELECT contact_id, owner_id, direction, duration, recording, kind FROM interactions "
        "WHERE phone = :phone ORDER BY id",
        phone=phone,
    )
    return [tuple(row) for row in rows]


def pops(crm: Crm, user_id: int) -> list[tuple[Any, ...]]:
    rows = crm.sql(
        "SELECT entity, record_id, message FROM crm_notifications "
        "WHERE user_id = :id AND kind = 'process' ORDER BY id",
        id=user_id,
    )
    return [tuple(row) for row in rows]


def test_a_signed_call_is_logged_once_on_the_contact_and_pops_up(crm: Crm) -> None:
    crm.sql("DELETE FROM interactions WHERE phone = '+79123456789'")
    contact_id = contact(crm, "+7 912 345 67 89")
    seller = crm.user_id("sales")
    before = len(pops(crm, seller))
    event = call()
    first = post(crm, event)
    assert first.status_code == 200, first.text
    assert first.json()["ok"] is True and first.json()["duplicate"] is False
    logged = calls(crm, "+79123456789")
    assert logged == [
        (contact_id, seller, "inbound", 74, "https://records.example/r/1.mp3", "call")
    ]
    popped = pops(crm, seller)[before:]
    assert len(popped) == 1 and popped[0][:2] == ("Contact", contact_id)
    assert "+79123456789" in popped[0][2]
    # the same event again (the provider retried): nothing more, answered as a duplicate
    again = post(crm, event)
    assert again.status_code == 200, again.text
    assert again.json() == {"ok": True, "duplicate": True}
    assert calls(crm, "+79123456789") == logged
    assert len(pops(crm, seller)) == before + 1
    taken = crm.sql(
        "SELECT hook, user_email FROM crm_inbound_events WHERE key = :key", key=event["call_id"]
    )
    assert [tuple(row) for row in taken] == [("telephony", RUN_AS)]
    audit = crm.sql(
        "SELECT user_email FROM crm_audit_log WHERE entity = 'InboundEvent' AND record_id = :id",
        id=first.json()["event"],
    )
    assert [row[0] for row in audit] == [RUN_AS]


def test_racing_copies_of_one_event_log_it_once(crm: Crm) -> None:
    event = call(caller="+7 900 555-44-33")
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: post(crm, event), range(4)))
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert sorted(a.json()["duplicate"] for a in answers) == [False, True, True, True]
    assert len(calls(crm, "+79005554433")) == 1


def test_an_outgoing_call_from_an_unknown_number_is_still_logged(crm: Crm) -> None:
    seller = crm.user_id("sales")
    before = len(pops(crm, seller))
    event = call(direction="outbound", caller=STAFF_PHONE, callee="+44 20 7946 0958")
    answer = post(crm, event)
    assert answer.status_code == 200, answer.text
    logged = calls(crm, "+442079460958")
    assert [(row[0], row[1], row[2]) for row in logged] == [(None, seller, "outbound")]
    popped = pops(crm, seller)[before:]
    assert len(popped) == 1 and popped[0][0] == "Interaction"


def test_unsigned_and_badly_signed_events_write_nothing(crm: Crm) -> None:
    event = call(caller="+7 900 000-00-01")
    body = json.dumps(event).encode()
    for signature in (None, "sha256=" + "0" * 64, sign(body, "another-secret"), "garbage"):
        refused = post(crm, event, signature)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"] in ("not_signed", "bad_signature")
        assert "set-cookie" not in refused.headers
    # signed, then changed on the way: the signature no longer matches
    tampered = body.replace(b"+7 900", b"+7 901")
    headers = {"Content-Type": "application/json", "X-Signature": sign(body)}
    changed = httpx.post(crm.base + HOOK, content=tampered, headers=headers, timeout=30)
    assert changed.status_code == 401
    assert calls(crm, "+79000000001") == [] and calls(crm, "+79010000001") == []
    rows = crm.sql("SELECT id FROM crm_inbound_events WHERE key = :key", key=event["call_id"])
    assert rows == []


def test_a_hook_without_its_user_answers_503_and_writes_nothing(crm: Crm) -> None:
    event = call(caller="+7 900 777-66-55")
    crm.sql("UPDATE users SET active = :no WHERE email = :email", no=False, email=RUN_AS)
    try:
        answer = post(crm, event)
    finally:
        crm.sql("UPDATE users SET active = :yes WHERE email = :email", yes=True, email=RUN_AS)
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "not_configured"
    assert calls(crm, "+79007776655") == []
    assert post(crm, event).json()["duplicate"] is False  # taken once the user is back


def test_bad_payloads_get_clear_answers(crm: Crm) -> None:
    bad = post(crm, call(caller="not a number", direction="sideways", duration=-5))
    assert bad.status_code == 422, bad.text
    fields = bad.json()["error"]["fields"]
    assert set(fields) == {"caller", "direction", "duration"}
    missing = {k: v for k, v in call().items() if k != "call_id"}
    assert post(crm, missing).json()["error"]["fields"] == {"call_id": "This field is required."}
    body = b"{not json"
    headers = {"Content-Type": "application/json", "X-Signature": sign(body)}
    assert httpx.post(crm.base + HOOK, content=body, headers=headers).status_code == 400
    form = httpx.post(crm.base + HOOK, data={"call_id": "1"}, headers={"X-Signature": "x"})
    assert form.status_code == 415
    big = b'{"call_id": "' + b"x" * 2_100_000 + b'"}'
    headers = {"Content-Type": "application/json", "X-Signature": sign(big)}
    assert httpx.post(crm.base + HOOK, content=big, headers=headers).status_code == 413
    assert httpx.post(crm.base + "/hooks/nothing", json={}).status_code == 404
    assert httpx.get(crm.base + HOOK).status_code == 405


def test_an_api_key_hook_writes_as_the_keys_service_user(crm: Crm) -> None:
    with crm.client(crm.token("manager")) as client:
        made = client.post("/api/api_keys", json={"name": "Website widget", "role": "sales"})
        support = client.post("/api/api_keys", json={"name": "Support", "role": "support"})
    assert made.status_code == 201 and support.status_code == 201
    key, user_id = made.json()["key"], made.json()["user_id"]
    name = f"Callback {uuid.uuid4().hex[:6]}"
    event = {"request_id": uuid.uuid4().hex, "name": name, "phone": "8 903 111-22-44"}
    assert httpx.post(crm.base + CALLBACKS, json=event).status_code == 401
    wrong_role = {"X-API-Key": support.json()["key"]}
    assert httpx.post(crm.base + CALLBACKS, json=event, headers=wrong_role).status_code == 403
    for _ in range(2):
        answer = httpx.post(
            crm.base + CALLBACKS, json=event, headers={"Authorization": f"Bearer {key}"}
        )
        assert answer.status_code == 200, answer.text
    assert answer.json() == {"ok": True, "duplicate": True}
    leads = crm.sql("SELECT owner_id, phone FROM leads WHERE name = :name", name=name)
    assert [tuple(row) for row in leads] == [(user_id, "+79031112244")]
    # another request from the same number, written otherwise: noted on the open lead
    later = {"request_id": uuid.uuid4().hex, "name": name, "phone": "+7 903 111 22 44"}
    noted = httpx.post(crm.base + CALLBACKS, json=later, headers={"X-API-Key": key})
    assert noted.status_code == 200 and noted.json()["duplicate"] is False, noted.text
    notes = crm.sql("SELECT notes FROM leads WHERE name = :name", name=name)
    assert len(notes) == 1 and "Callback requested again" in notes[0][0]
    audit = crm.sql(
        "SELECT a.user_id FROM crm_audit_log a JOIN leads l ON a.record_id = l.id "
        "WHERE a.entity = 'Lead' AND a.action = 'create' AND l.name = :name",
        name=name,
    )
    assert [row[0] for row in audit] == [user_id]
