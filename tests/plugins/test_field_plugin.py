"""A field type from another package, end to end: tests/plugins/crmgen_iban_field.

The plugin has two halves: ``crmgen.fields`` (what crmgen generates: column, OpenAPI schema,
widget, samples) and ``crmgen_runtime.fields`` (what the app runs: the API check, the display,
and the package's ``templates/widgets/iban.html`` and ``messages/``: its own form widget).
As in test_step_plugin.py it is "installed" as a ``.dist-info`` in a temporary folder: crmgen
generates in a subprocess whose PYTHONPATH holds it, so this process's generator registry stays
built-in only. The app runs in this process with the folder on ``sys.path`` (the app depends on
the plugin's distribution, so it is installed wherever the app is); the runtime finds the type
through its entry point. No template is forked.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from crmgen_runtime import fields as runtime_fields
from crmgen_runtime.db import Database
from crmgen_runtime.principal import CurrentUser
from starlette.middleware import Middleware
from starlette.testclient import TestClient

from tests.app_settings import app_settings_env
from tests.backend.conftest import TestUsers as HeaderUsers

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = Path(__file__).parent / "crmgen_iban_field"
GOOD = "DE89370400440532013000"  # the usual example IBAN
BAD = "DE00370400440532013000"  # its checksum broken

SPEC = """\
app:
  name: bank_app
  title: Bank
roles:
  admin: {superuser: true}
  staff: Staff
entities:
  Account:
    fields:
      name: {type: string, required: true, max_length: 200}
      iban: {type: iban, required: true, unique: true}
      backup_iban: {type: iban}
    search: [name, iban]
    ui:
      list:
        columns: [name, iban]
    permissions:
      staff: all
