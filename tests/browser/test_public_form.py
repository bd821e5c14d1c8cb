"""The public "contact us" form (issue 15 item 1) embedded in an iframe, in real Chromium.

A page of another loopback origin (``http://127.0.0.2:<port>``, served here) frames
``/f/contact_us?utm_source=...`` of the reference CRM; the visitor fills it, ticks the consent
box and sends it; the success message shows inside the frame and the lead is stored with its
UTM tag. The app is the generated reference CRM with that origin added to the form's
``origins`` in its ``ui.json`` (the build artefact the runtime reads), so the frame is allowed
by the page's own ``frame-ancestors``. Screenshot: ``public-form.png``.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.browser.test_browser import page, shots  # noqa: F401
from tests.e2e.conftest import Server, fresh_database, prepare, uvicorn_server
from tests.security.crm import free_port

SITE_HOST = "127.0.0.2"  # another origin on the loopback interface


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A static web server of "the company's website" at another origin: (origin, folder)."""
    folder = tmp_path_factory.mktemp("website")
    port = free_port()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer((SITE_HOST, port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{SITE_HOST}:{port}", folder
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def embedded(
    crm_out: Path,
    site: tuple[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    """The reference CRM whose contact form also allows the website's origin."""
    import json

    origin, _ = site
    out = tmp_path_factory.mktemp("embedded") / "app"
    shutil.copytree(crm_out, out)
    ui = out / "reference_crm" / "ui.json"
    data = json.loads(ui.read_text(encoding="utf-8"))
    data["forms"]["contact_us"]["origins"].append(origin)
    ui.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    folder = tmp_path_factory.mktemp("embedded_run")
    with fresh_database("sqlite", folder) as url:
        users = prepare(out, url, folder)
        with uvicorn_server(out, url, folder) as base:
            yield Server(base, url, users)


def test_the_form_in_an_iframe_on_another_site(
    page: Any,  # noqa: F811
    embedded: Server,
    site: tuple[str, Path],
    shots: Path,  # noqa: F811
) -> None:
    origin, folder = site
    name = f"Iframe visitor {uuid.uuid4().hex[:6]}"
    src = f"{embedded.base}/f/contact_us?utm_source=browser&utm_campaign=iframe"
    (folder / "index.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>ACME</title></head>"
        "<body style='font-family: sans-serif; background: #f4f4f5'>"
        "<h1>ACME Ltd</h1><p>Questions? Write to us:</p>"
        f"<iframe id='contact' src='{src}' width='520' height='760' "
        "style='border: 1px solid #ccc; background: white'></iframe></body></html>",
        encoding="utf-8",
    )
    page.context.set_extra_http_headers({"Accept-Language": "en"})
    page.goto(f"{origin}/index.html")
    frame = page.frame_locator("#contact")
    frame.locator("#f_name").fill(name)
    frame.locator("#f_email").fill("iframe.visitor@example.org")
    frame.locator("#f_notes").fill("Please call me back about prices.")
    frame.locator("#f_consent").check()
    frame.locator("button[type=submit]").click()
    success = frame.locator("#form-success")
    success.wait_for()
    assert "Thank you!" in success.inner_text()
    page.screenshot(path=str(shots / "public-form.png"), full_page=True)

    engine = sa.create_engine(embedded.url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT utm_source, utm_campaign, status FROM leads WHERE name = :n"),
                {"n": name},
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [("browser", "iframe", "new")]
