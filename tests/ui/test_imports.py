"""Importing CSV and XLSX files through the web UI, in process (examples/crm on SQLite and
on PostgreSQL, with the real auth middleware)."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

import openpyxl
import pytest
import sqlalchemy as sa
from crmgen_runtime import crud
from crmgen_runtime.db import Database
from starlette.testclient import TestClient

from tests.app_settings import app_settings_env
from tests.backend.conftest import POSTGRES_URL, Generated, generated, postgres_admin
from tests.ui.test_pages import UI, csrf, fresh


class Signed(Protocol):
    """A signed-in browser: its client carries the session and CSRF cookies."""

    client: TestClient


class ImportUI(UI):
    """The UI test state, plus what it takes to start another replica of the same app."""

    def __init__(
        self,
        gen: Generated,
        database: Any,
        client: TestClient,
        settings: Any,
        open_database: Callable[[], Any],
    ) -> None:
        super().__init__(gen, database, client)
        self.settings = settings
        self.open_database = open_database  # a new Database on the same data

    @property
    def uploads(self) -> sa.Table:
        return self.gen.models.CrmImportUpload.__table__

    def upload_ids(self) -> set[str]:
        with self.database.engine.connect() as connection:
            return set(connection.execute(sa.select(self.uploads.c.id)).scalars())


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def ui(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ImportUI]:
    gen = generated("crm", tmp_path_factory)
    schema = f"crmgen_import_{uuid.uuid4().hex[:12]}"
    admin_engine = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('import_db') / 'ui.sqlite3'}"

        def open_database() -> Any:
            return Database(url)

    else:
        admin_engine = postgres_admin()
        with admin_engine.connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = POSTGRES_URL

        def open_database() -> Any:
            return Database(url, connect_args={"options": f"-csearch_path={schema},public"})

    database = open_database()
    gen.models.Base.metadata.create_all(database.engine)
    settings = gen.app.startup_settings(app_settings_env(DATABASE_URL=url))
    app = gen.app.create_app(settings, database=database)  # the real AuthMiddleware
    try:
        with TestClient(app, raise_server_exceptions=True) as client:
            state = ImportUI(gen, database, client, settings, open_database)
            state.user("admin@example.com", min(gen.resources.SUPERUSER_ROLES))
            yield state
    finally:
        database.dispose()
        if admin_engine is not None:
            with admin_engine.connect() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin_engine.dispose()


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working folder per test: nothing of an upload may land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def sign_in(ui: ImportUI, email: str, *roles: str) -> ImportUI:
    fresh(ui)
    if roles:
        ui.user(email, *roles)
    ui.login(email)
    return ui


@pytest.fixture
def admin(ui: ImportUI) -> ImportUI:
    return sign_in(ui, "admin@example.com")


def upload(ui: Signed, path: str, name: str, data: bytes, **extra: Any) -> Any:
    page = ui.client.get(f"/{path}/import")
    assert page.status_code == 200, page.text
    return ui.client.post(
        f"/{path}/import",
        data={"csrf_token": csrf(page.text), **extra},
        files={"file": (name, data, "application/octet-stream")},
        follow_redirects=False,
    )


def uploaded(ui: Signed, path: str, name: str, data: bytes) -> str:
    """The URL of the mapping page of a good upload."""
    response = upload(ui, path, name, data)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(rf"/{path}/import/[A-Za-z0-9_-]{{24}}", location), location
    return location


def selected(page: str) -> dict[str, str]:
    """The chosen field of each column of a mapping page (``c0`` -> field name or "")."""
    choices: dict[str, str] = {}
    for name, body in re.findall(r'<select id="(c\d+)" name="\1">(.*?)</select>', page, re.DOTALL):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        choices[name] = chosen.group(1) if chosen else ""
    return choices


def run(ui: Signed, location: str, mapping: dict[str, str]) -> Any:
    preview = ui.client.get(f"{location}/preview", params=mapping)
    assert preview.status_code == 200, preview.text
    response = ui.client.post(
        f"{location}/run",
        data={"csrf_token": csrf(preview.text), **mapping},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{location}/result"
    return ui.client.get(f"{location}/result")


def counted(page: str, what: str) -> int:
    match = re.search(rf'id="import-{what}">(\d+)<', page)
    assert match, page
    return int(match.group(1))


def records(ui: Signed, path: str, **filters: str) -> list[dict[str, Any]]:
    response = ui.client.get(f"/api/{path}", params={**filters, "limit": "100"})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_csv_with_a_bad_row_imports_the_good_rows_and_reports_the_bad(admin: ImportUI) -> None:
    data = (
        b"Name,Industry,Employees,Website\n"
        b"Csv Alpha,Retail,10,https://alpha.example\n"
        b"Csv Beta,it,many,\n"
        b"Csv Gamma,Manufacturing,30,\n"
    )
    location = uploaded(admin, "companies", "companies.csv", data)
    page = admin.client.get(location)
    assert page.status_code == 200
    mapping = selected(page.text)
    assert mapping == {"c0": "name", "c1": "industry", "c2": "employees", "c3": "website"}
    preview = admin.client.get(f"{location}/preview", params=mapping)
    assert counted(preview.text, "total") == 3 and counted(preview.text, "bad") == 1
    bad_row = re.search(r'<tr class="bad" data-line="3">(.*?)</tr>', preview.text, re.DOTALL)
    assert bad_row and "Must be a whole number." in bad_row.group(1)
    assert 'class="ok" data-line="2"' in preview.text
    assert not records(admin, "companies", name__contains="Csv ")  # the preview writes nothing
    result = run(admin, location, mapping)
    assert counted(result.text, "created") == 2 and counted(result.text, "failed") == 1
    assert 'data-line="3"' in result.text and "Must be a whole number." in result.text
    made = {r["name"]: r for r in records(admin, "companies", name__contains="Csv ")}
    assert set(made) == {"Csv Alpha", "Csv Gamma"}
    assert made["Csv Alpha"]["industry"] == "retail" and made["Csv Gamma"]["employees"] == 30
    failed = admin.client.get(f"{location}/failed.csv")
    assert failed.status_code == 200
    assert failed.headers["content-disposition"] == 'attachment; filename="companies-failed.csv"'
    rows = list(csv.reader(io.StringIO(failed.content.decode("utf-8-sig"))))
    assert rows[0] == ["Name", "Industry", "Employees", "Website", "Problems"]
    assert rows[1][:3] == ["Csv Beta", "it", "many"] and "Must be a whole number" in rows[1][4]
    assert len(rows) == 2
    # The upload is used up: importing it again is not possible.
    again = admin.client.post(
        f"{location}/run", data={"csrf_token": csrf(result.text), **mapping}, follow_redirects=False
    )
    assert again.headers["location"] == f"{location}/result"
    assert len(records(admin, "companies", name__contains="Csv ")) == 2


def test_cp1251_csv_with_semicolons_and_russian_headers(admin: ImportUI) -> None:
    data = (
        "Название;Отрасль;Сотрудников;Годовая выручка\r\n"
        "Ромашка Ип;Розница;5;1 234 567,5\r\n"
        "Лютик Ип;услуги;7;\r\n"
    )
    location = uploaded(admin, "companies", "фирмы.csv", data.encode("cp1251"))
    mapping = selected(admin.client.get(location).text)
    assert mapping == {"c0": "name", "c1": "industry", "c2": "employees", "c3": "annual_revenue"}
    result = run(admin, location, mapping)
    assert counted(result.text, "created") == 2, text(result.text)
    made = {r["name"]: r for r in records(admin, "companies", name__contains=" Ип")}
    assert made["Ромашка Ип"]["industry"] == "retail"
    assert made["Ромашка Ип"]["annual_revenue"] == "1234567.50"
    assert made["Лютик Ип"]["industry"] == "services" and made["Лютик Ип"]["employees"] == 7


def test_a_reference_column_matches_names_and_ids(admin: ImportUI) -> None:
    company = admin.client.post(
        "/api/companies",
        json={"name": "Ref Target Ltd"},
        headers={"X-CSRF-Token": csrf(admin.client.get("/companies/import").text)},
    )
    assert company.status_code == 201, company.text
    company_id = company.json()["id"]
    data = (
        "full_name;company;discount;birthday;is_key\n"
        "Ref One;Ref Target Ltd;12,5;31.12.1990;да\n"
        f"Ref Two;{company_id};;1991-01-02;no\n"
        "Ref Three;No Such Company;;;\n"
    ).encode()
    location = uploaded(admin, "contacts", "contacts.csv", data)
    mapping = selected(admin.client.get(location).text)
    assert mapping["c1"] == "company"
    preview = admin.client.get(f"{location}/preview", params=mapping)
    assert "No record has this name" in preview.text and "No Such Company" in preview.text
    assert counted(preview.text, "bad") == 1
    result = run(admin, location, mapping)
    assert counted(result.text, "created") == 2 and counted(result.text, "failed") == 1
    made = {r["full_name"]: r for r in records(admin, "contacts", full_name__contains="Ref ")}
    assert set(made) == {"Ref One", "Ref Two"}
    assert made["Ref One"]["company"]["id"] == company_id == made["Ref Two"]["company"]["id"]
    assert made["Ref One"]["birthday"] == "1990-12-31" and made["Ref One"]["is_key"] is True
    assert made["Ref One"]["discount"] == "12.50" and made["Ref Two"]["is_key"] is False


def xlsx_with_formulas(rows: list[list[Any]], values: dict[str, str]) -> bytes:
    """An XLSX file whose formula cells carry the values Excel would have saved (``values``
    by cell, e.g. ``{"C2": "12"}``); openpyxl itself never computes formulas."""
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    raw = io.BytesIO()
    book.save(raw)
    source = zipfile.ZipFile(io.BytesIO(raw.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                xml = content.decode()
                for ref, value in values.items():
                    xml, count = re.subn(
                        rf'(<c r="{ref}"[^>]*>)<f>(.*?)</f>(?:<v\s*/>|<v>\s*</v>)',
                        rf"\1<f>\2</f><v>{value}</v>",
                        xml,
                    )
                    assert count == 1, xml
                content = xml.encode()
            target.writestr(item, content)
    return out.getvalue()


def test_xlsx_first_sheet_with_formula_cells_read_as_values(admin: ImportUI) -> None:
    import datetime as dt

    data = xlsx_with_formulas(
        [
            ["Full name", "Discount", "Birthday", "Key contact", "Phone"],
            ["Xlsx Ann", "=2+3", dt.datetime(1985, 4, 3), True, 79001234567],
            ["Xlsx Bob", "=B2*2.45", None, False, None],
        ],
        {"B2": "5", "B3": "12.25"},
    )
    location = uploaded(admin, "contacts", "people.xlsx", data)
    mapping = selected(admin.client.get(location).text)
    assert mapping == {
        "c0": "full_name",
        "c1": "discount",
        "c2": "birthday",
        "c3": "is_key",
        "c4": "phone",
    }
    result = run(admin, location, mapping)
    assert counted(result.text, "created") == 2, text(result.text)
    made = {r["full_name"]: r for r in records(admin, "contacts", full_name__contains="Xlsx ")}
    assert made["Xlsx Ann"]["discount"] == "5.00" and made["Xlsx Bob"]["discount"] == "12.25"
    assert made["Xlsx Ann"]["birthday"] == "1985-04-03" and made["Xlsx Ann"]["is_key"] is True
    assert made["Xlsx Ann"]["phone"] == "+79001234567"  # stored in E.164 (app.phone_region)


def test_bad_files_are_explained_not_500(admin: ImportUI) -> None:
    cases = {
        "broken.xlsx": (b"PK\x03\x04 not really a zip", "cannot be read"),
        "old.xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".xlsx or .csv"),
        "empty.csv": (b"Name\n", "no rows below its header"),
        "binary.csv": (b"Name\n\x98\x98\x98\n", "save it as UTF-8"),
    }
    for name, (data, message) in cases.items():
        response = upload(admin, "companies", name, data)
        assert response.status_code == 400, name
        assert message in html.unescape(response.text), name
    page = admin.client.get("/companies/import")
    response = admin.client.post(
        "/companies/import", data={"csrf_token": csrf(page.text)}, follow_redirects=False
    )
    assert response.status_code == 400 and "Choose a file" in response.text


def test_an_oversized_upload_is_refused_with_a_message(admin: ImportUI) -> None:
    before = admin.upload_ids()
    big = b"Name\n" + b"x" * (10 * 1024 * 1024 + 10)
    response = upload(admin, "companies", "big.csv", big)
    assert response.status_code == 413
    assert "The file is too large." in response.text
    assert admin.upload_ids() == before


def test_an_upload_without_csrf_is_403(admin: ImportUI) -> None:
    response = admin.client.post(
        "/companies/import",
        files={"file": ("a.csv", b"Name\nNo Csrf Co\n", "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 403
    location = uploaded(admin, "companies", "a.csv", b"Name\nNo Csrf Co\n")
    response = admin.client.post(f"{location}/run", data={"c0": "name"}, follow_redirects=False)
    assert response.status_code == 403
    assert not records(admin, "companies", name="No Csrf Co")


def test_a_user_who_may_not_create_gets_403(ui: ImportUI) -> None:
    sign_in(ui, "support-import@example.com", "support")
    before = ui.upload_ids()
    assert ui.client.get("/companies/import").status_code == 403
    page = ui.client.get("/")
    response = ui.client.post(
        "/companies/import",
        data={"csrf_token": csrf(page.text)},
        files={"file": ("a.csv", b"Name\nSupport Co\n", "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert ui.upload_ids() == before


def test_an_upload_of_another_session_is_404(ui: ImportUI) -> None:
    sign_in(ui, "admin@example.com")
    location = uploaded(ui, "companies", "a.csv", b"Name\nOther Session Co\n")
    assert ui.client.get(location).status_code == 200
    assert ui.client.get(location.replace("/companies/", "/contacts/")).status_code == 404
    sign_in(ui, "seller-import@example.com", "sales")
    for url in (
        location,
        f"{location}/preview?c0=name",
        f"{location}/result",
        f"{location}/failed.csv",
    ):
        response = ui.client.get(url)
        assert response.status_code == 404, url
        assert "Upload the file again" in response.text
    page = ui.client.get("/companies/import")
    response = ui.client.post(
        f"{location}/run",
        data={"csrf_token": csrf(page.text), "c0": "name"},
        follow_redirects=False,
    )
    assert response.status_code == 404
    assert ui.client.get("/companies/import/..%2F..%2Fetc").status_code == 404
    assert ui.client.get("/companies/import/" + "A" * 24).status_code == 404


def test_mapping_problems_block_the_import(admin: ImportUI) -> None:
    location = uploaded(admin, "companies", "twice.csv", b"Name,Title\nTwice Co,Twice Co\n")
    mapping = {"c0": "name", "c1": "name"}
    preview = admin.client.get(f"{location}/preview", params=mapping)
    assert "More than one column is mapped to: Name" in preview.text
    assert re.search(r'<button type="submit" class="primary" disabled>', preview.text)
    response = admin.client.post(
        f"{location}/run",
        data={"csrf_token": csrf(preview.text), **mapping},
        follow_redirects=False,
    )
    assert response.headers["location"].startswith(f"{location}/preview?")
    assert not records(admin, "companies", name="Twice Co")
    skipped = admin.client.get(f"{location}/preview", params={"c0": "", "c1": ""})
    assert "Map at least one column to a field." in skipped.text


def test_an_import_in_progress_and_an_expired_upload(admin: ImportUI) -> None:
    location = uploaded(admin, "companies", "a.csv", b"Name\nBusy Co\n")
    upload_id = location.rsplit("/", 1)[1]
    uploads = admin.uploads
    with admin.database.engine.begin() as connection:  # another request queued it
        connection.execute(
            sa.update(uploads)
            .where(uploads.c.id == upload_id)
            .values(status="importing", rows_total=1)
        )
    response = admin.client.get(f"{location}/result")  # no worker runs here: it waits
    assert response.status_code == 200 and "Waiting for a worker" in response.text
    assert '<meta http-equiv="refresh" content="3">' in response.text
    assert (
        admin.client.get(location, follow_redirects=False).headers["location"].endswith("/result")
    )
    preview = admin.client.get(f"{location}/preview", params={"c0": "name"}, follow_redirects=False)
    assert preview.headers["location"] == f"{location}/result"
    response = admin.client.post(
        f"{location}/run",
        data={"csrf_token": csrf(admin.client.get("/companies/import").text), "c0": "name"},
        follow_redirects=False,
    )
    assert response.headers["location"] == f"{location}/result"
    assert not records(admin, "companies", name="Busy Co")  # the worker imports it
    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=61)
    with admin.database.engine.begin() as connection:  # imported, and not looked at since
        connection.execute(
            sa.update(uploads)
            .where(uploads.c.id == upload_id)
            .values(status="done", created_at=an_hour_ago, updated_at=an_hour_ago)
        )
    assert admin.client.get(f"{location}/result").status_code == 404
    assert upload_id in admin.upload_ids()
    following = uploaded(admin, "companies", "b.csv", b"Name\nNext Co\n")
    ids = admin.upload_ids()  # an upload deletes the expired ones
    assert upload_id not in ids and following.rsplit("/", 1)[1] in ids


def test_the_steps_may_be_served_by_different_replicas(
    admin: ImportUI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a load balancer each request may reach another app process: upload on one,
    map, preview and import on another (its own database connections, its own working folder),
    back on the first for the result."""
    data = b"Name,Employees\nReplica One,3\nReplica Two,many\n"
    location = uploaded(admin, "companies", "replica.csv", data)
    other_folder = tmp_path / "other-replica"
    other_folder.mkdir()
    monkeypatch.chdir(other_folder)
    database = admin.open_database()
    app = admin.gen.app.create_app(admin.settings, database=database)
    try:
        with TestClient(app, raise_server_exceptions=True) as client:
            client.cookies = admin.client.cookies  # the same browser
            other = SimpleNamespace(client=client)
            page = client.get(location)
            assert page.status_code == 200, page.text
            mapping = selected(page.text)
            assert mapping == {"c0": "name", "c1": "employees"}
            result = run(other, location, mapping)
            assert counted(result.text, "created") == 1 and counted(result.text, "failed") == 1
    finally:
        database.dispose()
    assert not any(other_folder.iterdir()) and not (tmp_path / ".imports").exists()
    assert [r["name"] for r in records(admin, "companies", name__contains="Replica ")] == [
        "Replica One"
    ]
    result = admin.client.get(f"{location}/result")  # the first replica sees the result
    assert counted(result.text, "created") == 1 and 'data-line="3"' in result.text
    failed = admin.client.get(f"{location}/failed.csv")
    rows = list(csv.reader(io.StringIO(failed.content.decode("utf-8-sig"))))
    assert rows[1][:2] == ["Replica Two", "many"] and "whole number" in rows[1][2]
    again = admin.client.post(
        f"{location}/run",
        data={"csrf_token": csrf(result.text), **mapping},
        follow_redirects=False,
    )
    assert again.headers["location"] == f"{location}/result"
    assert len(records(admin, "companies", name__contains="Replica ")) == 1