"""


def _install(site: Path) -> None:
    """What ``pip install`` would leave for the entry points: METADATA and entry_points.txt."""
    info = site / "crmgen_iban_field-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: crmgen-iban-field\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[crmgen.fields]\niban = crmgen_iban_field.spec:IBAN\n\n"
        "[crmgen_runtime.fields]\niban = crmgen_iban_field.runtime:IBAN\n"
    )


def _crmgen(*args: str, cwd: Path, site: Path | None) -> subprocess.CompletedProcess[str]:
    paths = [str(ROOT), str(ROOT / "runtime")]
    paths += [str(site), str(PLUGIN)] if site is not None else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run(
        [sys.executable, "-m", "crmgen", *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    _install(folder)
    return folder


@pytest.fixture(scope="module")
def generated(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bank")
    (folder / "spec.yaml").write_text(SPEC)
    result = _crmgen("generate", "spec.yaml", "-o", "out", cwd=folder, site=site)
    assert result.returncode == 0, result.stdout + result.stderr
    return folder / "out"


# -- generation -----------------------------------------------------------------------------


def test_without_the_plugin_the_type_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC)
    result = _crmgen("validate", "spec.yaml", cwd=tmp_path, site=None)
    assert result.returncode == 1
    assert "iban" in result.stderr


def test_column_and_migration(generated: Path) -> None:
    models = (generated / "bank_app" / "models.py").read_text()
    assert 'iban: Mapped[str] = mapped_column(sa.String(34), unique=True, comment="Iban")' in models
    assert "backup_iban: Mapped[str | None]" in models
    (migration,) = (generated / "migrations" / "versions").glob("0001_*.py")
    assert 'sa.Column("iban", sa.String(length=34), nullable=False' in migration.read_text()


def test_a_widget_is_named_as_a_template() -> None:
    from crmgen.language.fields import FieldType

    with pytest.raises(ValueError, match=r"names the widget '\.\./form'"):
        FieldType("iban", "an IBAN", widget="../form")


def test_the_app_depends_on_the_plugin(generated: Path) -> None:
    assert '"crmgen-iban-field",' in (generated / "pyproject.toml").read_text()
    resources = (generated / "bank_app" / "resources.py").read_text()
    assert 'fields.require(("iban",))' in resources


def test_openapi_schema_is_the_plugins(generated: Path) -> None:
    document = json.loads((generated / "bank_app" / "openapi.json").read_text())
    schemas = document["components"]["schemas"]
    create = next(
        s
        for name, s in schemas.items()
        if name.startswith("Account") and "iban" in s.get("properties", {})
    )
    assert create["properties"]["iban"]["format"] == "iban"


def test_form_widget_and_list_filter(generated: Path) -> None:
    ui = json.loads((generated / "bank_app" / "ui.json").read_text())
    meta = ui["entities"]["accounts"]["fields"]["iban"]
    assert meta["widget"] == "iban" and meta["editable"] is True


def test_the_apps_own_suite_passes_with_plugin_samples(generated: Path, site: Path) -> None:
    data = (generated / "tests" / "spec_data.py").read_text()
    assert f'"iban": "{GOOD}"' in data and f'"{BAD}", 422' in data
    paths = [str(generated), str(ROOT), str(ROOT / "runtime"), str(site), str(PLUGIN)]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-x", "-p", "no:cacheprovider"],
        check=False,
        cwd=generated,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


# -- the running app ------------------------------------------------------------------------


@pytest.fixture
def app(
    generated: Path, site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, Any, TestClient, dict[str, Any]]]:
    monkeypatch.syspath_prepend(str(PLUGIN))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(generated))
    importlib.invalidate_caches()
    names = ("app", "models", "resources", "seed", "web.core")
    modules = {name: importlib.import_module(f"bank_app.{name}") for name in names}
    models = modules["models"]
    database = Database(f"sqlite:///{tmp_path / 'test.sqlite3'}")
    models.Base.metadata.create_all(database.engine)
    with database.session() as session:
        user = models.User(email="staff@example.com", name="Staff", roles=["staff"])
        session.add(user)
        session.flush()
        users = {
            "staff": CurrentUser(
                id=user.id,
                email=user.email,
                name=user.name,
                roles=frozenset({"staff"}),
                superuser=False,
                extra={},
            )
        }
    client = TestClient(
        modules["app"].create_app(
            modules["app"].startup_settings(app_settings_env()),
            database=database,
            middleware=[Middleware(HeaderUsers, users=users)],
        ),
        raise_server_exceptions=False,
        headers={"X-Test-User": "staff"},
    )
    try:
        yield models, database, client, modules
    finally:
        client.close()
        database.dispose()
        for key in [m for m in sys.modules if m == "bank_app" or m.startswith("bank_app.")]:
            del sys.modules[key]


def test_api_checks_and_stores_the_iban(app: tuple[Any, Any, TestClient, dict[str, Any]]) -> None:
    models, database, client, _ = app
    assert runtime_fields.lookup("iban") is not None  # found through its entry point
    bad = client.post("/api/accounts", json={"name": "A", "iban": BAD})
    assert bad.status_code == 422, bad.text
    assert bad.json()["error"]["fields"]["iban"] == "Must be a valid IBAN."
    good = client.post("/api/accounts", json={"name": "A", "iban": "de89 3704 0044 0532 0130 00"})
    assert good.status_code == 201, good.text
    assert good.json()["iban"] == GOOD  # stored compact
    with database.engine.connect() as connection:
        assert connection.scalar(sa.select(models.Account.iban)) == GOOD
    found = client.get("/api/accounts", params={"iban__contains": "3704"})
    assert [item["name"] for item in found.json()["items"]] == ["A"]  # filtered as text
    searched = client.get("/api/accounts", params={"q": "89370400"})
    assert [item["name"] for item in searched.json()["items"]] == ["A"]  # a text type: searched


def test_pages_show_groups_of_four(app: tuple[Any, Any, TestClient, dict[str, Any]]) -> None:
    _, _, client, _ = app
    created = client.post("/api/accounts", json={"name": "A", "iban": GOOD}).json()
    shown = "DE89 3704 0044 0532 0130 00"
    listing = client.get("/accounts/")
    assert listing.status_code == 200 and shown in listing.text
    detail = client.get(f"/accounts/{created['id']}")
    assert detail.status_code == 200 and shown in detail.text
    form = client.get(f"/accounts/{created['id']}/edit")
    assert form.status_code == 200 and f'value="{shown}"' in form.text
    export = client.get("/accounts/export.csv")
    assert export.status_code == 200, export.text
    rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert GOOD in rows[1] or shown in rows[1]


def _form(client: TestClient, url: str) -> tuple[str, str]:
    """The form page at ``url`` and its CSRF token."""
    page = client.get(url)
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return page.text, token.group(1)


def test_the_form_has_the_plugins_widget(app: tuple[Any, Any, TestClient, dict[str, Any]]) -> None:
    models, database, client, _ = app
    html, token = _form(client, "/accounts/new")
    field = re.search(r'<input id="f_iban" [^>]*>', html)
    assert field, html
    for attribute in ('autocomplete="off"', 'spellcheck="false"', 'aria-describedby="f_iban_hint"'):
        assert attribute in field.group(0)
    assert 'id="f_iban_hint">Letters and digits' in html  # the plugin's own words
    words = client.app.state.site.messages  # type: ignore[attr-defined]
    assert all(words[locale].get("iban_hint") for locale in ("en", "ru", "id", "bs", "zh"))
    form = {"csrf_token": token, "name": "A", "iban": "de89 3704 0044 0532 0130 00"}
    created = client.post("/accounts/new", data=form, follow_redirects=False)
    assert created.status_code == 303, created.text
    with database.engine.connect() as connection:
        assert connection.scalar(sa.select(models.Account.iban)) == GOOD  # stored compact
    shown = "DE89 3704 0044 0532 0130 00"
    assert shown in client.get("/accounts/").text
    assert shown in client.get(created.headers["location"]).text
    html, token = _form(client, f"{created.headers['location']}/edit")
    assert f'value="{shown}"' in html
    refused = client.post(
        f"{created.headers['location']}/edit", data={"csrf_token": token, "iban": BAD}
    )
    assert refused.status_code == 422
    assert 'aria-describedby="f_iban_hint f_iban_error" aria-invalid="true"' in refused.text


def test_the_apps_own_widget_template_wins(generated: Path, request: pytest.FixtureRequest) -> None:
    override = generated / "bank_app" / "templates" / "widgets" / "iban.html"
    override.parent.mkdir(parents=True)
    override.write_text('<input id="{{ id }}" name="{{ f.name }}" class="ours">')
    try:
        _, _, client, _ = request.getfixturevalue("app")  # the site starts with the override
        assert 'class="ours"' in client.get("/accounts/new").text
    finally:
        override.unlink()
        override.parent.rmdir()
        override.parent.parent.rmdir()


def test_import_cells_go_through_the_plugins_check(
    app: tuple[Any, Any, TestClient, dict[str, Any]],
) -> None:
    _, _, _, modules = app
    imports = importlib.import_module("crmgen_runtime.web.imports")
    meta = modules["web.core"].SITE.spec["entities"]["accounts"]["fields"]["iban"]
    value = imports.api_value(meta, "de89 3704 0044 0532 0130 00")
    resource = modules["resources"].BY_NAME["Account"]
    validation = importlib.import_module("crmgen_runtime.validation")
    assert validation.coerce(resource.fields["iban"], value) == GOOD
    with pytest.raises(validation.Invalid):
        validation.coerce(resource.fields["iban"], imports.api_value(meta, BAD))


def test_demo_data_has_valid_ibans(
    app: tuple[Any, Any, TestClient, dict[str, Any]], tmp_path: Path
) -> None:
    models, _, _, modules = app
    from crmgen_iban_field import is_valid

    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    engine = sa.create_engine(url)
    models.Base.metadata.create_all(engine)
    counts = modules["seed"].seed(url)
    assert counts["Account"] == 10, counts  # an entity without dates: seeding.FEW
    with engine.connect() as connection:
        ibans = connection.scalars(sa.select(models.Account.iban)).all()
    engine.dispose()
    assert ibans and all(is_valid(i) for i in ibans)
    assert len(set(ibans)) == len(ibans)


def test_the_docs_show_the_plugins_widget_as_it_is() -> None:
    docs = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    package = PLUGIN / "crmgen_iban_field"
    widget = (package / "templates" / "widgets" / "iban.html").read_text(encoding="utf-8")
    assert widget.split("#}\n", 1)[1] in docs  # the template without its comment
    runtime = (package / "runtime.py").read_text(encoding="utf-8")
    assert runtime[runtime.index("IBAN = FieldType(") :] in docs
