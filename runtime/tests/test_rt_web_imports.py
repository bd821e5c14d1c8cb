"""``crmgen_runtime.web.imports``: importing CSV files into the small CRM's deals through every
step (upload, map, preview, run, result, failed rows), matching existing records by id, and the
refusals, through real requests on SQLite and PostgreSQL; the cells' reading rules directly."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from conftest import WebClient, site_routes
from crmgen_runtime.spreadsheets import ImportLimits, Table
from crmgen_runtime.web import import_jobs, imports
from crmgen_runtime.web.site import Site
from rt_web import ui_data
from starlette.testclient import TestClient

ADMIN = {"X-User": "admin"}
CSV = (
    'Title,Amount,Stage,Company\nFresh,"1 234,50",Won,Acme\n,5,New,Nowhere\nSecond,7,Выиграна,#2\n'
).encode()


@pytest.fixture
def site(tmp_path: Path) -> Site:
    data = ui_data()
    fields = data["entities"]["deals"]["fields"]
    fields["amount"]["import"] = "number"
    fields["stage"]["import"] = "choice"
    fields["company"]["widget"] = "ref"
    (tmp_path / "ui.json").write_text(json.dumps(data), encoding="utf-8")
    return Site(rt_crm.catalog, tmp_path)


@pytest.fixture
def client(site: Site, web_client: WebClient) -> TestClient:
    client = web_client(site_routes(site, imports), site=site)
    client.headers.update(ADMIN)
    return client


def token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def upload(client: TestClient, data: bytes, name: str = "deals.csv", **extra: str) -> Any:
    page = client.get("/deals/import")
    assert page.status_code == 200
    return client.post(
        "/deals/import",
        data={"csrf_token": token(page.text), **extra},
        files={"file": (name, data, "text/csv")},
    )


def uploaded(client: TestClient, data: bytes) -> str:
    answer = upload(client, data)
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["location"]
    assert re.fullmatch(r"/deals/import/[A-Za-z0-9_-]{24}", location)
    return location


def run(client: TestClient, location: str, mapping: dict[str, str]) -> Any:
    preview = client.get(f"{location}/preview", params=mapping)
    assert preview.status_code == 200
    return client.post(f"{location}/run", data={"csrf_token": token(preview.text), **mapping})


def deals(crm_web: rt_crm.Crm) -> dict[str, Any]:
    table = rt_crm.Deal.__table__
    with crm_web.database.engine.connect() as connection:
        rows = connection.execute(sa.select(table)).mappings().all()
    return {row["title"]: row for row in rows}


def test_a_file_goes_through_every_step(client: TestClient, crm_web: rt_crm.Crm) -> None:
    location = uploaded(client, CSV)
    mapping_page = client.get(location)
    assert mapping_page.status_code == 200 and "deals.csv" in mapping_page.text
    for column, field in enumerate(("title", "amount", "stage", "company")):
        chosen = re.search(
            rf'<select id="c{column}" name="c{column}">(.*?)</select>', mapping_page.text, re.DOTALL
        )
        assert chosen and f'value="{field}" selected' in chosen.group(1)
    mapping = {"c0": "title", "c1": "amount", "c2": "stage", "c3": "company"}
    preview = client.get(f"{location}/preview", params=mapping)
    assert preview.status_code == 200
    assert "1234.50" in preview.text and "Nowhere" in preview.text
    back = client.get(location, params=mapping)  # back from the preview: the choices kept
    assert back.status_code == 200
    done = run(client, location, mapping)
    assert done.status_code == 303 and done.headers["location"] == f"{location}/result"
    result = client.get(f"{location}/result")
    assert result.status_code == 200 and 'id="import-created">2<' in result.text
    stored = deals(crm_web)
    assert stored["Fresh"]["stage"] == "won" and stored["Fresh"]["company_id"] == 1
    assert str(stored["Fresh"]["amount"]) == "1234.50" and stored["Second"]["company_id"] == 2
    failed = client.get(f"{location}/failed.csv")
    assert failed.status_code == 200 and failed.headers["content-disposition"].endswith(
        'filename="deals-failed.csv"'
    )
    lines = failed.content.decode("utf-8-sig").splitlines()
    assert lines[0].endswith(",Problems") or len(lines) == 2
    assert "Nowhere" in lines[1]
    # imported once: the steps after it lead to the result
    assert client.get(location).headers["location"] == f"{location}/result"
    assert client.get(f"{location}/preview").headers["location"] == f"{location}/result"
    again = client.post(f"{location}/run", data={"csrf_token": token(result.text), **mapping})
    assert again.headers["location"] == f"{location}/result"


def test_rows_matching_ids_update_their_records(client: TestClient, crm_web: rt_crm.Crm) -> None:
    location = uploaded(client, b"id,Title,Amount\n1,Bigger,600\n#99,Ghost,1\nx,Bad,2\n1,Twice,3\n")
    mapping = {"c0": "id", "c1": "title", "c2": "amount", "match": "id"}
    preview = client.get(f"{location}/preview", params=mapping)
    assert preview.status_code == 200 and "Big" in preview.text
    assert run(client, location, mapping).status_code == 303
    result = client.get(f"{location}/result").text
    assert 'id="import-updated">1<' in result and 'id="import-created">0<' in result
    stored = deals(crm_web)
    assert "Bigger" in stored and "Big" not in stored and "Ghost" not in stored


def test_mapping_problems_send_back_to_the_preview(client: TestClient) -> None:
    location = uploaded(client, b"Title,Other\nA,B\n")
    preview = client.get(f"{location}/preview", params={"c0": "title", "c1": "title"})
    assert "Title" in preview.text
    nothing = {"c0": "", "c1": "", "match": "title"}
    csrf = token(preview.text)
    answer = client.post(f"{location}/run", data={"csrf_token": csrf, **nothing})
    assert answer.status_code == 303 and "/preview?" in answer.headers["location"]
    forged = client.post(f"{location}/run", data={"csrf_token": "x", "c0": "title"})
    assert forged.status_code == 403
    assert client.get(f"{location}/result").headers["location"] == location
    assert client.get(f"{location}/failed.csv").status_code == 404


def test_uploads_that_are_refused(client: TestClient) -> None:
    page = client.get("/deals/import")
    csrf = token(page.text)
    assert client.post("/deals/import", data={"csrf_token": csrf}).status_code == 400
    assert upload(client, b"\x00\x01garbage", name="bad.xlsx").status_code == 400
    empty = client.post(
        "/deals/import", data={"csrf_token": "x"}, files={"file": ("a.csv", b"a\n1\n", "text/csv")}
    )
    assert empty.status_code == 403
    big = client.post(
        "/deals/import", content=b"x", headers={"content-length": str(10**10), **ADMIN}
    )
    assert big.status_code == 413
    crowded = client.post(  # more fields than an upload form has
        "/deals/import",
        data={f"f{i}": "x" for i in range(6)},
        files={"file": ("a.csv", b"a\n1\n", "text/csv")},
    )
    assert crowded.status_code == 400
    assert client.get("/deals/import/" + "a" * 24).status_code == 404
    assert client.get("/deals/import/short").status_code == 404
    assert client.get("/deals/import", headers={"X-User": "clerk"}).status_code == 403
    assert client.get("/deals/import", headers={"X-User": ""}).status_code == 303


def test_an_upload_of_another_session_or_expired_is_gone(
    client: TestClient, crm_web: rt_crm.Crm
) -> None:
    location = uploaded(client, b"Title\nA\n")
    client.cookies.clear()
    assert client.get(location).status_code == 404
    uploads = imports.uploads_of(rt_crm.catalog)
    upload_id = location.rsplit("/", 1)[1]
    with crm_web.database.engine.begin() as connection:
        connection.execute(
            sa.update(uploads).where(uploads.c.id == upload_id).values(status="importing")
        )
    assert import_jobs.queue(crm_web.database, uploads, upload_id, {}, 1) is False  # once
    mine = uploaded(client, b"Title\nB\n")
    mine_id = mine.rsplit("/", 1)[1]
    with crm_web.database.engine.begin() as connection:
        connection.execute(
            sa.update(uploads)
            .where(uploads.c.id == mine_id)
            .values(status="importing", rows_total=1)
        )
    progress = client.get(f"{mine}/result")  # queued, no worker yet: its progress
    assert progress.status_code == 200 and 'http-equiv="refresh"' in progress.text
    gone = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    with crm_web.database.engine.begin() as connection:
        connection.execute(
            sa.update(uploads).where(uploads.c.id == mine_id).values(created_at=gone)
        )
    assert client.get(f"{mine}/result").status_code == 200  # being imported: never expires
    with crm_web.database.engine.begin() as connection:
        connection.execute(
            sa.update(uploads).where(uploads.c.id == mine_id).values(status="done", updated_at=gone)
        )
    assert client.get(mine).status_code == 404


def test_cells_are_read_as_their_fields_say(site: Site) -> None:
    words = imports.Words.of(site.messages)
    boolean = {"import": "boolean"}
    assert imports.api_value(boolean, "Да", words) is True
    assert imports.api_value(boolean, "no", words) is False
    assert imports.api_value(boolean, "maybe", words) == "maybe"
    assert imports.api_value(boolean, True, words) is True
    number = {"import": "number"}
    assert imports.api_value(number, "1.234,5") == "1234.5"
    assert imports.api_value(number, "1,234.5") == "1234.5"
    assert imports.api_value(number, 0.1 + 0.2) == "0.3"
    assert imports.api_value(number, 7) == 7 and imports.api_value(number, "n/a") == "n/a"
    assert imports.api_value({"import": "date"}, "31.12.2024") == "2024-12-31"
    assert imports.api_value({"import": "date"}, "2024-12-31 00:00") == "2024-12-31"
    assert imports.api_value({"import": "date"}, dt.date(2024, 1, 2)) == "2024-01-02"
    moment = imports.api_value({"import": "datetime"}, "1.2.2024 9:30")
    assert moment == "2024-02-01T09:30:00"
    choice = {"import": "choice", "choices": rt_web_stages()}
    assert imports.api_value(choice, "Выиграна") == "won"
    assert imports.api_value(choice, "other") == "other"
    assert imports.api_value({"import": "text"}, None) == ""
    time = {"import": "time"}
    assert imports.api_value(time, "09:30:00") == "09:30:00"  # a time cell, as the reader gives it
    assert imports.api_value(time, "09:30:15.250000") == "09:30:15"
    assert imports.api_value(time, 0.5) == "12:00:00"  # a day's fraction in a plain number cell
    assert imports.api_value(time, 0.9999999) == "0.9999999"  # rounds to 24:00: refused by the API
    assert imports.api_value(time, " 9:05 ") == "09:05"
    assert imports.api_value(time, "1899-12-30T18:45:00") == "18:45:00"
    assert imports.api_value(time, "noon") == "noon" and imports.api_value(time, 3) == "3"


def rt_web_stages() -> list[Any]:
    return [["new", {"en": "New"}], ["won", {"en": "Won", "ru": "Выиграна"}]]


def test_mapping_guesses_and_choices(site: Site) -> None:
    metas = [site.entities["deals"]["fields"][n] for n in ("title", "amount", "stage")]
    assert imports.guess_mapping(["TITLE", "amount", "Title", "?"], metas) == [
        "title",
        "amount",
        "",
        "",
    ]
    assert imports.mapping_of({"c0": "title", "c1": "nope"}, 3, metas) == ["title", "", ""]
    assert imports.match_of({"match": "title"}, ["id"]) == ""
    problems = imports.mapping_problems(site, ["id", "title"], "", metas, "en")
    assert len(problems) == 1
    store_table = Table(["a"], [(2, ["x" * 10])])
    assert store_table.headers == ["a"]


def test_a_reference_column_matches_the_field_its_link_shows(
    site: Site, crm_web: rt_crm.Crm
) -> None:
    """A link showing the company's secret (``display: secret``) matches cells by the secret;
    a seller, from whom the secret is hidden, matches by id only."""
    meta = {**site.entities["deals"]["fields"]["company"], "display": "secret"}
    rows = [(1, ["s1"]), (2, ["Acme"]), (3, ["#4"])]
    admin = imports.match_refs(site, crm_web.database, rt_crm.Crm.admin, [meta], rows, "en")
    assert admin["company"]["s1"] == 1 and admin["company"]["#4"] == 4
    assert admin["company"]["Acme"] == "No record has this name (Company): Acme"
    ann = imports.match_refs(site, crm_web.database, rt_crm.Crm.ann, [meta], rows, "en")
    assert isinstance(ann["company"]["s1"], str) and ann["company"]["#4"] == 4


def test_a_large_file_waits_for_the_worker_and_shows_its_progress(
    site: Site, web_client: WebClient, crm_web: rt_crm.Crm
) -> None:
    client = web_client(site_routes(site, imports), site=site, IMPORT_INLINE_ROWS="2")
    client.headers.update(ADMIN)
    rows = "".join(f"Deal {i},{i}\n" for i in range(5)) + ",9\n"  # the last has no title
    location = uploaded(client, f"Title,Amount\n{rows}".encode())
    mapping = {"c0": "title", "c1": "amount"}
    assert run(client, location, mapping).headers["location"] == f"{location}/result"
    waiting = client.get(f"{location}/result")  # more than IMPORT_INLINE_ROWS: the worker's
    assert waiting.status_code == 200 and 'http-equiv="refresh" content="3"' in waiting.text
    assert 'id="import-position">0<' in waiting.text and 'id="import-total">6<' in waiting.text
    assert "Deal 0" not in deals(crm_web)
    limits = dataclasses.replace(ImportLimits(), batch_rows=4)
    runner = import_jobs.ImportRunner(site, crm_web.database, limits, threading.Event())
    assert runner.run_one(user=rt_crm.Crm.admin) and not runner.run_one()  # then none is left
    done = client.get(f"{location}/result").text
    assert 'id="import-created">5<' in done and 'id="import-failed">1<' in done
    assert sorted(t for t in deals(crm_web) if t.startswith("Deal ")) == [
        f"Deal {i}" for i in range(5)
    ]
    failed = client.get(f"{location}/failed.csv").content.decode("utf-8-sig").splitlines()
    assert failed[0] == "Title,Amount,Problems" and failed[1].startswith(",9,")


def test_a_batch_whose_lease_was_taken_over_is_rolled_back(
    site: Site, web_client: WebClient, crm_web: rt_crm.Crm
) -> None:
    client = web_client(site_routes(site, imports), site=site, IMPORT_INLINE_ROWS="0")
    client.headers.update(ADMIN)
    location = uploaded(client, b"Title\nLate one\nLate two\n")
    assert run(client, location, {"c0": "title"}).status_code == 303
    uploads, upload_id = imports.uploads_of(rt_crm.catalog), location.rsplit("/", 1)[1]
    database = crm_web.database
    first = import_jobs.claim(database, uploads, dt.timedelta(0))  # a lease already over
    second = import_jobs.claim(database, uploads, dt.timedelta(minutes=1))  # taken over
    assert first is not None and second is not None and first[0] != second[0]
    assert import_jobs.claim(database, uploads, dt.timedelta(minutes=1)) is None  # held
    importer = imports.Importer(site, "deals", rt_crm.deals)
    table = Table(["Title"], [(2, ["Late one"]), (3, ["Late two"])])
    rows = importer.prepared(database, rt_crm.Crm.admin, table, ["title"], "en", None)
    stale = import_jobs.Progress(uploads, imports.failures_of(rt_crm.catalog), upload_id, first[0])
    with pytest.raises(import_jobs.LeaseLost):
        imports.import_chunk(
            site, database, rt_crm.deals, rt_crm.Crm.admin, rows, "", None, "en", stale
        )
    assert "Late one" not in deals(crm_web)  # the stale worker's batch was rolled back
    assert not import_jobs.renew(database, uploads, upload_id, first[0], dt.timedelta(minutes=1))


def test_the_progress_page_estimates_the_time_left() -> None:
    start = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    counts = {"rows_total": 400, "rows_done": 90, "rows_failed": 10, "started_at": start}
    halfway = imports.progress_of({**counts, "position": 100}, start + dt.timedelta(seconds=30))
    assert halfway["percent"] == 25 and halfway["seconds_left"] == 90
    waiting = imports.progress_of({**counts, "position": 0}, start)
    assert waiting["seconds_left"] is None and waiting["percent"] == 0
    naive = {**counts, "position": 200, "started_at": start.replace(tzinfo=None)}  # SQLite
    assert imports.progress_of(naive, start + dt.timedelta(seconds=10))["seconds_left"] == 10


def test_an_import_of_a_user_gone_since_imports_nothing(
    site: Site, web_client: WebClient, crm_web: rt_crm.Crm
) -> None:
    client = web_client(site_routes(site, imports), site=site, IMPORT_INLINE_ROWS="0")
    client.headers.update(ADMIN)
    location = uploaded(client, b"Title\nOrphan\n")
    assert run(client, location, {"c0": "title"}).status_code == 303
    with crm_web.database.engine.begin() as connection:  # every user deactivated since
        connection.execute(sa.update(rt_crm.User).values(active=False))
    runner = import_jobs.ImportRunner(site, crm_web.database, ImportLimits(), threading.Event())
    assert runner.run_one()  # as the worker: the user read afresh
    result = client.get(f"{location}/result").text
    assert 'id="import-failed">1<' in result and "can no longer import" in result
    assert "Orphan" not in deals(crm_web)


def test_a_stopping_worker_gives_its_import_back_between_batches(
    site: Site, web_client: WebClient, crm_web: rt_crm.Crm
) -> None:
    client = web_client(site_routes(site, imports), site=site, IMPORT_INLINE_ROWS="0")
    client.headers.update(ADMIN)
    location = uploaded(client, b"Title\nKept\n")
    assert run(client, location, {"c0": "title"}).status_code == 303
    stopped = threading.Event()
    stopped.set()  # SIGTERM came before the first batch
    limits = ImportLimits()
    runner = import_jobs.ImportRunner(site, crm_web.database, limits, stopped)
    assert runner.run_one(user=rt_crm.Crm.admin) and "Kept" not in deals(crm_web)
    uploads = imports.uploads_of(rt_crm.catalog)
    claimed = import_jobs.claim(crm_web.database, uploads, dt.timedelta(minutes=1))
    assert claimed is not None  # at once: the lease was given back
