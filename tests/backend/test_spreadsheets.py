"""The runtime's reader of uploaded tables (``crmgen_runtime.spreadsheets``), in process: it reads
what openpyxl reads, the way Excel files are really written, and every limit stops it.

The attacks over HTTP (bombs, hostile XML, oversized CSV) are in ``tests/security/files``.
"""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile
from typing import Any

import openpyxl
import pytest
from crmgen_runtime import spreadsheets
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from tests.backend.conftest import Generated, generated
from tests.security.files.uploads import MAIN, entry, sheet_xml, workbook


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return generated("crm", tmp_path_factory)


def read(gen: Generated, name: str, data: bytes, **limits: Any) -> Any:
    """The table of a file, read with the default limits changed by ``limits``."""
    chosen = spreadsheets.ImportLimits(**limits)
    return spreadsheets.read_table(name, data, chosen, "Column")


def refusal(gen: Generated, name: str, data: bytes, **limits: Any) -> tuple[str, dict[str, Any]]:
    with pytest.raises(spreadsheets.Unreadable) as caught:
        read(gen, name, data, **limits)
    return caught.value.key, caught.value.values


def saved(book: openpyxl.Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_workbook_of_every_cell_kind_reads_as_openpyxl_reads_it(gen: Generated) -> None:
    book = openpyxl.Workbook()  # shared strings and styles, as Excel writes them
    sheet = book.active
    sheet.append(["Text", "Whole", "Real", "Date", "Moment", "Time", "Flag", "Rich", "Gap", "End"])
    rich = CellRichText("plain ", TextBlock(InlineFont(b=True), "bold"))
    sheet.append(["  Ann  ", 42, 2.5, dt.date(1985, 4, 3), dt.datetime(2024, 1, 2, 9, 30)])
    sheet.append(["Bob", -7, 1e-7, dt.date(1900, 1, 1), dt.datetime(2024, 1, 2), dt.time(8, 15)])
    sheet.append([None, None, None, None, None, None, True, rich, None, "last"])
    sheet.append([])  # an empty row in between keeps the line numbers
    sheet.append(["Zoë 张", 0, 0.25, None, None, None, False])
    table = read(gen, "book.xlsx", saved(book))
    assert table.headers[:8] == ["Text", "Whole", "Real", "Date", "Moment", "Time", "Flag", "Rich"]
    lines = {line: cells for line, cells in table.rows}
    assert lines[2][:5] == ["Ann", 42, 2.5, "1985-04-03", "2024-01-02T09:30:00"]
    assert lines[3][:6] == ["Bob", -7, 1e-7, "1900-01-01", "2024-01-02", "08:15:00"]
    assert lines[4] == [None, None, None, None, None, None, True, "plain bold", None, "last"]
    assert 5 not in lines
    assert lines[6][:7] == ["Zoë 张", 0, 0.25, None, None, None, False]


def test_formula_cells_give_the_value_excel_saved(gen: Generated) -> None:
    sheet = (
        f'<worksheet xmlns="{MAIN}"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Sum</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>Name</t></is></c></row>'
        '<row r="2"><c r="A2"><f>1+2</f><v>3</v></c><c r="B2" t="str"><f>"A"&amp;"B"</f>'
        "<v>AB</v></c></row></sheetData></worksheet>"
    )
    table = read(gen, "f.xlsx", workbook(entry("xl/worksheets/sheet1.xml", sheet.encode())))
    assert table.rows == [(2, [3, "AB"])]


def test_prefixed_names_phonetic_runs_and_the_1904_date_system(gen: Generated) -> None:
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
    data = _with_parts(
        workbook(
            entry("xl/worksheets/sheet1.xml", sheet.encode()),
            entry("xl/sharedStrings.xml", strings.encode()),
            shared=True,
        ),
        {
            "xl/styles.xml": styles.encode(),
            "xl/_rels/workbook.xml.rels": None,  # adds the styles relationship
        },
        date1904=True,
    )
    table = read(gen, "jp.xlsx", data)
    assert table.headers == ["Name", "When"]
    assert table.rows == [(3, ["山田", "1904-01-02"])]  # day 1 of the 1904 system


def _with_parts(data: bytes, parts: dict[str, bytes | None], *, date1904: bool) -> bytes:
    """``data`` with ``parts`` added, a styles relationship, and the 1904 date system."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/_rels/workbook.xml.rels":
                content = content.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/'
                    b'officeDocument/2006/relationships/styles" Target="styles.xml"/>'
                    b"</Relationships>",
                )
            if item.filename == "xl/workbook.xml" and date1904:
                content = content.replace(b"<sheets>", b'<workbookPr date1904="1"/><sheets>')
            target.writestr(item.filename, content)
        for name, content in parts.items():
            if content is not None:
                target.writestr(name, content)
    return out.getvalue()


def test_any_dtd_is_refused(gen: Generated) -> None:
    sheet = b"<?xml version='1.0'?><!DOCTYPE worksheet>" + sheet_xml([["Name"], ["Ann"]])
    data = workbook(entry("xl/worksheets/sheet1.xml", sheet))
    assert refusal(gen, "dtd.xlsx", data) == ("import_unreadable", {})


def test_a_shared_string_repeated_in_many_cells_counts_each_time(gen: Generated) -> None:
    sheet = (
        f'<worksheet xmlns="{MAIN}"><sheetData>'
        + "".join(
            f'<row r="{r}"><c r="A{r}" t="s"><v>{0 if r == 1 else 1}</v></c></row>'
            for r in range(1, 2001)
        )
        + "</sheetData></worksheet>"
    )
    strings = f'<sst xmlns="{MAIN}"><si><t>Name</t></si><si><t>{"x" * 30_000}</t></si></sst>'
    data = workbook(
        entry("xl/worksheets/sheet1.xml", sheet.encode()),
        entry("xl/sharedStrings.xml", strings.encode()),
        shared=True,
    )
    # 2,000 cells of 30,000 characters: 60 million, over the 32 MiB of text a table may hold.
    assert refusal(gen, "amplified.xlsx", data) == ("import_too_big", {})


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_reading_is_stopped_by_the_clock(gen: Generated, kind: str) -> None:
    rows = [["Name"], *([f"Row {i}"] for i in range(3000))]
    if kind == "csv":
        data = "\n".join(row[0] for row in rows).encode()
    else:
        data = workbook(entry("xl/worksheets/sheet1.xml", sheet_xml(rows)))
    assert refusal(gen, f"slow.{kind}", data, seconds=0) == ("import_too_slow", {"max": "0"})


def test_a_column_far_to_the_right_counts_only_when_filled(gen: Generated) -> None:
    sheet = (
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is>'
        '<t>Name</t></is></c><c r="XFD1" s="3"/></row><row r="2"><c r="A2" t="inlineStr">'
        "<is><t>Ann</t></is></c></row></sheetData></worksheet>"
    )
    data = workbook(entry("xl/worksheets/sheet1.xml", sheet.encode()))
    assert read(gen, "styled.xlsx", data).rows == [(2, ["Ann"])]
    filled = sheet.replace('<c r="XFD1" s="3"/>', '<c r="XFD1"><v>1</v></c>')
    data = workbook(entry("xl/worksheets/sheet1.xml", filled.encode()))
    assert refusal(gen, "wide.xlsx", data) == ("import_too_many_columns", {"max": 100})


def test_finding_the_csv_delimiter_takes_linear_time(gen: Generated) -> None:
    # csv.Sniffer's expressions take about a minute on each of these 64 KiB.
    for sample in (',"' * 32_768, '"a,' * 21_845, "a,'b'" * 13_107):
        began = time.monotonic()
        spreadsheets.delimiter_of(sample)
        assert time.monotonic() - began < 2


def test_the_delimiter_is_the_one_every_line_agrees_on(gen: Generated) -> None:
    delimiter_of = spreadsheets.delimiter_of
    assert delimiter_of("Name;Revenue\nAcme;1 234,50\nBeta;7,5\n") == ";"
    assert delimiter_of('Name,Note\n"Acme","a; b; c"\n') == ","
    assert delimiter_of("Name\tCity\nAnn\tRiga, LV\n") == "\t"
    assert delimiter_of("Name\nAcme, Inc\n") == ";"  # one column: a comma stays in the cell


def test_limits_come_from_the_environment(gen: Generated) -> None:
    settings = gen.settings.load_settings({"IMPORT_MAX_ROWS": "7", "MAX_BODY_BYTES": "1000"})
    assert settings.imports.rows == 7 and settings.max_body_bytes == 1000
    assert gen.settings.load_settings({}).imports == spreadsheets.ImportLimits()
    for wrong in ("0", "1.5", "many"):
        with pytest.raises(ValueError, match="IMPORT_MAX_CELLS"):
            gen.settings.load_settings({"IMPORT_MAX_CELLS": wrong})
