"""Where people find the API's docs (issue 17 item 4), in process: the API keys page and the
account page link to ``/docs``, ``/redoc`` and ``/openapi.json`` in every UI language, and with
``API_DOCS=0`` (``Settings.api_docs``, its parsing in ``runtime/tests/test_rt_api_docs.py``)
the pages answer 404 and the links are gone. The pages themselves over HTTP and in Chromium:
``tests/browser/test_api_docs.py``."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest
from crmgen_runtime import assets

from tests.ui.test_pages import UI, fresh, ui  # noqa: F401

MESSAGES = json.loads((assets.WEB / "messages" / "api_docs.json").read_text(encoding="utf-8"))
LOCALES = ("en", "ru", "id", "bs", "zh")
LINKS = ('href="/docs"', 'href="/redoc"', 'href="/openapi.json"')


ADMIN = "docs-admin@example.com"


@pytest.fixture(scope="module")
def _admin_user(ui: UI) -> None:  # noqa: F811
    ui.user(ADMIN, "admin")


@pytest.fixture
def admin(ui: UI, _admin_user: None) -> Iterator[UI]:  # noqa: F811
    fresh(ui)
    ui.login(ADMIN)
    yield ui
    ui.client.cookies.set("locale", "en")


def test_every_word_of_the_docs_is_in_every_language() -> None:
    for key, texts in MESSAGES.items():
        assert set(texts) == set(LOCALES), key
        assert all(text.strip() for text in texts.values()), key


@pytest.mark.parametrize("locale", LOCALES)
def test_the_api_keys_and_account_pages_link_to_the_docs(admin: UI, locale: str) -> None:
    admin.client.cookies.set("locale", locale)
    for path in ("/api-keys", "/account"):
        page = admin.client.get(path)
        assert page.status_code == 200, page.text
        assert all(link in page.text for link in LINKS), path
        assert MESSAGES["api_docs_swagger"][locale] in page.text
        assert MESSAGES["api_docs_redoc"][locale] in page.text
    docs = admin.client.get("/docs")
    assert f'<html lang="{locale}">' in docs.text
    assert MESSAGES["api_docs"][locale] in docs.text


def test_api_docs_off_answers_404_and_drops_the_links(admin: UI) -> None:
    state = admin.client.app.state  # type: ignore[attr-defined]
    settings = state.settings
    state.settings = dataclasses.replace(settings, api_docs=False)
    try:
        for path in ("/docs", "/redoc"):
            assert admin.client.get(path).status_code == 404, path
            api = admin.client.get(path, headers={"Accept": "application/json"})
            assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
        for path in ("/api-keys", "/account"):
            page = admin.client.get(path)
            assert page.status_code == 200
            assert not any(link in page.text for link in LINKS[:2]), path
        assert admin.client.get("/openapi.json").status_code == 200  # the document stays
    finally:
        state.settings = settings
    assert admin.client.get("/docs").status_code == 200
