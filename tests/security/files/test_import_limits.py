"""Every import limit is a setting and holds for CSV and XLSX alike, over real HTTP (the
reference CRM on SQLite behind uvicorn, started with small limits): a file at a limit imports,
one past it is refused with a message naming the limit, and nothing of it is stored."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from tests.security.crm import Crm, start_crm
from tests.security.files.uploads import (
    browser,
    entry,
    message,
    page_error,
    sheet_xml,
    upload,
    workbook,
)

LIMITS = {
    "IMPORT_MAX_FILE_BYTES": "200000",
    "IMPORT_MAX_ROWS": "20",
    "IMPORT_MAX_COLUMNS": "5",
    "IMPORT_MAX_CELLS": "60",
    "IMPORT_MAX_CELL_CHARS": "50",
    "IMPORT_MAX_TABLE_CHARS": "3000",
    "IMPORT_MAX_UNZIPPED_BYTES": "500000",
}
FORMATS = ("csv", "xlsx")


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crm]:
    with start_crm("sqlite", tmp_path_factory, env=LIMITS) as running:
        yield running


@pytest.fixture(scope="module")
def client(crm: Crm) -> Iterator[httpx.Client]:
    with browser(crm) as signed_in:
        yield signed_in


def table(rows: int, columns: int = 1, chars: int = 8) -> list[list[str]]:
    """A header (``Full name`` first) and ``rows`` rows of ``columns`` cells of ``chars``."""
    header = ["Full name", *(f"Extra {i}" for i in range(1, columns))]
    return [header] + [
        [f"{r:0{chars}d}"[-chars:] + "" for _ in range(columns)] for r in range(rows)
    ]


def file_of(kind: str, rows: list[list[str]]) -> bytes:
    if kind == "csv":
        return "\n".join(",".join(row) for row in rows).encode()
    return workbook(entry("xl/worksheets/sheet1.xml", sheet_xml(rows)))


def accepted(client: httpx.Client, kind: str, rows: list[list[str]]) -> None:
    answer = upload(client, "contacts", f"contacts.{kind}", file_of(kind, rows))
    assert answer.status_code == 303, page_error(answer.text)


def refused(client: httpx.Client, kind: str, data: bytes, expected: str) -> None:
    answer = upload(client, "contacts", f"contacts.{kind}", data)
    assert answer.status_code == 413, answer.text[-2000:]
    assert page_error(answer.text) == expected


@pytest.mark.parametrize("kind", FORMATS)
def test_rows(client: httpx.Client, kind: str) -> None:
    accepted(client, kind, table(20))
    refused(client, kind, file_of(kind, table(21)), message("import_too_many_rows", max=20))


@pytest.mark.parametrize("kind", FORMATS)
def test_columns(client: httpx.Client, kind: str) -> None:
    accepted(client, kind, table(2, columns=5))
    accepted(client, kind, [row + [""] for row in table(2, columns=5)])  # empty: no column
    wide = table(2, columns=6)
    refused(client, kind, file_of(kind, wide), message("import_too_many_columns", max=5))


@pytest.mark.parametrize("kind", FORMATS)
def test_cells(client: httpx.Client, kind: str) -> None:
    accepted(client, kind, table(12, columns=5))  # 12 rows of 5: 60 cells
    expected = message("import_too_many_cells", max=60)
    refused(client, kind, file_of(kind, table(13, columns=5)), expected)


@pytest.mark.parametrize("kind", FORMATS)
def test_a_cells_text(client: httpx.Client, kind: str) -> None:
    rows = table(3, columns=2)
    rows[2][1] = "x" * 50
    accepted(client, kind, rows)
    rows[2][1] = "x" * 51
    expected = message("import_cell_too_long", max=50, column="B", row=3)
    refused(client, kind, file_of(kind, rows), expected)


@pytest.mark.parametrize("kind", FORMATS)
def test_the_text_of_all_cells(client: httpx.Client, kind: str) -> None:
    rows = table(12, columns=5, chars=50)  # 3,000 characters below the header
    refused(client, kind, file_of(kind, rows), message("import_too_big"))


def test_the_file_itself(client: httpx.Client) -> None:
    data = b"Full name\nAnn\n" + b"\n" * (200_000 - 14)
    answer = upload(client, "contacts", "contacts.csv", data)
    assert answer.status_code == 303, page_error(answer.text)
    refused(client, "csv", data + b"\n", message("import_too_big"))


def test_the_unpacked_size_of_an_xlsx(client: httpx.Client) -> None:
    filler = "".join(f'<u v="{os.urandom(20).hex()}"/>' + "A" * 100 for _ in range(4000))
    sheet = sheet_xml([["Full name"], ["Ann"]]).replace(
        b"<sheetData>", filler.encode() + b"<sheetData>"
    )
    assert len(sheet) > 500_000
    data = workbook(entry("xl/worksheets/sheet1.xml", sheet))
    assert len(data) < 200_000
    refused(client, "xlsx", data, message("import_unzipped_too_big", max="0.477"))


def test_the_upload_page_states_the_limits(client: httpx.Client) -> None:
    page = client.get("/contacts/import")
    assert "0.191 MiB, 20 " in page.text, page.text
