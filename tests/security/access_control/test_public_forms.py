"""Public forms (issue 15 item 1): the reference CRM's "contact us" form at ``/f/contact_us``,
over HTTP on both databases, without signing in.

A post creates a lead with its UTM tags, owned round robin by the sellers, and never sets a
field the form does not declare; a filled honeypot pretends success and creates nothing; the
21st post in a minute from one address is refused; the page may be framed, and JSON posts
answered with CORS, only for the form's origins (every other page still refuses framing).
Each test posts from its own loopback address (``local_address``), so their limits are apart.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2 as httpx

from tests.security.crm import Crm

FORM = "/f/contact_us"
ALLOWED = "https://www.example.com"  # examples/crm/forms.yaml
OTHER = "https://evil.example"
SUCCESS = "Thank you! We will get back to you within one working day."


@contextmanager
def visitor(crm: Crm, address: str) -> Iterator[httpx.Client]:
    """A client without credentials, connecting from ``address`` (127/8 is all loopback)."""
    transport = httpx.HTTPTransport(local_address=address)
    headers = {"Accept-Language": "en"}
    with httpx.Client(base_url=crm.base, transport=transport, headers=headers, timeout=30) as c:
        yield c


def leads_named(crm: Crm, name: str) -> list[tuple[object, ...]]:
    return [
        tuple(row)
        for row in crm.sql(
            "SELECT status, source, owner_id, utm_source, utm_medium, utm_campaign, email "
            "FROM leads WHERE name = :name ORDER BY id",
            name=name,
        )
    ]


def sellers(crm: Crm) -> set[int]:
    rows = crm.sql("SELECT user_id FROM crm_user_roles WHERE role = 'sales'")
    return {int(r[0]) for r in rows}


def test_a_post_creates_a_lead_with_utm_tags_and_no_undeclared_field(crm: Crm) -> None:
    name = f"Visitor {uuid.uuid4().hex[:6]}"
    admin = crm.user_id("admin")
    with visitor(crm, "127.0.0.11") as web:
        page = web.get(
            FORM, params={"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring"}
        )
        assert page.status_code == 200, page.text
        assert 'name="utm_source" value="google"' in page.text
        assert 'name="homepage_url"' in page.text and "csrf_token" not in page.text
        assert "set-cookie" not in page.headers
        sent = web.post(
            FORM + "?utm_campaign=spring",
            data={
                "name": name,
                "email": "visitor@example.org",
                "notes": "Call me",
                "consent": "on",
                "utm_source": "google",
                "utm_medium": "cpc",
                # not the form's fields: ignored, never written
                "status": "converted",
                "source": "referral",
                "owner": str(admin),
            },
        )
    assert sent.status_code == 200, sent.text
    assert SUCCESS in sent.text
    [(status, source, owner, utm_source, utm_medium, utm_campaign, mail)] = leads_named(crm, name)
    assert (status, source) == ("new", "website")  # the entity's defaults
    assert owner in sellers(crm) and owner != admin
    assert (utm_source, utm_medium, utm_campaign) == ("google", "cpc", "spring")
    assert mail == "visitor@example.org"
    audit = crm.sql(
        "SELECT user_id FROM crm_audit_log WHERE entity = 'Lead' AND action = 'create' "
        "ORDER BY id DESC LIMIT 1"
    )
    assert audit[0][0] == owner  # created as its owner, as any create is


def test_a_json_post_may_not_name_undeclared_fields(crm: Crm) -> None:
    name = f"Json {uuid.uuid4().hex[:6]}"
    with visitor(crm, "127.0.0.12") as web:
        refused = web.post(FORM, json={"name": name, "consent": True, "status": "converted"})
        assert refused.status_code == 422, refused.text
        assert "status" in refused.json()["error"]["fields"]
        assert leads_named(crm, name) == []
        made = web.post(FORM, json={"name": name, "consent": True, "utm_source": "newsletter"})
    assert made.status_code == 200, made.text
    assert made.json() == {"ok": True, "message": SUCCESS}
    [row] = leads_named(crm, name)
    assert row[0] == "new" and row[3] == "newsletter"


def test_round_robin_gives_each_new_lead_to_the_next_seller(crm: Crm) -> None:
    owners = []
    with visitor(crm, "127.0.0.13") as web:
        for _ in range(2):
            name = f"Robin {uuid.uuid4().hex[:6]}"
            sent = web.post(FORM, json={"name": name, "consent": True})
            assert sent.status_code == 200, sent.text
            owners.append(leads_named(crm, name)[0][2])
    assert owners[0] != owners[1] and set(owners) <= sellers(crm)


def test_errors_are_shown_and_nothing_is_created(crm: Crm) -> None:
    name = f"Careless {uuid.uuid4().hex[:6]}"
    with visitor(crm, "127.0.0.14") as web:
        no_consent = web.post(FORM, data={"name": name})
        assert no_consent.status_code == 422
        assert "Please give your consent" in no_consent.text
        bad_mail = web.post(FORM, data={"name": name, "email": "nope", "consent": "on"})
        assert bad_mail.status_code == 422
        assert 'aria-invalid="true"' in bad_mail.text and f'value="{name}"' in bad_mail.text
        missing = web.post(FORM, json={"consent": True})
        assert missing.status_code == 422 and "name" in missing.json()["error"]["fields"]
        assert web.get("/f/nothing").status_code == 404
    assert leads_named(crm, name) == []


def test_a_filled_honeypot_pretends_success_and_creates_nothing(crm: Crm) -> None:
    name = f"Robot {uuid.uuid4().hex[:6]}"
    with visitor(crm, "127.0.0.15") as web:
        form = web.post(
            FORM, data={"name": name, "consent": "on", "homepage_url": "http://spam.example"}
        )
        assert form.status_code == 200 and SUCCESS in form.text
        as_json = web.post(FORM, json={"name": name, "consent": True, "homepage_url": "x"})
        assert as_json.status_code == 200 and as_json.json()["ok"] is True
    assert leads_named(crm, name) == []


def test_the_21st_post_in_a_minute_from_one_address_is_refused(crm: Crm) -> None:
    trap = {"name": "Robot", "homepage_url": "x"}  # counted like any post, creates nothing
    with visitor(crm, "127.0.0.16") as web:
        answers = [web.post(FORM, data=trap).status_code for _ in range(20)]
        assert answers == [200] * 20
        refused = web.post(FORM, json={"name": "One too many", "consent": True})
        assert refused.status_code == 429, refused.text
        assert web.post(FORM, data=trap).status_code == 429  # a page in the visitor's language
    with visitor(crm, "127.0.0.17") as other:  # another address has its own count
        assert other.post(FORM, data=trap).status_code == 200
    assert leads_named(crm, "One too many") == []


def test_framing_and_cors_only_for_the_forms_origins(crm: Crm) -> None:
    with visitor(crm, "127.0.0.18") as web:
        page = web.get(FORM)
        policy = page.headers["content-security-policy"]
        assert f"frame-ancestors 'self' {ALLOWED} https://example.com;" in policy
        assert "x-frame-options" not in page.headers
        login = web.get("/login")  # the app's other pages keep refusing framing
        assert "frame-ancestors 'none'" in login.headers["content-security-policy"]
        assert login.headers["x-frame-options"] == "DENY"

        preflight = {"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}
        allowed = web.options(FORM, headers=preflight)
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == ALLOWED
        assert "access-control-allow-credentials" not in allowed.headers
        other = web.options(FORM, headers={**preflight, "Origin": OTHER})
        assert other.status_code == 403 and "access-control-allow-origin" not in other.headers

        name = f"Cors {uuid.uuid4().hex[:6]}"
        sent = web.post(FORM, json={"name": name, "consent": True}, headers={"Origin": ALLOWED})
        assert sent.status_code == 200 and sent.headers["access-control-allow-origin"] == ALLOWED
        foreign = web.post(
            FORM, json={"name": name + " 2", "consent": True}, headers={"Origin": OTHER}
        )
        assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers
        form_post = web.post(
            FORM, data={"name": name + " 3", "consent": "on"}, headers={"Origin": OTHER}
        )
        assert form_post.status_code == 403
        same = web.post(
            FORM, data={"name": name + " 4", "consent": "on"}, headers={"Origin": crm.base}
        )
        assert same.status_code == 200  # the form's own page, framed or not
    assert [r[0] for r in leads_named(crm, name)] == ["new"]
    assert leads_named(crm, name + " 2") == leads_named(crm, name + " 3") == []
    assert len(leads_named(crm, name + " 4")) == 1
