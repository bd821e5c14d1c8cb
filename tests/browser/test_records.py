"""The detail page and the forms in real headless Chromium against a real uvicorn process:
an edit saved through the form, the searchable picker, related lists, the activity timeline,
a manual process's button, and a GDPR erasure (the export and erase buttons, the reason and
the confirmation)."""
# ruff: noqa: F811  (the tests take fixtures imported from test_pages / test_browser)

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.pipeline import deal_in
from tests.browser.test_browser import PHONE, page, shots, sign_in  # noqa: F401  (fixtures)
from tests.e2e.conftest import Server


def created(live: Server, name: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    with live.client(live.token(name)) as client:
        response = client.post(f"/api/{path}", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def stored(live: Server, name: str, path: str) -> dict[str, Any]:
    with live.client(live.token(name)) as client:
        response = client.get(f"/api/{path}")
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def acme(live: Server) -> dict[str, Any]:
    """Two companies, a contact of the first and a call with it (all the admin's)."""
    company = created(live, "admin", "companies", {"name": "Acme Rockets"})
    created(live, "admin", "companies", {"name": "Globex Corporation"})
    contact = created(
        live, "admin", "contacts", {"full_name": "Wile Coyote", "company": company["id"]}
    )
    call = created(
        live,
        "admin",
        "interactions",
        {"gist": "Asked about skates", "summary": "Two pairs", "contact": contact["id"]},
    )
    return {"company": company, "contact": contact, "call": call}


def test_a_seller_sees_their_deals_milestones_and_calls(
    page: Any, live: Server, shots: Path
) -> None:
    """A seller does not read the audit log, yet their deal's timeline is not empty: its
    creation, its stage change and their call, with no field-level detail."""
    deal = created(live, "seller1", "deals", {"name": "Rocket sled", "amount": "90.00"})
    with live.client(live.token("seller1")) as client:
        moved = client.patch(
            f"/api/deals/{deal['id']}", json={"stage": "proposal", "version": deal["version"]}
        )
    assert moved.status_code == 200, moved.text
    created(live, "seller1", "interactions", {"gist": "Sled demo call", "deal": deal["id"]})
    sign_in(page, live, "seller1")
    page.goto(f"{live.base}/deals/{deal['id']}")
    timeline = page.locator("aside.timeline")
    assert timeline.locator("li.entry.activity", has_text="Sled demo call").is_visible()
    stage = timeline.locator("li.entry.milestone", has_text="Proposal")
    assert stage.is_visible() and live.users["seller1"] in stage.inner_text()
    assert timeline.locator("li.entry.milestone").count() == 2  # created, moved
    assert timeline.locator("li.entry.audit").count() == 0
    page.screenshot(path=str(shots / "detail-seller-timeline.png"), full_page=True)


def test_edit_a_contact_and_pick_a_company_by_typing(
    page: Any,
    live: Server,
    acme: dict[str, Any],
    shots: Path,
) -> None:
    sign_in(page, live, "admin")
    contact_id = acme["contact"]["id"]
    page.goto(f"{live.base}/contacts/{contact_id}/edit")
    assert page.input_value("#f_company_search") == "Acme Rockets"  # the picker shows the name
    assert not page.locator("#f_company").is_visible()  # the plain select stays, hidden
    page.fill("#f_full_name", "Wile E. Coyote")
    page.fill("#f_company_search", "glob")
    option = page.locator("#f_company_options [role=option]", has_text="Globex Corporation")
    option.wait_for()
    page.screenshot(path=str(shots / "form-picker-desktop.png"))
    option.click()
    assert page.input_value("#f_company_search") == "Globex Corporation"
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live.base}/contacts/{contact_id}")
    assert page.locator("h1").inner_text() == "Wile E. Coyote"
    assert "Globex Corporation" in page.locator(".details").inner_text()
    saved = stored(live, "admin", f"contacts/{contact_id}")
    assert saved["full_name"] == "Wile E. Coyote"
    assert saved["company"]["display"] == "Globex Corporation"


def test_the_detail_page_shows_related_lists_and_the_timeline(
    browser: Any,
    page: Any,
    live: Server,
    acme: dict[str, Any],
    shots: Path,
) -> None:
    company_id = acme["company"]["id"]
    sign_in(page, live, "admin")
    page.goto(f"{live.base}/companies/{company_id}")
    related = page.locator("section.related", has_text="Contacts")
    new_link = related.locator(f'a[href="/contacts/new?company={company_id}"]')
    assert new_link.is_visible()
    page.goto(f"{live.base}/contacts/{acme['contact']['id']}")
    timeline = page.locator("aside.timeline")
    call = timeline.locator("li.entry.activity", has_text="Asked about skates")
    assert call.is_visible() and "Two pairs" in call.inner_text()
    assert timeline.locator("li.entry.audit").count() >= 1  # the contact's creation at least
    assert live.users["admin"] in timeline.locator("li.entry.audit").last.inner_text()
    interactions = page.locator("section.related", has_text="Asked about skates")
    assert interactions.locator("a", has_text="Asked about skates").is_visible()
    page.screenshot(path=str(shots / "detail-desktop.png"), full_page=True)
    # From the company's related list, a new contact starts with the company chosen.
    page.goto(f"{live.base}/contacts/new?company={company_id}")
    assert page.input_value("#f_company_search") == "Acme Rockets"
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    try:
        phone = context.new_page()
        sign_in(phone, live, "admin")
        phone.goto(f"{live.base}/contacts/{acme['contact']['id']}")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"the page scrolls sideways ({width}px)"
        assert phone.locator("aside.timeline").is_visible()
        phone.screenshot(path=str(shots / "detail-phone.png"), full_page=True)
        phone.goto(f"{live.base}/companies/new")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"the form scrolls sideways ({width}px)"
        assert phone.locator("fieldset legend").count() == 3  # the spec's form sections
        phone.screenshot(path=str(shots / "form-phone.png"), full_page=True)
    finally:
        context.close()


def test_a_manual_action_button_runs_and_its_effect_shows(
    page: Any,
    live: Server,
    shots: Path,
) -> None:
    deal = created(live, "seller1", "deals", {"name": "Anvil supply", "amount": "99.00"})
    sign_in(page, live, "seller1")
    page.goto(f"{live.base}/deals/{deal['id']}")
    page.click("button[data-action=mark_deal_lost]")
    page.wait_for_url(f"{live.base}/deals/{deal['id']}?done=mark_deal_lost")
    assert page.locator(".alert.notice").is_visible()
    assert "Find out why we lost Anvil supply" in page.locator("section.related").first.inner_text()
    assert stored(live, "seller1", f"deals/{deal['id']}")["stage"] == "lost"
    page.screenshot(path=str(shots / "detail-action-desktop.png"), full_page=True)
    # The process refuses a won deal: the page says why and nothing changes.
    won = deal_in(live, "seller1", "won", name="Done deal", amount="99.00")
    page.goto(f"{live.base}/deals/{won['id']}")
    page.click("button[data-action=mark_deal_lost]")
    page.wait_for_load_state()
    assert "A won deal cannot be marked lost" in page.locator(".alert.error").inner_text()
    assert stored(live, "seller1", f"deals/{won['id']}")["stage"] == "won"


def names(chips: Any) -> list[str]:
    """The names on the picker's chips (without their remove buttons)."""
    return [str(text) for text in chips.locator("span").all_inner_texts()]


def test_choose_group_members_by_typing_and_remove_them_as_chips(
    page: Any,
    live: Server,
    shots: Path,
) -> None:
    people = {
        name: created(live, "admin", "contacts", {"full_name": name})["id"]
        for name in ("Marvin Martian", "Daffy Duck", "Porky Pig")
    }
    sign_in(page, live, "admin")
    page.goto(f"{live.base}/client_groups/new")
    assert not page.locator("#f_members").is_visible()  # the plain multi-select stays, hidden
    assert page.locator("#f_members_hint").is_hidden()  # "hold Ctrl" is for the plain select
    page.fill("#f_name", "Looney club")
    search = page.locator("#f_members_search")
    options = page.locator("#f_members_options [role=option]")
    # By mouse: type, then click the suggestion.
    search.fill("marvin")
    options.filter(has_text="Marvin Martian").click()
    chips = page.locator(".picker-chip")
    assert page.get_by_role("button", name="Remove Marvin Martian").is_visible()
    # By keyboard: type, wait for the only suggestion, Enter.
    for typed, name in (("daffy", "Daffy Duck"), ("porky p", "Porky Pig")):
        search.fill(typed)
        options.filter(has_text=name).wait_for()
        assert options.count() == 1
        search.press("Enter")
        assert search.input_value() == ""
    assert names(chips) == ["Marvin Martian", "Daffy Duck", "Porky Pig"]  # in the order chosen
    page.screenshot(path=str(shots / "form-members-desktop.png"))
    # Offered once: a chosen record is not suggested again.
    search.fill("daffy")
    page.locator("#f_members_options .picker-empty").wait_for()
    search.fill("")
    search.press("Backspace")  # the empty box: the last chip goes
    assert names(chips) == ["Marvin Martian", "Daffy Duck"]
    page.get_by_role("button", name="Remove Marvin Martian").click()
    assert names(chips) == ["Daffy Duck"]
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live.base}/client_groups/*")
    group_id = page.url.rsplit("/", 1)[1]
    assert stored(live, "admin", f"client_groups/{group_id}")["members"] == [people["Daffy Duck"]]
    # Editing shows the saved member as a chip, ready to be removed.
    page.goto(f"{live.base}/client_groups/{group_id}/edit")
    assert page.get_by_role("button", name="Remove Daffy Duck").is_visible()


def test_the_workflow_buttons_move_a_deal_or_say_why_not(page: Any, live: Server) -> None:
    """The detail page offers the pipeline's next stages as buttons: a seller moves a deal on;
    the admin's win of a deal worth nothing is refused on the page with the reason."""
    deal = created(live, "seller1", "deals", {"name": "Buttons deal", "amount": "500.00"})
    sign_in(page, live, "seller1")
    page.goto(f"{live.base}/deals/{deal['id']}")
    moves = page.locator(".transitions button")
    assert moves.evaluate_all("all => all.map(b => b.value)") == [
        "qualification",
        "proposal",
        "lost",
    ]
    page.click("button[data-transition=proposal]")
    page.wait_for_url(f"{live.base}/deals/{deal['id']}?moved=proposal")
    assert "Proposal" in page.locator(".alert.notice").inner_text()
    assert stored(live, "seller1", f"deals/{deal['id']}")["stage"] == "proposal"
    assert moves.evaluate_all("all => all.map(b => b.value)") == [
        "qualification",
        "negotiation",
        "lost",
    ]  # won: managers only
    free = deal_in(live, "seller1", "proposal", name="Free deal")  # amount 0
    page.context.clear_cookies()  # signed out
    sign_in(page, live, "admin")
    page.goto(f"{live.base}/deals/{free['id']}")
    page.click("button[data-transition=won]")
    page.wait_for_load_state()
    problem = page.locator(".alert.error").inner_text()
    assert "does not meet the conditions of won" in problem, problem
    assert page.locator("h1").inner_text() == "Free deal"  # the detail page, not an error page
    assert stored(live, "admin", f"deals/{free['id']}")["stage"] == "proposal"


def test_erase_a_contact_from_its_page(page: Any, live: Server, shots: Path) -> None:
    contact = created(
        live,
        "seller1",
        "contacts",
        {"full_name": "Gerda Forgetme", "email": "gerda@forget.example"},
    )
    url = f"{live.base}/contacts/{contact['id']}"
    sign_in(page, live, "seller1")
    page.goto(f"{live.base}/locale?set=en")
    page.goto(url)
    assert page.locator("a[data-action=erase-personal-data]").count() == 0
    page.context.clear_cookies()

    sign_in(page, live, "admin")
    page.goto(f"{live.base}/locale?set=en")
    page.goto(url)
    export = page.locator("a[data-action=export-personal-data]")
    assert export.inner_text() == "Export personal data"
    with page.expect_download() as download:
        export.click()
    assert download.value.suggested_filename == f"contacts-{contact['id']}-personal-data.zip"

    page.click("a[data-action=erase-personal-data]")
    assert page.url.endswith(f"/contacts/{contact['id']}/erase")
    page.fill("#f_reason", "Asked by e-mail on 3 May")
    page.check("input[name=confirm]")
    page.screenshot(path=str(shots / "gdpr-erase.png"), full_page=True)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.click("button[data-action=erase]")
    page.wait_for_load_state()
    assert dialogs == ["I understand that this erases the person's data for good."]
    assert page.url.endswith(f"/contacts/{contact['id']}?gdpr=erased")
    assert page.locator("p.alert.notice").inner_text() == "The personal data was erased."
    assert page.locator("h1").inner_text().startswith("erased-")
    assert "Gerda" not in page.content()