# --- updating existing records by a unique field ----------------------------------------------


def api_token(ui: Signed) -> dict[str, str]:
    """The header a cookie-signed API write needs."""
    return {"X-CSRF-Token": csrf(ui.client.get("/companies/import").text)}


def company(ui: Signed, **values: Any) -> dict[str, Any]:
    response = ui.client.post("/api/companies", json=values, headers=api_token(ui))
    assert response.status_code == 201, response.text
    return response.json()


def fetched(ui: Signed, record_id: int) -> dict[str, Any]:
    response = ui.client.get(f"/api/companies/{record_id}")
    assert response.status_code == 200, response.text
    return response.json()


def preview_row(page: str, line: int) -> str:
    row = re.search(rf'<tr class="\w+" data-line="{line}">(.*?)</tr>', page, re.DOTALL)
    assert row, page
    return " ".join(text(row.group(1)).split())


def test_rows_matching_a_unique_field_update_others_create(admin: ImportUI) -> None:
    """Company ``tax_id`` is unique in examples/crm: a matching row updates the record (only
    its mapped non-empty cells), the others are created."""
    kept = company(admin, name="Upsert Old", tax_id="7700000001", industry="retail", employees=10)
    data = (
        b"Name,Tax ID,Industry,Employees,Website\n"
        b"Upsert Renamed,7700000001,,11,\n"
        b"Upsert New,7700000002,IT,5,https://new.example\n"
    )
    location = uploaded(admin, "companies", "upsert.csv", data)
    page = admin.client.get(location)
    options = re.search(
        r'<select id="import-match" name="match"[^>]*>(.*?)</select>', page.text, re.DOTALL
    )
    assert options, page.text
    values = re.findall(r'<option value="([^"]*)"', options.group(1))
    assert values[:2] == ["", "id"] and "tax_id" in values and "name" not in values
    assert '<option value="" selected' not in options.group(1)  # "don't match" is the default
    mapping = {**selected(page.text), "match": "tax_id"}
    assert mapping["c1"] == "tax_id"
    preview = admin.client.get(f"{location}/preview", params=mapping)
    assert counted(preview.text, "to-update") == 1 and counted(preview.text, "to-create") == 1
    assert counted(preview.text, "bad") == 0
    assert f'data-record="{kept["id"]}"' in preview.text
    assert f"Update #{kept['id']} Upsert Old" in preview_row(preview.text, 2)
    assert "New record" in preview_row(preview.text, 3)
    assert fetched(admin, kept["id"])["name"] == "Upsert Old"  # the preview writes nothing
    result = run(admin, location, mapping)
    assert counted(result.text, "created") == 1 and counted(result.text, "updated") == 1
    assert counted(result.text, "failed") == 0
    updated = fetched(admin, kept["id"])
    assert updated["name"] == "Upsert Renamed" and updated["employees"] == 11
    assert updated["industry"] == "retail" and updated["version"] == kept["version"] + 1
    made = records(admin, "companies", tax_id="7700000002")
    assert [r["name"] for r in made] == ["Upsert New"] and made[0]["industry"] == "it"
    assert len(records(admin, "companies", name__contains="Upsert ")) == 2


