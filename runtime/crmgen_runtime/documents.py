"""Documents: records printed as PDF (fpdf2) or XLSX (openpyxl), after the spec's print formats.

``build`` reads a record and its lines with the reader's rights, so a document shows only what
they may see: another seller's invoice is not found, hidden fields are left out, and the lines
come through their own entity's rules. It gives a ``Document`` (title, header fields, line
rows, total, footer), each value both as data and as text in the reader's locale; ``to_pdf``
and ``to_xlsx`` render it. No clock goes into the files: the same record gives the same bytes.

The PDF font is DejaVu Sans (``fonts/``, with its licence). It covers Latin, Cyrillic and Greek
but has no Chinese, Japanese or Korean glyphs: the PDF leaves those characters out (fpdf2 logs
which), while the XLSX keeps every character.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from babel import numbers as babel_numbers
from jinja2 import Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from crmgen_runtime import assets, permissions
from crmgen_runtime.db import Database
from crmgen_runtime.decimals import add, spreadsheet_number
from crmgen_runtime.errors import ApiError, not_found
from crmgen_runtime.formats import Formats, babel_locale
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.queries import MAX_LIMIT
from crmgen_runtime.reads import fetch_one, list_records
from crmgen_runtime.resources import Catalog, Resource

FONTS = assets.FONTS  # DejaVu Sans, with its licence, in the runtime
FONT = "DejaVu"
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MAX_LINES = 2000  # line rows a document prints at most
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # the files' date for a record without one
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # every XLSX part's date, so the bytes do not depend on the clock
NUMBER_FORMATS = {
    "integer": "#,##0",
    "bigint": "#,##0",
    "decimal": "#,##0.00",
    "float": "General",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}
_TEMPLATES = SandboxedEnvironment(autoescape=False)


@dataclass(frozen=True)
class Reader:
    """Who reads a document: the user, their locale and how to say things in it."""

    user: CurrentUser | None
    locale: str
    pick: Callable[[dict[str, str] | None], str]  # a spec label ({locale: text}) in the locale
    word: Callable[[str], str]  # one of the UI's words ("yes", "no") in the locale


@dataclass(frozen=True)
class Cell:
    """One value: ``value`` for spreadsheets (a number, a date or text), ``text`` for people."""

    value: Any
    text: str
    type: str = "string"
    currency: str | None = None


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    type: str


@dataclass(frozen=True)
class Document:
    name: str
    label: str
    locale: str
    title: str
    fields: tuple[tuple[str, Cell], ...]
    columns: (
        tuple[Column, ...] | None
    )  # None: no lines (none declared, or the reader may not see them)
    rows: tuple[tuple[Cell, ...], ...]
    total: tuple[str, Cell] | None
    footer: str
    stamp: dt.datetime  # when the record last changed: the files' date
    filename: str  # without the extension


# --- building a document ---------------------------------------------------------------------


def may_print(spec: dict[str, Any], user: CurrentUser | None, catalog: Catalog) -> bool:
    """Whether ``user``'s roles may print the document (reading the record is checked apart)."""
    if user is None:
        return False
    roles = spec["roles"]
    return not roles or catalog.is_superuser(user) or user.has_role(*roles)


def build(
    database: Database, resource: Resource, spec: dict[str, Any], record_id: int, reader: Reader
) -> Document:
    """The document ``spec`` of record ``record_id``; 401, 403 or 404 as the API answers."""
    permissions.require(resource, reader.user, "read")
    catalog = resource.catalog
    formats = catalog.config.formats
    if not may_print(spec, reader.user, catalog):
        raise ApiError(403, "forbidden", f"You may not print {reader.pick(spec['label'])}.")
    with database.engine.connect() as connection:
        record = fetch_one(connection, resource, reader.user, record_id, action="read")
        if record is None:
            raise not_found(resource.label)
        source = _lines_source(connection, resource, record, spec["lines"], reader.user)
    readable = permissions.readable(resource, reader.user)
    fields = tuple(
        (reader.pick(meta["label"]), cell(meta, record.get(meta["name"]), reader, formats))
        for meta in spec["fields"]
        if meta["name"] in readable
    )
    columns, rows = _lines(database, catalog, spec["lines"], source, reader)
    values = _template_values(spec, record, readable, reader, catalog)
    default_title = (
        f"{reader.pick(spec['entity_label'])} {values.get(spec['display']) or record['id']}"
    )
    stamp = record.get("updated_at") or record.get("created_at") or EPOCH
    return Document(
        name=spec["name"],
        label=reader.pick(spec["label"]),
        locale=reader.locale,
        title=_render(reader.pick(spec["title"]), values) or default_title,
        fields=fields,
        columns=columns,
        rows=rows,
        total=_total(spec["total"], record, readable, columns, rows, reader, formats),
        footer=_render(reader.pick(spec["footer"]), values),
        stamp=stamp,
        filename=f"{spec['name']}-{values.get(spec['display']) or record['id']}",
    )


