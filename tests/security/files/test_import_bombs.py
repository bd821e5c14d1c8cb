"""Decompression bombs, hostile XML and oversized CSV in imports, over real HTTP (the
reference CRM on SQLite behind uvicorn, default limits).

Each hostile file is refused with a clear 4xx within seconds, in the user's language, while the
server's peak memory grows by less than 100 MB (``VmHWM`` of the uvicorn process, reset before
the upload), and nothing of it is stored.
"""

from __future__ import annotations

import http.server
import io
import random
import threading
import zipfile
from collections.abc import Iterator
from typing import ClassVar

import pytest

from tests.security.crm import Crm, start_crm
from tests.security.files.uploads import (
    MAIN,
    Entry,
    MiB,
    browser,
    entry,
    measured,
    message,
    page_error,
    raw_zip,
    repeated,
    sheet_xml,
    upload,
    workbook,
)

SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
BUDGET = 100 * 1024 * 1024  # the most a refused file may add to the server's peak memory
SECONDS = 10  # "within seconds", with room for a loaded machine
GB = 1430  # MiB units: 1.5 GB
HEAD = (
    f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"><sheetData>'
    '<row r="1"><c r="A1" t="inlineStr"><is><t>Full name</t></is></c></row>'
).encode()
TAIL = b"</sheetData></worksheet>"
# 4 KiB that hardly compress and 80 KiB that do: about 30 times smaller packed, under the
# ratio cap, so only the streaming reader's own caps can stop such an entry.
LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
MIXED = bytes(random.Random(4).choices(LETTERS, k=4096)) + b"A" * (80 * 1024)


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crm]:
    with start_crm("sqlite", tmp_path_factory) as running:
        yield running


def refused(
    crm: Crm, data: bytes, status: int, key: str, locale: str = "en", **values: object
) -> None:
    """Upload ``data`` as contacts.xlsx: refused with ``status`` and the message ``key`` (in
    ``locale``, filled with ``values``), quickly and cheaply, nothing stored, and the server
    still well."""
    with browser(crm, locale=locale) as client:
        before = crm.sql("SELECT count(*) FROM crm_import_uploads")[0][0]
        with measured(crm) as cost:
            answer = upload(client, "contacts", "contacts.xlsx", data)
        print(f"\n{key}: {cost.seconds:.2f} s, peak +{cost.peak_growth / MiB:.1f} MiB")
        assert cost.seconds < SECONDS, cost
        assert cost.peak_growth < BUDGET, f"peak memory grew by {cost.peak_growth / MiB:.0f} MiB"
        assert answer.status_code == status, answer.text[-2000:]
        assert page_error(answer.text) == message(key, locale, **values)
        assert crm.sql("SELECT count(*) FROM crm_import_uploads")[0][0] == before
        assert client.get("/healthz").status_code == 200


def test_an_inline_cell_of_1_5_gb_is_refused_in_the_users_language(crm: Crm) -> None:
    cell = b'<row r="2"><c r="A2" t="inlineStr"><is><t>'
    bomb = repeated(SHEET, HEAD + cell, b"A" * MiB, GB, b"</t></is></c></row>" + TAIL)
    data = workbook(bomb)
    assert len(data) < 2 * MiB
    refused(crm, data, 413, "import_unzipped_too_big", locale="ru", max=256)


def test_a_bomb_through_the_shared_strings_is_refused(crm: Crm) -> None:
    sheet = entry(
        SHEET,
        (
            f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row>'
            '<row r="2"><c r="A2" t="s"><v>1</v></c></row></sheetData></worksheet>'
        ).encode(),
    )
    head = f'<sst xmlns="{MAIN}"><si><t>Full name</t></si><si><t>'.encode()
    strings = repeated(STRINGS, head, b"B" * MiB, GB, b"</t></si></sst>")
    refused(crm, workbook(sheet, strings, shared=True), 413, "import_unzipped_too_big", max=256)


def test_a_200_mb_cell_under_the_ratio_cap_stops_at_the_cell_limit(crm: Crm) -> None:
    cell = b'<row r="2"><c r="B2" t="inlineStr"><is><t>'
    units = 200 * MiB // len(MIXED)
    big = repeated(SHEET, HEAD + cell, MIXED, units, b"</t></is></c></row>" + TAIL)
    assert 10 < big.size / len(big.compressed) < 100
    refused(crm, workbook(big), 413, "import_cell_too_long", max=32767, column="B", row=2)


def test_a_200_mb_sheet_packed_a_thousand_times_is_refused(crm: Crm) -> None:
    cell = b'<row r="2"><c r="A2" t="inlineStr"><is><t>'
    bomb = repeated(SHEET, HEAD + cell, b"A" * MiB, 200, b"</t></is></c></row>" + TAIL)
    refused(crm, workbook(bomb), 413, "import_compressed_too_much", max=100)


def test_a_200_mb_comment_is_refused(crm: Crm) -> None:
    # expat holds a comment (or a tag) whole until it ends: it must not be fed one that big.
    units = 200 * MiB // len(MIXED)
    big = repeated(SHEET, HEAD + b"<!--", MIXED, units, b"-->" + TAIL)
    refused(crm, workbook(big), 400, "import_unreadable")


