"""Files in real headless Chromium: a seller uploads a contact's photo on its edit page and sees
its preview on the detail page, is told when a program is passed off as a photo, and attaches
files to a deal (screenshot ``attachments.png``)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from tests.browser.test_browser import page, shots, sign_in  # noqa: F401
from tests.e2e.conftest import Server

LOADED = "img => img.complete && img.naturalWidth > 0"


def _wait_loaded(page: Any, selector: str) -> None:  # noqa: F811
    """Wait until the (lazily loaded) image has arrived and decoded; asserting right after the
    element appears raced the thumbnail's request on a busy machine."""
    image = page.locator(selector).first
    image.scroll_into_view_if_needed()
    page.wait_for_function(
        "sel => { const img = document.querySelector(sel);"
        " return !!img && img.complete && img.naturalWidth > 0; }",
        arg=selector,
        timeout=15_000,
    )
    assert image.evaluate(LOADED)


def _png(path: Path, colour: tuple[int, int, int]) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 360), colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse((140, 60, 340, 260), fill=(255, 224, 189))
    draw.rectangle((120, 260, 360, 360), fill=(40, 60, 120))
    out = io.BytesIO()
    image.save(out, "PNG")
    path.write_bytes(out.getvalue())
    return path


def _post(live: Server, token: str, path: str, **values: Any) -> dict[str, Any]:
    with live.client(token) as client:
        response = client.post(f"/api/{path}", json=values)
        assert response.status_code == 201, response.text
        return dict(response.json())


def test_upload_and_preview_an_image_and_attach_files(
    page: Any,  # noqa: F811
    live: Server,
    shots: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    token = live.token("seller1")
    contact = _post(live, token, "contacts", full_name="Grace Hopper")
    deal = _post(live, token, "deals", name="Browser files deal", contact=contact["id"])
    page.context.add_cookies([{"name": "locale", "value": "en", "url": live.base}])
    sign_in(page, live, "seller1")

    # a program renamed photo.png is refused on the form, with the reason
    fake = tmp_path / "photo.png"
    fake.write_bytes(b"MZ\x90\x00" + os.urandom(2000))
    page.goto(f"{live.base}/contacts/{contact['id']}/edit")
    page.set_input_files("#f_photo", str(fake))
    page.click("main form.form button[type=submit]")
    page.wait_for_load_state()
    error = page.locator("#f_photo_error")
    assert "application/x-msdownload" in error.inner_text(), page.content()

    # a real photo is stored, and its thumbnail shows on the detail page
    page.set_input_files("#f_photo", str(_png(tmp_path / "grace.png", (90, 140, 200))))
    page.click("main form.form button[type=submit]")
    page.wait_for_url(f"{live.base}/contacts/{contact['id']}")
    _wait_loaded(page, "dl.details img.thumb")

    # files attached to a deal: listed with a preview of the image, downloadable
    page.goto(f"{live.base}/deals/{deal['id']}")
    assert "No files yet." in page.content()
    page.set_input_files("#attach-file", str(_png(tmp_path / "site-plan.png", (30, 160, 90))))
    page.click("form.attach-form button[type=submit]")
    page.wait_for_url(f"{live.base}/deals/{deal['id']}")
    pdf = tmp_path / "offer.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + b"0" * 4000 + b"\n%%EOF\n")
    page.set_input_files("#attach-file", str(pdf))
    page.click("form.attach-form button[type=submit]")
    page.wait_for_url(f"{live.base}/deals/{deal['id']}")
    items = page.locator(".attachment-list li")
    assert items.count() == 2
    assert "site-plan.png" in items.nth(0).inner_text() and "offer.pdf" in items.nth(1).inner_text()
    _wait_loaded(page, ".attachment-list img.thumb")
    page.locator("section.attachments").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "attachments.png"), full_page=True)
    with page.expect_download() as download:
        page.click(".attachment-list a[download] >> text=offer.pdf")
    saved = tmp_path / "got.pdf"
    download.value.save_as(str(saved))
    assert saved.read_bytes() == pdf.read_bytes()

    # another seller cannot reach the deal's files
    other = live.token("seller2")
    with live.client(token) as client:
        [first, _] = client.get(f"/api/deals/{deal['id']}/attachments").json()["items"]
    with live.client(other) as client:
        assert client.get(first["url"]).status_code == 404