def _lines_source(
    connection: Any,
    resource: Resource,
    record: dict[str, Any],
    lines: dict[str, Any] | None,
    user: CurrentUser | None,
) -> dict[str, Any] | None:
    """The record whose reverse relation holds the lines: ``record``, or the one its to-one
    references lead to (each read with the reader's rights); None when out of reach."""
    if lines is None:
        return None
    current, owner = record, resource
    for name in lines["refs"]:
        link = current.get(name)
        if not isinstance(link, dict):
            return None  # empty, or hidden from the reader
        owner = owner.target(owner.fields[name])
        try:
            found = fetch_one(connection, owner, user, link["id"], action="read")
        except ApiError:
            return None  # the reader may not read that entity
        if found is None:
            return None
        current = found
    return current


def _lines(
    database: Database,
    catalog: Catalog,
    lines: dict[str, Any] | None,
    source: dict[str, Any] | None,
    reader: Reader,
) -> tuple[tuple[Column, ...] | None, tuple[tuple[Cell, ...], ...]]:
    """The columns the reader may see and the rows, listed through the API's own rules."""
    if lines is None or source is None:
        return None, ()
    rows_resource = catalog.by_name[lines["entity"]]
    formats = catalog.config.formats
    readable = permissions.readable(rows_resource, reader.user)
    metas = [meta for meta in lines["columns"] if meta["name"] in readable]
    params = [(lines["link"], str(source["id"])), ("sort", "id"), ("limit", str(MAX_LIMIT))]
    items: list[dict[str, Any]] = []
    try:
        page = list_records(database, rows_resource, reader.user, params, count=False)
        items += page["items"]
        while page["next_cursor"] and len(items) < MAX_LINES:
            cursor = [("cursor", page["next_cursor"])]
            page = list_records(database, rows_resource, reader.user, params + cursor, count=False)
            items += page["items"]
    except ApiError:
        return None, ()  # the reader may not list the lines
    columns = tuple(
        Column(meta["name"], reader.pick(meta["label"]), meta["type"]) for meta in metas
    )
    rows = tuple(
        tuple(cell(meta, item.get(meta["name"]), reader, formats) for meta in metas)
        for item in items[:MAX_LINES]
    )
    return columns, rows


def _total(
    total: dict[str, Any] | None,
    record: dict[str, Any],
    readable: frozenset[str],
    columns: tuple[Column, ...] | None,
    rows: tuple[tuple[Cell, ...], ...],
    reader: Reader,
    formats: Formats,
) -> tuple[str, Cell] | None:
    """The record's total field, or the sum of a line column (when the reader sees both)."""
    if total is None:
        return None
    label = reader.pick(total["label"])
    if not total["sum"]:
        if total["name"] not in readable:
            return None
        return label, cell(total, record.get(total["name"]), reader, formats)
    if columns is None:
        return None
    index = next((i for i, c in enumerate(columns) if c.name == total["name"]), None)
    if index is None:
        return None  # the column is hidden from the reader
    amounts = [_decimal(row[index].value) for row in rows if row[index].value is not None]
    return label, cell(total, add(amounts) or Decimal(0), reader, formats)


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _template_values(
    spec: dict[str, Any],
    record: dict[str, Any],
    readable: frozenset[str],
    reader: Reader,
    catalog: Catalog,
) -> dict[str, str]:
    """What a title or footer may use: the record's fields as text, ``id`` and ``today``."""
    config = catalog.config
    formats = config.formats
    values = {
        meta["name"]: cell(meta, record.get(meta["name"]), reader, formats).text
        for meta in spec["template_fields"]
        if meta["name"] in readable
    }
    values["id"] = str(record["id"])
    values["today"] = formats.format_day(config.clock.today(), reader.locale)
    return values


