"""The language switch offers the spec's locales only (examples/minimal speaks English only)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from crmgen_runtime.db import Database
from starlette.testclient import TestClient

from tests.app_settings import app_settings_env
from tests.backend.conftest import Generated, generated


@pytest.fixture(scope="module")
def minimal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    gen: Generated = generated("minimal", tmp_path_factory)
    path = tmp_path_factory.mktemp("locales") / "minimal.sqlite3"
    database = Database(f"sqlite:///{path}")
    gen.models.Base.metadata.create_all(database.engine)
    settings = gen.app.startup_settings(app_settings_env(DATABASE_URL=f"sqlite:///{path}"))
    with TestClient(gen.app.create_app(settings, database=database)) as client:
        yield client
    database.dispose()


def test_only_the_spec_locales_are_offered(minimal: TestClient) -> None:
    page = minimal.get("/login", headers={"Accept-Language": "ru"})
    assert page.status_code == 200
    assert 'lang="en"' in page.text.split(">", 2)[1] or '<html lang="en"' in page.text
    assert "set=ru" not in page.text and "set=zh" not in page.text


def test_a_locale_outside_the_spec_cannot_be_chosen(minimal: TestClient) -> None:
    minimal.get("/locale", params={"set": "ru", "next": "/login"}, follow_redirects=False)
    minimal.cookies.set("locale", "ru")
    page = minimal.get("/login")
    assert '<html lang="en"' in page.text