def test_without_a_match_field_every_row_is_created(admin: ImportUI) -> None:
    company(admin, name="Plain Twin", tax_id="7700000011")
    location = uploaded(admin, "companies", "plain.csv", b"Name,Tax ID\nPlain Twin,7700000011\n")
    mapping = selected(admin.client.get(location).text)
    preview = admin.client.get(f"{location}/preview", params=mapping)
    assert 'id="import-to-update"' not in preview.text
    result = run(admin, location, mapping)
    # Created, so the database's unique check refuses it: reported, nothing overwritten.
    assert counted(result.text, "created") == 0 and counted(result.text, "failed") == 1
    assert 'id="import-updated"' not in result.text
    assert [r["name"] for r in records(admin, "companies", tax_id="7700000011")] == ["Plain Twin"]


def test_a_record_of_another_seller_is_refused_not_updated(ui: ImportUI) -> None:
    sign_in(ui, "upsert-seller1@example.com", "sales")
    theirs = company(ui, name="Seller One Co", tax_id="7700000021", employees=3)
    sign_in(ui, "upsert-seller2@example.com", "sales")
    mine = company(ui, name="Seller Two Co", tax_id="7700000022", employees=4)
    data = b"Tax ID,Employees\n7700000021,99\n7700000022,44\n"
    location = uploaded(ui, "companies", "sellers.csv", data)
    mapping = {**selected(ui.client.get(location).text), "match": "tax_id"}
    preview = ui.client.get(f"{location}/preview", params=mapping)
    assert counted(preview.text, "bad") == 1 and counted(preview.text, "to-update") == 1
    refused = preview_row(preview.text, 2)
    assert "you may not change it" in refused and "Seller One Co" not in refused
    result = run(ui, location, mapping)
    assert counted(result.text, "updated") == 1 and counted(result.text, "failed") == 1
    assert 'data-line="2"' in result.text and "you may not change it" in result.text
    sign_in(ui, "upsert-seller1@example.com")
    assert fetched(ui, theirs["id"])["employees"] == 3
    sign_in(ui, "upsert-seller2@example.com")
    assert fetched(ui, mine["id"])["employees"] == 44