def _render(source: str, values: dict[str, str]) -> str:
    """A title or footer; the spec's templates were checked, so an error here leaves it empty."""
    if not source:
        return ""
    try:
        return _template(source).render(values).strip()
    except (TemplateError, TypeError, ValueError, ArithmeticError):
        return ""


@lru_cache(maxsize=256)
def _template(source: str) -> Template:
    return _TEMPLATES.from_string(source)


# --- values as people read them --------------------------------------------------------------


def cell(meta: dict[str, Any], value: Any, reader: Reader, formats: Formats) -> Cell:
    """``value`` of the field ``meta`` as a spreadsheet value and as text in the locale
    (``formats``: the app's, ``catalog.config.formats``)."""
    kind = meta["type"]
    if value is None:
        return Cell(None, "", kind, meta.get("currency"))
    if isinstance(value, dict) and "id" in value:  # a reference: its display text
        text = str(value.get("display") or f"#{value['id']}")
        return Cell(text, text)
    if meta.get("choices"):
        label = next(
            (reader.pick(lab) for name, lab in meta["choices"] if name == value), str(value)
        )
        return Cell(label, label)
    if isinstance(value, bool):
        text = reader.word("yes" if value else "no")
        return Cell(text, text)
    if kind == "money":
        currency = meta.get("currency")
        amount = _decimal(value)
        text = (
            formats.format_money(amount, reader.locale, currency)
            if currency
            else babel_numbers.format_decimal(
                amount, "#,##0.00", locale=babel_locale(reader.locale)
            )
        )
        return Cell(amount, text, kind, currency)
    if kind in ("integer", "bigint", "decimal", "float") and isinstance(
        value, (int, float, Decimal)
    ):
        return Cell(value, formats.format_number(value, reader.locale), kind)
    if isinstance(value, dt.datetime):  # stored in UTC, shown (and written) in the app's zone
        local = formats.as_moment(value)
        assert local is not None
        return Cell(
            local.replace(tzinfo=None), formats.format_moment(value, reader.locale), "datetime"
        )
    if isinstance(value, dt.date):
        return Cell(value, formats.format_day(value, reader.locale), "date")
    return Cell(str(value), str(value))


# --- files -----------------------------------------------------------------------------------


def disposition(doc: Document, fmt: str) -> str:
    """``Content-Disposition``: an ASCII-safe file name, and the exact one for modern clients."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", doc.filename).strip("-.") or doc.name
    exact = quote(f"{doc.filename}.{fmt}", safe="")
    return f"attachment; filename=\"{safe}.{fmt}\"; filename*=UTF-8''{exact}"


@lru_cache(maxsize=1)
def _pdf_class() -> type:
    """The PDF writer: fpdf2 is imported on the first document, not when the app starts."""
    from fpdf import FPDF

    class Pdf(FPDF):
        """A4 pages with the document's name and the page number at the bottom."""

        def __init__(self, doc: Document) -> None:
            super().__init__(format="A4")
            self.doc = doc

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(FONT, "", 8)
            self.set_text_color(110)
            self.cell(0, 6, f"{self.doc.label} · {self.page_no()}/{{nb}}", align="C")

    return Pdf


