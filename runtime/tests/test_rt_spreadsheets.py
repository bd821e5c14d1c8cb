"""``crmgen_runtime.spreadsheets``: uploaded CSV and XLSX tables, read within limits.

It reads what openpyxl reads, the way Excel files are really written, and every limit stops it.
The attacks over HTTP (bombs, hostile XML, oversized CSV) are in ``tests/security/files``.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Callable
from typing import Any

import openpyxl
import pytest
from conftest import MAIN, XlsxMaker
from crmgen_runtime import spreadsheets
from crmgen_runtime.spreadsheets import ImportLimits, Unreadable, read_table
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

Sheet = Callable[[list[list[str]]], str]


def read(name: str, data: bytes, **limits: Any) -> spreadsheets.Table:
    """The table of a file, read with the default limits changed by ``limits``."""
    return read_table(name, data, ImportLimits(**limits), "Column")


def refusal(name: str, data: bytes, **limits: Any) -> tuple[str, dict[str, Any]]:
    with pytest.raises(Unreadable) as caught:
        read(name, data, **limits)
    return caught.value.key, caught.value.values


def saved(book: openpyxl.Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- CSV ---------------------------------------------------------------------------------------


def test_a_csv_file_in_each_encoding_and_delimiter() -> None:
    text = "Name;City\n  Zoë ;Riga\n\nБорис;\n"
    expected = [(2, ["Zoë", "Riga"]), (4, ["Борис", None])]
    for data in (text.encode(), text.encode("utf-8-sig"), text.encode("utf-16")):
        table = read("people.csv", data)
        assert table.headers == ["Name", "City"] and table.rows == expected
    cyrillic = read("people.csv", "Имя\tГород\nБорис\tМосква\n".encode("cp1251"))
    assert cyrillic.headers == ["Имя", "Город"] and cyrillic.rows == [(2, ["Борис", "Москва"])]


def test_a_csv_header_cell_left_empty_is_named_by_its_column() -> None:
    table = read("t.csv", b"Name,,\nAnn,1,2\n")
    assert table.headers == ["Name", "Column 2", "Column 3"]
    assert table.rows == [(2, ["Ann", "1", "2"])]


def test_quoted_cells_span_lines() -> None:
    table = read("t.csv", b'Name,Note\nAnn,"two\nlines, one cell"\n')
    assert table.rows == [(2, ["Ann", "two\nlines, one cell"])]


@pytest.mark.parametrize(
    ("data", "limits", "expected"),
    [
        (b"Name\n", {}, ("import_empty", {})),
        (b"", {}, ("import_empty", {})),
        (b"Name\n" + b"x\n" * 4, {"rows": 3}, ("import_too_many_rows", {"max": 3})),
        (b"a,b,c\n1,2,3\n", {"columns": 2}, ("import_too_many_columns", {"max": 2})),
        (b"a,b\n1,2\n3,4\n", {"cells": 3}, ("import_too_many_cells", {"max": 3})),
        (b"a\n" + b"x" * 20 + b"\n", {"table_chars": 10}, ("import_too_big", {})),
        (
            b"a,b\n1," + b"x" * 20 + b"\n",
            {"cell_chars": 10},
            ("import_cell_too_long", {"max": 10, "row": 2, "column": "B"}),
        ),
        (b"a\n\xff\xfe", {}, None),  # cp1251 reads any byte
    ],
)
def test_csv_limits(
    data: bytes, limits: dict[str, Any], expected: tuple[str, dict[str, Any]] | None
) -> None:
    if expected is None:
        read("t.csv", data, **limits)
    else:
        assert refusal("t.csv", data, **limits) == expected


def test_a_line_of_too_many_delimiters_is_refused_before_csv_splits_it() -> None:
    data = b"a,b\n" + b"," * (spreadsheets.MAX_CSV_FIELDS + 1) + b"x\n"
    assert refusal("t.csv", data) == ("import_too_many_columns", {"max": 100})
    quoted = b'a,b\n"' + b"," * (spreadsheets.MAX_CSV_FIELDS + 1) + b'"\n'
    assert read("t.csv", quoted).rows[0][1][0] == "," * (spreadsheets.MAX_CSV_FIELDS + 1)


def test_finding_the_csv_delimiter_takes_linear_time() -> None:
    # csv.Sniffer's expressions take about a minute on each of these 64 KiB.
    for sample in (',"' * 32_768, '"a,' * 21_845, "a,'b'" * 13_107):
        began = time.monotonic()
        spreadsheets.delimiter_of(sample)
        assert time.monotonic() - began < 2


def test_the_delimiter_is_the_one_every_line_agrees_on() -> None:
    delimiter_of = spreadsheets.delimiter_of
    assert delimiter_of("Name;Revenue\nAcme;1 234,50\nBeta;7,5\n") == ";"
    assert delimiter_of('Name,Note\n"Acme","a; b; c"\n') == ","
    assert delimiter_of("Name\tCity\nAnn\tRiga, LV\n") == "\t"
    assert delimiter_of("Name\nAcme, Inc\n") == ";"  # one column: a comma stays in the cell
    assert delimiter_of("a,b\n" * 40_000) == ","  # a sample cut in the middle of a line


# --- file kinds and names ----------------------------------------------------------------------


def test_the_kind_of_a_file() -> None:
    assert spreadsheets.kind_of("a.XLSX", b"") == "xlsx"
    assert spreadsheets.kind_of("a.tsv", b"PK\x03\x04") == "csv"
    assert spreadsheets.kind_of("upload", b"PK\x03\x04...") == "xlsx"
    assert spreadsheets.kind_of("upload", b"Name\n") == "csv"
    for name, data in (("old.xls", b""), ("upload", spreadsheets.OLE_MAGIC + b"...")):
        with pytest.raises(Unreadable) as caught:
            spreadsheets.kind_of(name, data)
        assert caught.value.key == "import_old_excel"


def test_column_names_and_indexes() -> None:
    for index, name in ((0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"), (16383, "XFD")):
        assert spreadsheets.column_name(index) == name
        assert spreadsheets.column_index(name) == index
        assert spreadsheets.column_index(name.lower()) == index
    assert spreadsheets.column_index("") is None
    assert spreadsheets.column_index("ABCD") is None
    assert spreadsheets.column_index("A1") is None
    assert spreadsheets.mebibytes(10 * 2**20) == "10" and spreadsheets.mebibytes(2**19) == "0.5"


# --- XLSX --------------------------------------------------------------------------------------


def test_a_workbook_of_every_cell_kind_reads_as_openpyxl_reads_it() -> None:
    book = openpyxl.Workbook()  # shared strings and styles, as Excel writes them
    sheet = book.active
    assert sheet is not None
    sheet.append(["Text", "Whole", "Real", "Date", "Moment", "Time", "Flag", "Rich", "Gap", "End"])
    rich = CellRichText("plain ", TextBlock(InlineFont(b=True), "bold"))
    sheet.append(["  Ann  ", 42, 2.5, dt.date(1985, 4, 3), dt.datetime(2024, 1, 2, 9, 30)])
    sheet.append(["Bob", -7, 1e-7, dt.date(1900, 1, 1), dt.datetime(2024, 1, 2), dt.time(8, 15)])
    sheet.append([None, None, None, None, None, None, True, rich, None, "last"])
    sheet.append([])  # an empty row in between keeps the line numbers
    sheet.append(["Zoë 张", 0, 0.25, None, None, None, False])
    table = read("book.xlsx", saved(book))
    assert table.headers[:8] == ["Text", "Whole", "Real", "Date", "Moment", "Time", "Flag", "Rich"]
    lines = {line: cells for line, cells in table.rows}
    assert lines[2][:5] == ["Ann", 42, 2.5, "1985-04-03", "2024-01-02T09:30:00"]
    assert lines[3][:6] == ["Bob", -7, 1e-7, "1900-01-01", "2024-01-02", "08:15:00"]
    assert lines[4] == [None, None, None, None, None, None, True, "plain bold", None, "last"]
    assert 5 not in lines
    assert lines[6][:7] == ["Zoë 张", 0, 0.25, None, None, None, False]


def test_formula_cells_give_the_value_excel_saved(xlsx: XlsxMaker) -> None:
    sheet = (
        f'<worksheet xmlns="{MAIN}"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Sum</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>Name</t></is></c></row>'
        '<row r="2"><c r="A2"><f>1+2</f><v>3</v></c><c r="B2" t="str"><f>"A"&amp;"B"</f>'
        "<v>AB</v></c></row></sheetData></worksheet>"
    )
    assert read("f.xlsx", xlsx(sheet)).rows == [(2, [3, "AB"])]


def test_prefixed_names_phonetic_runs_and_the_1904_date_system(xlsx: XlsxMaker) -> None:
    sheet = (
        f'<x:worksheet xmlns:x="{MAIN}"><x:sheetData><x:row r="1">'
        '<x:c r="A1" t="s"><x:v>0</x:v></x:c><x:c r="B1" t="inlineStr"><x:is><x:t>When</x:t>'
        '</x:is></x:c></x:row><x:row r="3"><x:c r="A3" t="s"><x:v>1</x:v></x:c>'
        '<x:c r="B3" s="1"><x:v>1</x:v></x:c></x:row></x:sheetData></x:worksheet>'
    )
    strings = (
        f'<sst xmlns="{MAIN}"><si><t>Name</t></si><si><r><t>山田</t></r>'
        '<rPh sb="0" eb="2"><t>やまだ</t></rPh></si></sst>'
    )
    styles = (
        f'<styleSheet xmlns="{MAIN}"><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14"/>'
        "</cellXfs></styleSheet>"
    )
    table = read("jp.xlsx", xlsx(sheet, strings=strings, styles=styles, date1904=True))
    assert table.headers == ["Name", "When"]
    assert table.rows == [(3, ["山田", "1904-01-02"])]  # day 1 of the 1904 system


def test_custom_number_formats_tell_dates_from_durations(xlsx: XlsxMaker) -> None:
    sheet = (
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">'
        + "".join(f'<c r="{c}1" t="inlineStr"><is><t>{c}</t></is></c>' for c in "ABCDE")
        + '</row><row r="2"><c r="A2" s="0"><v>45000</v></c><c r="B2" s="1"><v>45000.5</v></c>'
        '<c r="C2" s="2"><v>1.5</v></c><c r="D2" s="3"><v>7</v></c><c r="E2" t="b"><v>0</v></c>'
        "</row></sheetData></worksheet>"
    )
    styles = (
        f'<styleSheet xmlns="{MAIN}"><numFmts><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/>'
        '<numFmt numFmtId="165" formatCode="[h]:mm"/><numFmt numFmtId="166" formatCode="&quot;day&quot; 0"/>'
        '</numFmts><cellXfs><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="165"/>'
        '<xf numFmtId="166"/></cellXfs></styleSheet>'
    )
    table = read("fmt.xlsx", xlsx(sheet, styles=styles))
    assert table.rows == [(2, [45000, "2023-03-15T12:00:00", 1.5, 7, False])]


def test_a_cell_of_a_date_beyond_datetime_is_a_value_error(xlsx: XlsxMaker) -> None:
    sheet = (
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>D</t>'
        '</is></c></row><row r="2"><c r="A2" s="0"><v>99999999</v></c></row>'
        '<row r="3"><c r="A3" t="d"><v>2024-02-03T00:00:00</v></c></row>'
        "</sheetData></worksheet>"
    )
    styles = f'<styleSheet xmlns="{MAIN}"><cellXfs><xf numFmtId="14"/></cellXfs></styleSheet>'
    assert read("d.xlsx", xlsx(sheet, styles=styles)).rows == [
        (2, ["#VALUE!"]),
        (3, ["2024-02-03"]),
    ]


def test_any_dtd_is_refused(xlsx: XlsxMaker, sheet: Sheet) -> None:
    document = "<?xml version='1.0'?><!DOCTYPE worksheet>" + sheet([["Name"], ["Ann"]])
    assert refusal("dtd.xlsx", xlsx(document)) == ("import_unreadable", {})


@pytest.mark.parametrize(
    "data",
    [b"PK\x03\x04 not a zip", b"", b"PK\x05\x06" + b"\0" * 18],
)
def test_what_is_not_a_zip_archive_is_unreadable(data: bytes) -> None:
    assert refusal("bad.xlsx", data) == ("import_unreadable", {})


def test_an_archive_without_a_worksheet_is_unreadable(xlsx: XlsxMaker) -> None:
    data = xlsx(f'<worksheet xmlns="{MAIN}"><sheetData>', extra={"x.txt": b"x"})
    assert refusal("cut.xlsx", data) == ("import_unreadable", {})


def test_a_shared_string_repeated_in_many_cells_counts_each_time(xlsx: XlsxMaker) -> None:
    sheet = (
        f'<worksheet xmlns="{MAIN}"><sheetData>'
        + "".join(
            f'<row r="{r}"><c r="A{r}" t="s"><v>{0 if r == 1 else 1}</v></c></row>'
            for r in range(1, 2001)
        )
        + "</sheetData></worksheet>"
    )
    strings = f'<sst xmlns="{MAIN}"><si><t>Name</t></si><si><t>{"x" * 30_000}</t></si></sst>'
    # 2,000 cells of 30,000 characters: 60 million, over the 32 MiB of text a table may hold.
    assert refusal("amplified.xlsx", xlsx(sheet, strings=strings)) == ("import_too_big", {})


def test_xlsx_cell_limits(xlsx: XlsxMaker, sheet: Sheet) -> None:
    data = xlsx(sheet([["Name"], ["x" * 20]]))
    assert refusal("long.xlsx", data, cell_chars=10) == (
        "import_cell_too_long",
        {"max": 10, "row": 2, "column": "A"},
    )
    many = xlsx(sheet([["Name"], *([f"r{i}"] for i in range(5))]))
    assert refusal("rows.xlsx", many, rows=3) == ("import_too_many_rows", {"max": 3})
    assert refusal("small.xlsx", many, unzipped_bytes=100)[0] == "import_unzipped_too_big"


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_reading_is_stopped_by_the_clock(kind: str, xlsx: XlsxMaker, sheet: Sheet) -> None:
    rows = [["Name"], *([f"Row {i}"] for i in range(3000))]
    if kind == "csv":
        data = "\n".join(row[0] for row in rows).encode()
    else:
        data = xlsx(sheet(rows))
    assert refusal(f"slow.{kind}", data, seconds=0) == ("import_too_slow", {"max": "0"})


def test_a_column_far_to_the_right_counts_only_when_filled(xlsx: XlsxMaker) -> None:
    sheet = (
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is>'
        '<t>Name</t></is></c><c r="XFD1" s="3"/></row><row r="2"><c r="A2" t="inlineStr">'
        "<is><t>Ann</t></is></c></row></sheetData></worksheet>"
    )
    assert read("styled.xlsx", xlsx(sheet)).rows == [(2, ["Ann"])]
    filled = sheet.replace('<c r="XFD1" s="3"/>', '<c r="XFD1"><v>1</v></c>')
    assert refusal("wide.xlsx", xlsx(filled)) == ("import_too_many_columns", {"max": 100})


def test_a_shared_string_over_the_cell_limit_says_so(xlsx: XlsxMaker) -> None:
    strings = f'<sst xmlns="{MAIN}"><si><t>Name</t></si><si><t>{"y" * 20}</t></si></sst>'
    shared = (
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row>'
        '<row r="2"><c r="A2" t="s"><v>1</v></c></row></sheetData></worksheet>'
    )
    assert refusal("long.xlsx", xlsx(shared, strings=strings), cell_chars=10) == (
        "import_cell_too_long",
        {"max": 10, "row": 2, "column": "A"},
    )