def test_a_match_value_twice_in_the_file_is_an_error(admin: ImportUI) -> None:
    data = b"Name,Tax ID\nTwice First,7700000031\nTwice Second,7700000031\nTwice Other,7700000032\n"
    location = uploaded(admin, "companies", "twice.csv", data)
    mapping = {**selected(admin.client.get(location).text), "match": "tax_id"}
    preview = admin.client.get(f"{location}/preview", params=mapping)
    assert counted(preview.text, "to-create") == 2 and counted(preview.text, "bad") == 1
    assert "Duplicate in the file: the same value is in row 2." in preview_row(preview.text, 3)
    result = run(admin, location, mapping)
    assert counted(result.text, "created") == 2 and counted(result.text, "failed") == 1
    assert [r["name"] for r in records(admin, "companies", tax_id="7700000031")] == ["Twice First"]
    failed = admin.client.get(f"{location}/failed.csv")
    rows = list(csv.reader(io.StringIO(failed.content.decode("utf-8-sig"))))
    assert rows[0] == ["Name", "Tax ID", "Problems"] and len(rows) == 2
    assert rows[1][:2] == ["Twice Second", "7700000031"] and "row 2" in rows[1][2]


def test_match_by_id(admin: ImportUI) -> None:
    first = company(admin, name="By Id One", employees=1)
    second = company(admin, name="By Id Two", employees=2, industry="services")
    data = (
        "ID,Name,Employees\n"
        f"{first['id']},By Id One Renamed,\n"
        f"#{second['id']},,20\n"
        "999999,By Id Ghost,5\n"
        "abc,By Id Bad,5\n"
        ",By Id Fresh,7\n"
    ).encode()
    location = uploaded(admin, "companies", "ids.csv", data)
    mapping = {**selected(admin.client.get(location).text), "c0": "id"}
    # The id column only matches records: without "match by ID" it is a mapping problem.
    unmatched = admin.client.get(f"{location}/preview", params=mapping)
    assert "A column is mapped to the ID" in html.unescape(unmatched.text)
    assert re.search(r'<button type="submit" class="primary" disabled>', unmatched.text)
    mapping["match"] = "id"
    preview = admin.client.get(f"{location}/preview", params=mapping)
    assert counted(preview.text, "to-update") == 2 and counted(preview.text, "to-create") == 1
    assert "No record has this ID" in preview_row(preview.text, 4)
    assert "Must be a record's ID" in html.unescape(preview_row(preview.text, 5))
    result = run(admin, location, mapping)
    assert counted(result.text, "updated") == 2 and counted(result.text, "created") == 1
    assert counted(result.text, "failed") == 2
    one, two = fetched(admin, first["id"]), fetched(admin, second["id"])
    assert one["name"] == "By Id One Renamed" and one["employees"] == 1
    assert two["name"] == "By Id Two" and two["employees"] == 20 and two["industry"] == "services"
    assert [r["name"] for r in records(admin, "companies", name__contains="By Id ")] == [
        "By Id Fresh",
        "By Id One Renamed",
        "By Id Two",
    ]