def to_pdf(doc: Document) -> bytes:
    from fpdf import FontFace

    pdf = _pdf_class()(doc)
    pdf.set_creation_date(doc.stamp)
    pdf.set_title(doc.title)
    pdf.set_lang(doc.locale)
    pdf.add_font(FONT, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(0, 8, doc.title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(FONT, "", 10)
    bold = FontFace(emphasis="BOLD")
    if doc.fields:
        with pdf.table(
            borders_layout="NONE", first_row_as_headings=False, col_widths=(1, 2), padding=1
        ) as table:
            for label, value in doc.fields:
                row = table.row()
                row.cell(label, style=bold)
                row.cell(value.text)
        pdf.ln(4)
    if doc.columns:
        numeric = [c.type in NUMBER_FORMATS or c.type == "money" for c in doc.columns]
        with pdf.table(
            borders_layout="HORIZONTAL_LINES",
            col_widths=tuple(1 if n else 2 for n in numeric),
            text_align=tuple("RIGHT" if n else "LEFT" for n in numeric),
            headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
            padding=1.5,
        ) as table:
            heading = table.row()
            for column in doc.columns:
                heading.cell(column.label)
            for cells in doc.rows:
                row = table.row()
                for value in cells:
                    row.cell(value.text)
    if doc.total is not None:
        label, value = doc.total
        pdf.ln(3)
        pdf.set_font(FONT, "B", 12)
        pdf.cell(0, 8, f"{label}: {value.text}", align="R", new_x="LMARGIN", new_y="NEXT")
    if doc.footer:
        pdf.ln(6)
        pdf.set_font(FONT, "", 9)
        pdf.multi_cell(0, 5, doc.footer)
    return bytes(pdf.output())


def _number_format(value: Cell) -> str | None:
    if value.type == "money":
        return f'#,##0.00 "{value.currency}"' if value.currency else "#,##0.00"
    return NUMBER_FORMATS.get(value.type)


def _put(sheet: Any, row: int, column: int, value: Cell, *, bold: bool = False) -> None:
    from openpyxl.styles import Font  # type: ignore[import-untyped]

    target = sheet.cell(row=row, column=column, value=spreadsheet_number(value.value))
    number_format = _number_format(value)
    if number_format and value.value is not None:
        target.number_format = number_format
    if bold:
        target.font = Font(bold=True)


def _sheet_title(label: str) -> str:
    """A worksheet name Excel accepts: at most 31 characters, none of []:*?/\\."""
    return re.sub(r"[\[\]:*?/\\]", " ", label).strip()[:31] or "Document"


def to_xlsx(doc: Document) -> bytes:
    # openpyxl is imported on the first document, not when the app starts
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Font
    from openpyxl.writer.excel import ExcelWriter  # type: ignore[import-untyped]

    book = Workbook()
    sheet = book.active
    sheet.title = _sheet_title(doc.label)
    stamp = doc.stamp.astimezone(dt.UTC).replace(tzinfo=None)
    book.properties.created = book.properties.modified = stamp
    book.properties.title = doc.title
    book.properties.language = doc.locale
    sheet.cell(row=1, column=1, value=doc.title).font = Font(bold=True, size=14)
    row = 3
    for label, value in doc.fields:
        _put(sheet, row, 1, Cell(label, label), bold=True)
        _put(sheet, row, 2, value)
        row += 1
    width = max(len(doc.columns or ()), 2)
    if doc.columns:
        row += 1
        for index, column in enumerate(doc.columns, start=1):
            _put(sheet, row, index, Cell(column.label, column.label), bold=True)
        for cells in doc.rows:
            row += 1
            for index, value in enumerate(cells, start=1):
                _put(sheet, row, index, value)
        row += 1
    if doc.total is not None:
        label, value = doc.total
        row += 1
        _put(sheet, row, width - 1, Cell(label, label), bold=True)
        _put(sheet, row, width, value, bold=True)
    if doc.footer:
        sheet.cell(row=row + 2, column=1, value=doc.footer)
    _fit_columns(sheet, doc, width)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(book, archive).write_data()
    return _without_dates(buffer.getvalue())


def _fit_columns(sheet: Any, doc: Document, width: int) -> None:
    """Column widths from the longest text in each (the title and footer may overflow)."""
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

    texts: list[list[str]] = [[label, value.text] for label, value in doc.fields]
    if doc.columns:
        texts.append([c.label for c in doc.columns])
        texts += [[value.text for value in cells] for cells in doc.rows]
    if doc.total is not None:
        texts.append([""] * (width - 2) + [doc.total[0], doc.total[1].text])
    for index in range(width):
        longest = max((len(line[index]) for line in texts if index < len(line)), default=0)
        sheet.column_dimensions[get_column_letter(index + 1)].width = min(max(longest + 2, 10), 60)


def _without_dates(data: bytes) -> bytes:
    """The same archive with every part dated ``ZIP_DATE`` instead of when it was written."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            part = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            part.compress_type = zipfile.ZIP_DEFLATED
            part.external_attr = 0o644 << 16
            target.writestr(part, source.read(info.filename))
    return out.getvalue()


RENDERERS: dict[str, Callable[[Document], bytes]] = {"pdf": to_pdf, "xlsx": to_xlsx}
