"""The detail page and the forms of the generated web UI, in process (examples/crm on SQLite):
form sections, pickers and their no-script fallback, lists of references, JSON fields, related
lists, the activity timeline and the buttons of manual processes."""
# ruff: noqa: F811  (the tests take fixtures imported from test_pages / test_browser)

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from tests.ui.test_pages import PASSWORD, UI, csrf, fresh, ui  # noqa: F401  (the module fixture)

ADMIN = "admin@example.com"
MANAGER = "boss@records.example"
SELLER = "seller@records.example"
OTHER = "other@records.example"
SUPPORT = "support@records.example"


def api(ui: UI, email: str) -> dict[str, str]:
    """Bearer headers of ``email`` for the JSON API."""
    response = ui.client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def post(ui: UI, email: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = ui.client.post(f"/api/{path}", json=body, headers=api(ui, email))
    assert response.status_code == 201, response.text
    return dict(response.json())


def user_id(ui: UI, email: str) -> int:
    me = ui.client.get("/api/auth/me", headers=api(ui, email))
    return int(me.json()["id"])


def signed_in(ui: UI, email: str) -> UI:
    fresh(ui)
    ui.login(email)
    return ui


def field_block(text: str, name: str) -> str:
    """The ``<div class="field">`` of the input named ``name``."""
    for block in re.findall(r'<div class="field[^"]*">(.*?)\n</div>', text, re.DOTALL):
        if f'name="{name}"' in block:
            return str(block)
    raise AssertionError(f"no field {name!r} in the page")


@pytest.fixture(scope="module")
def people(ui: UI) -> dict[str, int]:
    ui.user(MANAGER, "manager")
    ui.user(SELLER, "sales")
    ui.user(OTHER, "sales")
    ui.user(SUPPORT, "support")
    return {email: user_id(ui, email) for email in (ADMIN, MANAGER, SELLER, OTHER, SUPPORT)}


@pytest.fixture(scope="module")
def acme(ui: UI, people: dict[str, int]) -> dict[str, Any]:
    """A company of the seller with a contact, a deal and calls of two sellers."""
    company = post(ui, SELLER, "companies", {"name": "Acme Rockets"})
    contact = post(ui, SELLER, "contacts", {"full_name": "Wile Coyote", "company": company["id"]})
    deal = post(
        ui,
        SELLER,
        "deals",
        {"name": "Rocket skates", "amount": "1200.00", "company": company["id"]},
    )
    mine = post(
        ui,
        SELLER,
        "interactions",
        {"gist": "Call about skates", "summary": "Wants two pairs", "contact": contact["id"]},
    )
    theirs = post(
        ui,
        ADMIN,
        "interactions",
        {"gist": "Secret call", "contact": contact["id"], "owner": people[OTHER]},
    )
    return {"company": company, "contact": contact, "deal": deal, "mine": mine, "theirs": theirs}


# --- forms ---------------------------------------------------------------------------------


def test_form_sections_are_fieldsets_with_widgets_per_type(ui: UI, people: Any) -> None:
    page = signed_in(ui, ADMIN).client.get("/companies/new")
    assert page.status_code == 200
    legends = re.findall(r"<legend>(.*?)</legend>", page.text)
    assert legends == ["Main", "Contacts", "Figures"]
    main = page.text.split("<legend>Main</legend>")[1].split("</fieldset>")[0]
    assert 'name="name"' in main and 'name="industry"' in main and 'name="website"' not in main
    assert 'class="req"' in field_block(page.text, "name")  # required marker
    money = field_block(page.text, "annual_revenue")
    assert 'step="0.01"' in money and 'min="0"' in money and "RUB" in money
    assert 'step="1"' in field_block(page.text, "employees")
    assert "<textarea" in field_block(page.text, "extra")  # JSON
    assert '<script src="/static/picker.js" defer>' in page.text
    assert ui.client.get("/static/picker.js").status_code == 200
    assert ui.client.get("/static/records.css").status_code == 200


def test_a_reference_is_a_plain_select_the_picker_enhances(ui: UI, acme: Any) -> None:
    company = acme["company"]
    page = signed_in(ui, ADMIN).client.get(f"/contacts/new?company={company['id']}&bogus=1")
    block = field_block(page.text, "company")
    # Without JavaScript: a select of the companies, the one from the query string chosen.
    assert '<select id="f_company" name="company" data-picker="/api/companies"' in block
    assert 'data-display="name"' in block and 'data-search="1"' in block
    assert f'<option value="{company["id"]}" selected>Acme Rockets</option>' in block
    assert "<option" in field_block(page.text, "owner")  # users: a select too
    for bad in ("abc", "9" * 30, "-1"):  # a bad initial value is no error
        assert ui.client.get(f"/contacts/new?company={bad}").status_code == 200
    photo = field_block(page.text, "photo")  # an image field uploads with the form
    assert 'name="photo__upload" type="file" accept="image/png,image/jpeg"' in photo
    assert 'enctype="multipart/form-data"' in page.text


def test_contact_edit_through_the_form_is_saved(
    ui: UI,
    acme: Any,
    people: dict[str, int],
) -> None:
    url = f"/contacts/{acme['contact']['id']}"
    signed_in(ui, SELLER)
    edit = ui.client.get(url + "/edit")
    assert 'value="Wile Coyote"' in edit.text
    version = re.search(r'name="version" value="(\d+)"', edit.text)
    assert version
    saved = ui.client.post(
        url + "/edit",
        data={
            "csrf_token": csrf(edit.text),
            "version": version.group(1),
            "full_name": "Wile E. Coyote",
            "company": str(acme["company"]["id"]),
            "owner": str(people[SELLER]),
            "discount": "7.50",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    detail = ui.client.get(url)
    assert "<h1>Wile E. Coyote</h1>" in detail.text
    assert re.search(r"<dt>Discount \(%\)</dt>\s*<dd>\s*7[.,]5\s*</dd>", detail.text)
    assert f'href="/companies/{acme["company"]["id"]}">Acme Rockets</a>' in detail.text


def test_many_to_many_is_a_multi_select_and_is_saved(
    ui: UI,
    acme: Any,
    people: dict[str, int],
) -> None:
    other = post(ui, ADMIN, "contacts", {"full_name": "Road Runner"})
    signed_in(ui, ADMIN)
    form = ui.client.get("/client_groups/new")
    block = field_block(form.text, "members")
    # Without JavaScript a plain multi-select; picker.js reads what it searches from it.
    assert '<select id="f_members" name="members" multiple' in block
    assert 'data-picker="/api/contacts" data-display="full_name" data-search="1"' in block
    assert 'data-remove="Remove {item}"' in block
    assert f'<option value="{other["id"]}">Road Runner</option>' in block
    assert '<small class="help" id="f_members_hint">' in block  # hidden by the script
    created = ui.client.post(
        "/client_groups/new",
        content=(
            f"csrf_token={csrf(form.text)}&name=Desert+club"
            f"&members={acme['contact']['id']}&members={other['id']}"
        ),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    url = created.headers["location"]
    stored = ui.client.get("/api" + url, headers=api(ui, ADMIN)).json()
    assert sorted(stored["members"]) == sorted([acme["contact"]["id"], other["id"]])
    detail = ui.client.get(url)
    assert f'<a href="/contacts/{other["id"]}">Road Runner</a>' in detail.text
    edit = ui.client.get(url + "/edit")
    assert f'<option value="{other["id"]}" selected>' in edit.text
    version = re.search(r'name="version" value="(\d+)"', edit.text)
    assert version
    ui.client.post(
        url + "/edit",
        data={
            "csrf_token": csrf(edit.text),
            "version": version.group(1),
            "name": "Desert club",
            "owner": str(people[ADMIN]),
            "members": str(other["id"]),
        },
    )
    stored = ui.client.get("/api" + url, headers=api(ui, ADMIN)).json()
    assert stored["members"] == [other["id"]]


def test_bad_json_is_an_error_next_to_the_field_and_good_json_is_saved(
    ui: UI,
    people: Any,
) -> None:
    signed_in(ui, ADMIN)
    form = ui.client.get("/companies/new")
    response = ui.client.post(
        "/companies/new",
        data={"csrf_token": csrf(form.text), "name": "Json Inc", "extra": '{"size": 3'},
    )
    assert response.status_code == 422
    block = field_block(response.text, "extra")
    assert 'id="f_extra_error"' in block and "Not valid JSON" in block
    assert html.escape('{"size": 3', quote=True) in block or "{&#34;size&#34;: 3" in block
    assert 'value="Json Inc"' in response.text  # the rest of the input is kept
    created = ui.client.post(
        "/companies/new",
        data={"csrf_token": csrf(form.text), "name": "Json Inc", "extra": '{"size": 3}'},
        follow_redirects=False,
    )
    assert created.status_code == 303
    url = created.headers["location"]
    assert ui.client.get("/api" + url, headers=api(ui, ADMIN)).json()["extra"] == {"size": 3}
    assert '<pre class="json">' in ui.client.get(url).text


def test_a_datetime_is_typed_in_the_apps_time_zone(ui: UI, acme: Any) -> None:
    signed_in(ui, SELLER)
    form = ui.client.get(f"/interactions/new?contact={acme['contact']['id']}")
    assert 'type="datetime-local"' in field_block(form.text, "happened_at")
    created = ui.client.post(
        "/interactions/new",
        data={
            "csrf_token": csrf(form.text),
            "kind": "meeting",
            "gist": "Lunch",
            "happened_at": "2024-05-01T10:00",
            "contact": str(acme["contact"]["id"]),
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    stored = ui.client.get("/api" + created.headers["location"], headers=api(ui, SELLER))
    assert stored.json()["happened_at"].startswith("2024-05-01T07:00")  # Moscow is UTC+3


# --- the detail page -----------------------------------------------------------------------


def test_related_lists_link_to_the_filtered_list_and_a_prefilled_form(
    ui: UI,
    acme: Any,
) -> None:
    company_id = acme["company"]["id"]
    page = signed_in(ui, SELLER).client.get(f"/companies/{company_id}")
    assert page.status_code == 200
    assert f'href="/contacts/?company={company_id}"' in page.text
    assert f'href="/contacts/new?company={company_id}"' in page.text
    assert f'href="/deals/?company={company_id}"' in page.text
    assert f'<a href="/contacts/{acme["contact"]["id"]}">' in page.text
    assert f'<a href="/deals/{acme["deal"]["id"]}">Rocket skates</a>' in page.text


def test_timeline_merges_interactions_and_audit_entries(ui: UI, acme: Any) -> None:
    url = f"/contacts/{acme['contact']['id']}"
    page = signed_in(ui, MANAGER).client.get(url)
    timeline = page.text.split('class="timeline"')[1]
    assert "Call about skates" in timeline and "Wants two pairs" in timeline
    assert "Secret call" in timeline  # the manager reads every interaction
    assert "Created" in timeline and SELLER in timeline  # the audit entry and who made it
    assert "Acme Rockets" in timeline  # a linked record by its name, not its id
    assert f'href="/interactions/{acme["mine"]["id"]}"' in timeline
    # newest first: the second call, the first call, then the contact's creation
    assert timeline.index("Secret call") < timeline.index("Call about skates")
    assert timeline.index("Call about skates") < timeline.index("Created")


def test_timeline_hides_what_the_user_may_not_read(ui: UI, acme: Any) -> None:
    page = signed_in(ui, SELLER).client.get(f"/contacts/{acme['contact']['id']}")
    timeline = page.text.split('class="timeline"')[1]
    assert "Call about skates" in timeline
    assert "Secret call" not in timeline  # another seller's call
    # sellers do not read the audit log: the contact's creation, not its field-level detail
    assert 'class="entry milestone"' in timeline and "entry audit" not in timeline
    assert "Acme Rockets" not in timeline  # the company set at creation is no milestone


def test_a_seller_sees_the_creation_stages_and_calls_of_their_deal(ui: UI, people: Any) -> None:
    """Sellers do not read the audit log: their deal's timeline shows its creation, its stage
    changes (the kanban's field) and the calls they may read, not its other changes."""
    deal = post(ui, SELLER, "deals", {"name": "Jet boots", "amount": "300.00"})
    url = f"/deals/{deal['id']}"
    page = signed_in(ui, SELLER).client.get(url)
    assert "Created" in page.text.split('class="timeline"')[1]
    headers = api(ui, SELLER)
    for change in ({"stage": "proposal"}, {"stage": "negotiation"}, {"amount": "350.00"}):
        version = ui.client.get(f"/api{url}", headers=headers).json()["version"]
        patched = ui.client.patch(
            f"/api{url}", json={**change, "version": version}, headers=headers
        )
        assert patched.status_code == 200, patched.text
    post(ui, SELLER, "interactions", {"gist": "Call about boots", "deal": deal["id"]})
    timeline = signed_in(ui, SELLER).client.get(url).text.split('class="timeline"')[1]
    assert "Nothing has happened yet" not in timeline and "entry audit" not in timeline
    assert timeline.count('class="entry milestone"') == 3  # created, proposal, negotiation
    assert "<del>Proposal</del> → <ins>Negotiation</ins>" in timeline and SELLER in timeline
    assert "Amount" not in timeline  # the amount is no milestone
    assert "Call about boots" in timeline
    timeline = signed_in(ui, MANAGER).client.get(url).text.split('class="timeline"')[1]
    assert timeline.count('class="entry audit"') == 4 and "Amount" in timeline
    timeline = signed_in(ui, OTHER).client.get(url).text  # another seller: not their deal
    assert "Call about boots" not in timeline


def test_an_action_button_runs_the_process(ui: UI, people: Any) -> None:
    deal = post(ui, SELLER, "deals", {"name": "Anvil", "amount": "10.00"})
    url = f"/deals/{deal['id']}"
    page = signed_in(ui, SELLER).client.get(url)
    assert f'action="{url}/actions/mark_deal_lost"' in page.text and "Mark lost" in page.text
    done = ui.client.post(
        url + "/actions/mark_deal_lost",
        data={"csrf_token": csrf(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"{url}?done=mark_deal_lost"
    shown = ui.client.get(done.headers["location"])
    assert "Done: Mark lost." in shown.text
    stored = ui.client.get(f"/api{url}", headers=api(ui, SELLER)).json()
    assert stored["stage"] == "lost"
    tasks = ui.client.get(f"/api/tasks?deal={deal['id']}", headers=api(ui, SELLER)).json()
    assert [t["title"] for t in tasks["items"]] == ["Find out why we lost Anvil"]


def test_an_action_refused_by_the_process_shows_its_message(ui: UI, people: Any) -> None:
    deal = post(ui, ADMIN, "deals", {"name": "Won already", "amount": "10.00"})
    url = f"/deals/{deal['id']}"
    for stage in ("proposal", "won"):  # the pipeline's way to won (the admin: every role)
        moved = ui.client.patch(f"/api{url}", json={"stage": stage}, headers=api(ui, ADMIN))
        assert moved.status_code == 200, moved.text
    page = signed_in(ui, ADMIN).client.get(url)
    refused = ui.client.post(url + "/actions/mark_deal_lost", data={"csrf_token": csrf(page.text)})
    assert refused.status_code == 409
    assert "A won deal cannot be marked lost" in refused.text
    assert ui.client.get(f"/api{url}", headers=api(ui, ADMIN)).json()["stage"] == "won"


def test_an_action_without_csrf_is_403(ui: UI, people: Any) -> None:
    deal = post(ui, SELLER, "deals", {"name": "Forged"})
    url = f"/deals/{deal['id']}"
    signed_in(ui, SELLER).client.get(url)
    for data in ({}, {"csrf_token": "forged"}):
        response = ui.client.post(url + "/actions/mark_deal_lost", data=data)
        assert response.status_code == 403
    stored = ui.client.get(f"/api{url}", headers=api(ui, SELLER)).json()
    assert stored["stage"] != "lost"


def test_an_action_by_a_role_not_allowed_is_403(ui: UI, people: Any) -> None:
    deal = post(ui, ADMIN, "deals", {"name": "Support reads it"})
    url = f"/deals/{deal['id']}"
    page = signed_in(ui, SUPPORT).client.get(url)
    assert page.status_code == 200
    assert "/actions/mark_deal_lost" not in page.text  # no button for support
    response = ui.client.post(url + "/actions/mark_deal_lost", data={"csrf_token": csrf(page.text)})
    assert response.status_code == 403
    assert ui.client.get(f"/api{url}", headers=api(ui, ADMIN)).json()["stage"] != "lost"


def test_an_action_on_another_sellers_record_or_unknown_is_404(ui: UI, people: Any) -> None:
    deal = post(ui, OTHER, "deals", {"name": "Not yours"})
    page = signed_in(ui, SELLER).client.get("/deals/")
    token = csrf(page.text)
    response = ui.client.post(
        f"/deals/{deal['id']}/actions/mark_deal_lost", data={"csrf_token": token}
    )
    assert response.status_code == 404
    response = ui.client.post(f"/deals/{deal['id']}/actions/nope", data={"csrf_token": token})
    assert response.status_code == 404