def test_the_match_field_must_be_mapped(admin: ImportUI) -> None:
    location = uploaded(admin, "companies", "nomatch.csv", b"Name\nUnmapped Match Co\n")
    mapping = {"c0": "name", "match": "tax_id"}
    preview = admin.client.get(f"{location}/preview", params=mapping)
    assert "Map a column to the field used to match records: Tax ID" in preview.text
    response = admin.client.post(
        f"{location}/run",
        data={"csrf_token": csrf(preview.text), **mapping},
        follow_redirects=False,
    )
    assert "match=tax_id" in response.headers["location"]
    assert not records(admin, "companies", name="Unmapped Match Co")
    # A field that is not unique is no match field: ignored, the row is created.
    plain = admin.client.get(f"{location}/preview", params={"c0": "name", "match": "name"})
    assert 'id="import-to-update"' not in plain.text and counted(plain.text, "bad") == 0


def test_a_record_changed_during_the_import_is_not_overwritten(
    admin: ImportUI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The update carries the version read just before it: a change made in between wins and
    the row is reported."""
    target = company(admin, name="Race Co", tax_id="7700000041", employees=1)
    update_in = crud.update_in

    def changed_first(session: Any, resource: Any, user: Any, record_id: int, *rest: Any) -> Any:
        with admin.database.engine.begin() as connection:  # someone else's edit lands first
            table = resource.model.__table__
            connection.execute(
                sa.update(table)
                .where(table.c.id == record_id)
                .values(employees=500, version=table.c.version + 1)
            )
        return update_in(session, resource, user, record_id, *rest)

    monkeypatch.setattr(crud, "update_in", changed_first)
    location = uploaded(admin, "companies", "race.csv", b"Tax ID,Employees\n7700000041,2\n")
    mapping = {**selected(admin.client.get(location).text), "match": "tax_id"}
    result = run(admin, location, mapping)
    assert counted(result.text, "updated") == 0 and counted(result.text, "failed") == 1
    assert "changed by someone else during the import" in result.text
    assert fetched(admin, target["id"])["employees"] == 500