def test_an_entry_larger_than_it_declares_is_never_inflated_past_its_declared_size(
    crm: Crm,
) -> None:
    cell = b'<row r="2"><c r="A2" t="inlineStr"><is><t>'
    bomb = repeated(SHEET, HEAD + cell, b"A" * MiB, GB, b"</t></is></c></row>" + TAIL)
    lying = Entry(bomb.name, bomb.compressed, bomb.size, bomb.crc, declared=20_000)
    with browser(crm) as client:
        with measured(crm) as cost:
            answer = upload(client, "contacts", "contacts.xlsx", workbook(lying))
        print(f"\nlying size: {cost.seconds:.2f} s, peak +{cost.peak_growth / MiB:.1f} MiB")
        assert answer.status_code in (400, 413), answer.text[-2000:]
        assert cost.seconds < SECONDS and cost.peak_growth < BUDGET, cost


def test_billion_laughs_is_refused(crm: Crm) -> None:
    entities = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )
    sheet = (
        f'<?xml version="1.0"?><!DOCTYPE worksheet [{entities}]><worksheet xmlns="{MAIN}">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Full name</t></is></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>&a9;</t></is></c></row></sheetData>'
        "</worksheet>"
    )
    refused(crm, workbook(entry(SHEET, sheet.encode())), 400, "import_unreadable")


class _Hits(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"FETCHED-BY-THE-SERVER")

    def log_message(self, *args: object) -> None:
        pass


def test_external_entities_are_never_fetched(crm: Crm) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hits)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for system in (f"http://127.0.0.1:{server.server_port}/xxe", "file:///etc/passwd"):
            sheet = (
                f'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY x SYSTEM "{system}">]>'
                f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is>'
                '<t>Full name</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is>'
                "<t>&x;</t></is></c></row></sheetData></worksheet>"
            )
            refused(crm, workbook(entry(SHEET, sheet.encode())), 400, "import_unreadable")
    finally:
        server.shutdown()
        server.server_close()
    assert _Hits.hits == []


def test_an_archive_of_many_entries_is_refused_before_it_is_opened(crm: Crm) -> None:
    book = workbook(entry(SHEET, sheet_xml([["Full name"], ["Many Entries"]])))
    # 100,000 empty entries fit in 5 MB; Python's zipfile would build an object for each.
    filler = [Entry(f"x/{i:x}", b"", 0, 0, method=0) for i in range(100_000)]
    data = raw_zip([*_entries_of(book), *filler])
    assert len(data) < 10 * MiB
    with browser(crm) as client:
        with measured(crm) as cost:
            answer = upload(client, "contacts", "contacts.xlsx", data)
        print(f"\nmany entries: {cost.seconds:.2f} s, peak +{cost.peak_growth / MiB:.1f} MiB")
        assert cost.seconds < SECONDS and cost.peak_growth < 40 * MiB, cost
        assert answer.status_code == 400 and page_error(answer.text) == message("import_unreadable")


def test_an_archive_naming_an_entry_twice_is_refused(crm: Crm) -> None:
    first = entry(SHEET, sheet_xml([["Full name"], ["Shown To Excel"]]))
    second = entry(SHEET, sheet_xml([["Full name"], ["Read By The App"]]))
    data = workbook(first, second)
    refused(crm, data, 400, "import_unreadable")


def _entries_of(data: bytes) -> list[Entry]:
    """The entries of a zip made by ``raw_zip`` (to add more to it)."""
    found = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for item in archive.infolist():
            content = archive.read(item)
            found.append(entry(item.filename, content))
    return found


# --- CSV -----------------------------------------------------------------------------------


def refused_csv(crm: Crm, data: bytes, key: str, **values: object) -> None:
    with browser(crm) as client:
        with measured(crm) as cost:
            answer = upload(client, "contacts", "contacts.csv", data)
        print(f"\n{key}: {cost.seconds:.2f} s, peak +{cost.peak_growth / MiB:.1f} MiB")
        assert cost.seconds < SECONDS and cost.peak_growth < BUDGET, cost
        assert answer.status_code == 413, answer.text[-2000:]
        assert page_error(answer.text) == message(key, **values)


def test_a_csv_cell_of_200_kb_is_refused_with_its_place(crm: Crm) -> None:
    data = b"Full name,Note\nAnn," + b"x" * 200_000 + b"\n"
    refused_csv(crm, data, "import_cell_too_long", max=32767, column="B", row=2)


def test_a_csv_line_of_nine_million_columns_is_refused(crm: Crm) -> None:
    data = b"Full name" + b",x" * 4_500_000 + b"\nAnn\n"
    refused_csv(crm, data, "import_too_many_columns", max=100)


def test_a_csv_of_more_rows_than_allowed_is_refused(crm: Crm) -> None:
    data = b"Full name\n" + b"".join(b"R%d\n" % i for i in range(50_001))
    refused_csv(crm, data, "import_too_many_rows", max=50000)


def test_a_ten_mb_windows_1251_csv_is_read_within_seconds(crm: Crm) -> None:
    line = "Иван Петров;Москва, ул. Тверская;" + "ё" * 180 + "\n"
    data = ("Полное имя;Адрес;Примечание\n" + line * (9 * MiB // len(line))).encode("cp1251")
    with browser(crm) as client:
        with measured(crm) as cost:
            answer = upload(client, "contacts", "contacts.csv", data)
        assert answer.status_code == 303, page_error(answer.text)
        assert cost.seconds < SECONDS, cost
