"""Uploaded tables: CSV and XLSX files read into rows of cells, within limits.

Whatever a file holds, reading it takes memory and time in proportion to what may be imported
(``settings.ImportLimits``): each cell, the columns, rows and cells of the table, the text it
keeps and the time it takes are capped, and a file over a cap is refused (``Unreadable``)
as soon as the cap is reached, before anything else is read.

- CSV: UTF-16 with a BOM, else UTF-8 (with or without BOM), else Windows-1251; the delimiter
  is ``,`` ``;`` or tab, found from the first lines (in linear time).
- XLSX: read by the small streaming reader below rather than by openpyxl, whose read-only mode
  still builds a cell's whole text however large it is. Before anything is inflated, the zip's
  directory (entry count, names, compression) and each needed entry's declared size and
  compression ratio are checked: zipfile never inflates an entry past its declared size (an
  entry that holds more fails its CRC check), so the declared sizes bound the work. The XML is
  parsed by expat in 64 KiB chunks; a document with a DTD is refused, so no entity can be
  declared or expanded, and XML that expat would have to hold whole (one huge tag or comment)
  is refused past 1 MiB. The first worksheet is read; a formula cell gives the value Excel
  saved; numbers in a date format become dates.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import posixpath
import re
import struct
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NoReturn
from xml.parsers import expat


@dataclass(frozen=True)
class ImportLimits:
    """What an uploaded file may hold and cost to read (spreadsheets.py, web/imports.py of the runtime);
    a file over a limit is refused with a message saying which. Then how its rows are imported."""

    file_bytes: int = 10 * 1024 * 1024  # IMPORT_MAX_FILE_BYTES: the upload itself
    rows: int = 50_000  # IMPORT_MAX_ROWS: data rows, below the header
    columns: int = 100  # IMPORT_MAX_COLUMNS
    cells: int = 1_000_000  # IMPORT_MAX_CELLS: rows times the widest row
    cell_chars: int = 32_767  # IMPORT_MAX_CELL_CHARS: one cell's text (Excel's own limit)
    table_chars: int = 32 * 1024 * 1024  # IMPORT_MAX_TABLE_CHARS: the text of all cells
    unzipped_bytes: int = 256 * 1024 * 1024  # IMPORT_MAX_UNZIPPED_BYTES: XLSX parts, unpacked
    ratio: int = 100  # IMPORT_MAX_RATIO: an XLSX part's unpacked size over its packed size
    seconds: float = 30.0  # IMPORT_MAX_SECONDS: reading the file
    # How the rows are imported (``web/import_jobs.py``)
    batch_rows: int = 100  # IMPORT_BATCH_ROWS: rows per transaction, with the progress
    inline_rows: int = 1000  # IMPORT_INLINE_ROWS: at most this many: by the request, not the worker
    lease_seconds: float = 60.0  # IMPORT_LEASE_SECONDS: a dead worker's import waits this long


Cell = str | int | float | bool | None

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # an old .xls file
DELIMITERS = ",;\t"
SNIFF_CHARS = 64 * 1024
SNIFF_LINES = 50
TICK_ROWS = 1000  # CSV rows between two looks at the clock
MAX_CSV_FIELDS = 16_384  # delimiters a line may hold (Excel's column count; trailing empties)
LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")  # with its end, as csv wants it
CHUNK = 64 * 1024
MAX_ENTRIES = 1000  # an XLSX file has a dozen or two
MAX_DIRECTORY_BYTES = 1024 * 1024  # the zip's central directory (about 100 bytes an entry)
MAX_PENDING = 1024 * 1024  # XML expat holds before it can report it: a tag, a comment
MAX_STYLES = 65_536  # cell formats and number formats (Excel allows about 64,000)
RATIO_GRACE = 1024 * 1024  # entries up to this size may be compressed any amount
END_OF_DIRECTORY = struct.Struct("<4s4H2LH")
EPOCH_1900 = dt.datetime(1899, 12, 30)
EPOCH_1904 = dt.datetime(1904, 1, 1)
# Built-in number formats that show dates or times (ECMA-376 18.8.30; 27-36 and 50-58 are the
# Chinese, Japanese and Korean date formats).
DATE_FORMAT_IDS = frozenset([*range(14, 23), *range(27, 37), 45, 47, *range(50, 59)])
DURATION_FORMAT = re.compile(r"\[(hh?|mm?|ss?)\]", re.IGNORECASE)
FORMAT_LITERALS = re.compile(r'".*?"|\[(?!hh?\]|mm?\]|ss?\])[^\]]*\]')
DATE_PARTS = re.compile(r"(?<![_\\])[dmhysDMHYS]")


class Unreadable(ValueError):
    """A file that cannot be imported: ``key`` names the message, ``values`` fill it in."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class Table:
    """A file's header and its data rows, each with its line in the file (the header is 1)."""

    headers: list[str]
    rows: list[tuple[int, list[Cell]]]


def filled(cell: Cell) -> bool:
    return cell is not None and cell != ""


def mebibytes(size: int) -> str:
    """A size in MiB as messages show it: ``10``, ``0.5``."""
    return f"{size / 2**20:.3g}"


def column_name(index: int) -> str:
    """The spreadsheet name of the column at 0-based ``index``: A, B, ..., Z, AA, ..."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def column_index(letters: str) -> int | None:
    """The 0-based column named by ``letters`` (``A``, ``AB``; None when they name none)."""
    if not (0 < len(letters) <= 3 and letters.isascii() and letters.isalpha()):
        return None
    index = 0
    for letter in letters.upper():
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1


class Collector:
    """The filled rows of a file as they are read, refused as soon as they break a limit."""

    def __init__(self, limits: ImportLimits) -> None:
        self.limits = limits
        self.rows: list[tuple[int, list[Cell]]] = []
        self.width = 0
        self.chars = 0
        self.deadline = time.monotonic() + limits.seconds

    def text(self, value: str, line: int, column: int) -> str:
        """``value`` as a cell's text, counted against the limits."""
        if len(value) > self.limits.cell_chars:
            raise too_long(self.limits, line, column)
        self.chars += len(value)
        if self.chars > self.limits.table_chars:
            raise Unreadable("import_too_big")
        return value

    def add(self, line: int, cells: list[Cell]) -> None:
        """Keep row ``line`` when a cell is filled (empty cells at its end are dropped)."""
        while cells and not filled(cells[-1]):
            cells.pop()
        if not cells:
            return
        if len(cells) > self.limits.columns:
            raise Unreadable("import_too_many_columns", max=self.limits.columns)
        if len(self.rows) > self.limits.rows:  # the header and as many data rows as allowed
            raise Unreadable("import_too_many_rows", max=self.limits.rows)
        self.width = max(self.width, len(cells))
        if self.width * len(self.rows) > self.limits.cells:
            raise Unreadable("import_too_many_cells", max=self.limits.cells)
        self.rows.append((line, cells))

    def tick(self) -> None:
        """Refuse the file once reading it has taken longer than allowed."""
        if time.monotonic() > self.deadline:
            raise Unreadable("import_too_slow", max=f"{self.limits.seconds:g}")

    def table(self, column_word: str) -> Table:
        """The header and the data rows, each as wide as the widest row."""
        if len(self.rows) < 2:
            raise Unreadable("import_empty")
        width = self.width
        (_, header), data = self.rows[0], self.rows[1:]
        headers = [
            (
                str(header[i]).strip()
                if i < len(header) and filled(header[i])
                else f"{column_word} {i + 1}"
            )
            for i in range(width)
        ]
        return Table(
            headers, [(line, cells + [None] * (width - len(cells))) for line, cells in data]
        )


def too_long(limits: ImportLimits, line: int, column: int) -> Unreadable:
    return Unreadable(
        "import_cell_too_long", max=limits.cell_chars, row=line, column=column_name(column)
    )


def read_table(name: str, data: bytes, limits: ImportLimits, column_word: str) -> Table:
    """The table of an uploaded file; ``Unreadable`` says what is wrong with it."""
    collector = Collector(limits)
    if kind_of(name, data) == "xlsx":
        read_xlsx(data, collector)
    else:
        read_csv(data, collector)
    return collector.table(column_word)


def kind_of(name: str, data: bytes) -> str:
    """``csv`` or ``xlsx`` from the file name, else from its first bytes."""
    lower = name.lower()
    if lower.endswith(XLSX_SUFFIXES):
        return "xlsx"
    if lower.endswith(CSV_SUFFIXES):
        return "csv"
    if lower.endswith(".xls") or data.startswith(OLE_MAGIC):
        raise Unreadable("import_old_excel")
    return "xlsx" if data.startswith(ZIP_MAGIC) else "csv"


# --- CSV ---------------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """The text of a CSV file: UTF-16 when it has that BOM, else UTF-8, else Windows-1251."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "cp1251")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Unreadable("import_bad_encoding")


def delimiter_of(text: str) -> str:
    """The delimiter of a CSV text: of ``,`` ``;`` and tab, the one found (outside quotes) as
    many times as in the first line on most of the first lines, then the most frequent there.
    Linear, unlike ``csv.Sniffer``, whose expressions take a minute on some 64 KiB."""
    sample = text[:SNIFF_CHARS].splitlines()
    if len(text) > SNIFF_CHARS and len(sample) > 1:
        sample.pop()  # cut off in the middle
    sample = sample[:SNIFF_LINES] or [""]

    def score(delimiter: str) -> tuple[bool, int, int]:
        counts, quoted = [], False
        for line in sample:
            counts.append(unquoted(line, delimiter, quoted))
            quoted ^= line.count('"') % 2 == 1
        return counts[0] > 0, counts.count(counts[0]), counts[0]

    return max(DELIMITERS, key=score)


def read_csv(data: bytes, collector: Collector) -> None:
    """Every record of a CSV file into ``collector``."""
    # The csv module's own cap on a cell (128 KiB, for the whole process) would refuse a long
    # cell without saying where it is: the file's size bounds a cell, the collector refuses it.
    csv.field_size_limit(max(csv.field_size_limit(), len(data) + 1))
    text = decode(data)
    delimiter = delimiter_of(text)
    reader = csv.reader(lines(text, delimiter, collector.limits), delimiter=delimiter)
    try:
        for line, row in enumerate(reader, start=1):
            cells: list[Cell] = [
                collector.text(cell, line, column).strip() for column, cell in enumerate(row)
            ]
            collector.add(line, cells)
            if line % TICK_ROWS == 0:
                collector.tick()
    except csv.Error:
        raise Unreadable("import_unreadable") from None


def lines(text: str, delimiter: str, limits: ImportLimits) -> Iterator[str]:
    """The physical lines of a CSV text, refused when one holds more than ``MAX_CSV_FIELDS``
    delimiters outside quotes (the csv module would make a list of them all at once)."""
    quoted = False  # inside a quoted cell that goes on past a line's end
    for found in LINE.finditer(text):  # one line at a time (StringIO would copy it 4 times)
        line = found.group()
        # counting is cheap; only a line with that many delimiters is read for its quotes
        many = line.count(delimiter) > MAX_CSV_FIELDS
        if many and unquoted(line, delimiter, quoted) > MAX_CSV_FIELDS:
            raise Unreadable("import_too_many_columns", max=limits.columns)
        if line.count('"') % 2:
            quoted = not quoted
        yield line


def unquoted(line: str, delimiter: str, quoted: bool) -> int:
    """How many of ``line``'s delimiters are outside quotes (``quoted``: it starts inside)."""
    count = start = 0
    while True:
        quote = line.find('"', start)
        end = len(line) if quote < 0 else quote
        if not quoted:
            count += line.count(delimiter, start, end)
        if quote < 0:
            return count
        quoted, start = not quoted, quote + 1


# --- XLSX --------------------------------------------------------------------------------------


def directory_of(data: bytes) -> tuple[int, int] | None:
    """The entry count and central directory size a zip file declares at its end."""
    start = data.rfind(b"PK\x05\x06", max(0, len(data) - END_OF_DIRECTORY.size - 0xFFFF))
    if start < 0 or len(data) - start < END_OF_DIRECTORY.size:
        return None
    fields = END_OF_DIRECTORY.unpack_from(data, start)
    return fields[4], fields[5]


def open_archive(data: bytes) -> zipfile.ZipFile:
    """The zip archive of an XLSX file, once its directory looks like one."""
    directory = directory_of(data)
    if directory is None:
        raise Unreadable("import_unreadable")
    entries, size = directory
    if entries > MAX_ENTRIES or size > MAX_DIRECTORY_BYTES:
        raise Unreadable("import_unreadable")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, OSError):
        raise Unreadable("import_unreadable") from None
    items = archive.infolist()
    names = {item.filename for item in items}
    if len(items) > MAX_ENTRIES or len(names) != len(items):  # two entries of one name
        raise Unreadable("import_unreadable")
    for item in items:
        if item.flag_bits & 0x1 or item.compress_type not in (
            zipfile.ZIP_STORED,
            zipfile.ZIP_DEFLATED,
        ):  # encrypted, or compressed otherwise than Excel does
            raise Unreadable("import_unreadable")
    return archive


class Part:
    """The handlers of one XML part, called with element names as written: a handler
    drops a prefix (``x:row``) itself, with ``local``, only if there is one."""

    def start(self, name: str, attributes: dict[str, str]) -> None:
        """An element starts."""

    def end(self, name: str) -> None:
        """An element ends."""

    def text(self, data: str) -> None:
        """Character data."""


def _refuse_dtd(*_: Any) -> NoReturn:
    raise Unreadable("import_unreadable")


def local(name: str) -> str:
    return name.rpartition(":")[2]


class Workbook:
    """An XLSX file's zip archive, read part by part within the limits."""

    def __init__(self, data: bytes, collector: Collector) -> None:
        self.archive = open_archive(data)
        self.names = set(self.archive.namelist())
        self.collector = collector
        self.limits = collector.limits
        self.unzipped = 0

    def entry(self, name: str) -> zipfile.ZipInfo:
        """The entry ``name``, refused when it is declared too large or too compressed."""
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise Unreadable("import_unreadable") from None
        if self.unzipped + info.file_size > self.limits.unzipped_bytes:
            raise Unreadable("import_unzipped_too_big", max=mebibytes(self.limits.unzipped_bytes))
        if info.file_size > RATIO_GRACE and info.file_size > self.limits.ratio * info.compress_size:
            raise Unreadable("import_compressed_too_much", max=self.limits.ratio)
        return info

    def parse(self, name: str, part: Part) -> None:
        """Stream the XML entry ``name`` through ``part``'s handlers."""
        info = self.entry(name)
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.buffer_size = CHUNK
        parser.StartDoctypeDeclHandler = _refuse_dtd
        parser.EntityDeclHandler = _refuse_dtd
        parser.ExternalEntityRefHandler = _refuse_dtd
        parser.StartElementHandler = part.start
        parser.EndElementHandler = part.end
        parser.CharacterDataHandler = part.text
        fed = 0
        try:
            with self.archive.open(info) as entry:
                while chunk := entry.read(CHUNK):
                    fed += len(chunk)
                    self.unzipped += len(chunk)
                    if self.unzipped > self.limits.unzipped_bytes:  # not past the declared size
                        raise Unreadable(
                            "import_unzipped_too_big", max=mebibytes(self.limits.unzipped_bytes)
                        )
                    parser.Parse(chunk, False)
                    if fed - parser.CurrentByteIndex > MAX_PENDING:
                        raise Unreadable("import_unreadable")
                    self.collector.tick()
                parser.Parse(b"", True)
        except Unreadable:
            raise
        except (
            expat.ExpatError,
            zipfile.BadZipFile,
            zlib.error,
            NotImplementedError,  # what a local header claims (strong encryption, patches)
            RuntimeError,
            EOFError,
            OSError,
            ValueError,
        ):
            raise Unreadable("import_unreadable") from None

    def relationships(self, part: str) -> dict[str, tuple[str, str]]:
        """The relationships of ``part``: id -> (type, the target's entry name)."""
        folder, base = posixpath.split(part)
        name = posixpath.join(folder, "_rels", base + ".rels")
        found: dict[str, tuple[str, str]] = {}
        if name in self.names:
            reader = Relationships(folder)
            self.parse(name, reader)
            found = reader.found
        return found

    def read_first_sheet(self) -> None:
        """The first worksheet's rows into the collector."""
        office = [t for kind, t in self.relationships("").values() if kind == "officeDocument"]
        book = office[0] if office else "xl/workbook.xml"
        workbook = WorkbookPart()
        self.parse(book, workbook)
        parts = self.relationships(book)
        sheets = [parts[i][1] for i in workbook.sheets if parts.get(i, ("",))[0] == "worksheet"]
        if not sheets:
            raise Unreadable("import_unreadable")
        shared = SharedStrings(self.collector)
        for kind, target in parts.values():
            if kind == "sharedStrings":
                self.parse(target, shared)
        styles = Styles()
        for kind, target in parts.values():
            if kind == "styles":
                self.parse(target, styles)
        epoch = EPOCH_1904 if workbook.date1904 else EPOCH_1900
        self.parse(sheets[0], Sheet(self.collector, shared.items, styles.date_styles(), epoch))


class Relationships(Part):
    """A ``.rels`` part: each relationship's id, type (its last word) and target entry."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.found: dict[str, tuple[str, str]] = {}

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if local(name) != "Relationship" or attributes.get("TargetMode") == "External":
            return
        if len(self.found) >= MAX_ENTRIES:  # each one names an entry of the archive
            raise Unreadable("import_unreadable")
        target = attributes.get("Target", "")
        path = target[1:] if target.startswith("/") else posixpath.join(self.folder, target)
        kind = attributes.get("Type", "").rpartition("/")[2]
        self.found[attributes.get("Id", "")] = (kind, posixpath.normpath(path))


class WorkbookPart(Part):
    """``xl/workbook.xml``: the sheets in order and the date system."""

    def __init__(self) -> None:
        self.sheets: list[str] = []
        self.date1904 = False

    def start(self, name: str, attributes: dict[str, str]) -> None:
        name = local(name)
        if name == "sheet":
            if len(self.sheets) >= MAX_ENTRIES:
                raise Unreadable("import_unreadable")
            ids = [value for key, value in attributes.items() if key.endswith(":id")]
            self.sheets.append(ids[0] if ids else "")  # r:id, the relationship's id
        elif name == "workbookPr":
            self.date1904 = attributes.get("date1904", "") in ("1", "true")


class Styles(Part):
    """``xl/styles.xml``: which cell styles show numbers as dates."""

    def __init__(self) -> None:
        self.formats: dict[int, str] = {}
        self.styles: list[int] = []
        self.in_styles = False

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if len(self.formats) + len(self.styles) >= MAX_STYLES:
            raise Unreadable("import_unreadable")
        name = local(name)
        if name == "numFmt":
            self.formats[_integer(attributes.get("numFmtId"))] = attributes.get("formatCode", "")
        elif name == "cellXfs":
            self.in_styles = True
        elif name == "xf" and self.in_styles:
            self.styles.append(_integer(attributes.get("numFmtId")))

    def end(self, name: str) -> None:
        if local(name) == "cellXfs":
            self.in_styles = False

    def date_styles(self) -> frozenset[str]:
        """The ``s`` attributes of cells whose numbers are dates."""
        return frozenset(str(i) for i, f in enumerate(self.styles) if self.is_date(f))

    def is_date(self, format_id: int) -> bool:
        code = self.formats.get(format_id)
        if code is None:
            return format_id in DATE_FORMAT_IDS
        code = code.split(";")[0]
        if DURATION_FORMAT.search(code):  # [h]:mm, a duration: a number of days
            return False
        return DATE_PARTS.search(FORMAT_LITERALS.sub("", code)) is not None


def _integer(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        raise Unreadable("import_unreadable") from None


class TooLong:
    """A shared string over the cell limit (refused where a cell uses it)."""


TOO_LONG = TooLong()


class SharedStrings(Part):
    """``xl/sharedStrings.xml``: the texts cells point to; the phonetic runs are left out."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.limits = collector.limits
        self.items: list[str | TooLong] = []
        self.parts: list[str] = []
        self.size = 0
        self.chars = 0
        self.in_text = False
        self.phonetic = False

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if ":" in name:
            name = local(name)
        if name == "si":
            self.parts, self.size = [], 0
        elif name == "t" and not self.phonetic:
            self.in_text = True
        elif name == "rPh":
            self.phonetic = True

    def end(self, name: str) -> None:
        if ":" in name:
            name = local(name)
        if name == "t":
            self.in_text = False
        elif name == "rPh":
            self.phonetic = False
        elif name == "si":
            if len(self.items) >= self.limits.cells:
                raise Unreadable("import_too_many_cells", max=self.limits.cells)
            self.items.append(
                TOO_LONG if self.size > self.limits.cell_chars else "".join(self.parts)
            )

    def text(self, data: str) -> None:
        if not self.in_text:
            return
        self.size += len(data)
        if self.size > self.limits.cell_chars:
            self.parts = []
            return
        self.chars += len(data)
        if self.chars > self.limits.table_chars:
            raise Unreadable("import_too_big")
        self.parts.append(data)


class Sheet(Part):
    """A worksheet's rows and cells into the collector (the hot loop: kept plain)."""

    def __init__(
        self,
        collector: Collector,
        shared: list[str | TooLong],
        dates: frozenset[str],
        epoch: dt.datetime,
    ) -> None:
        self.collector = collector
        self.cap = collector.limits.cell_chars
        self.shared = shared
        self.dates = dates
        self.epoch = epoch
        self.columns: dict[str, int] = {}  # cell reference letters -> column
        self.line = 0
        self.cells: list[Cell] = []
        self.column = -1
        self.kind = "n"
        self.style = ""
        self.parts: list[str] = []
        self.size = 0
        self.in_cell = False
        self.reading = False  # inside a cell's <v>, or <t> of its inline string
        self.phonetic = False

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if ":" in name:
            name = local(name)
        if name == "c":
            self.column = self.column_of(attributes.get("r"))
            self.kind = attributes.get("t", "n")
            self.style = attributes.get("s", "")
            self.parts, self.size = [], 0
            self.in_cell = True
        elif self.in_cell and (name == "v" or (name == "t" and not self.phonetic)):
            self.reading = True
        elif name == "row":
            self.line = _integer(attributes.get("r")) if "r" in attributes else self.line + 1
            self.cells, self.column = [], -1
        elif name == "rPh":
            self.phonetic = True

    def column_of(self, reference: str | None) -> int:
        """The 0-based column of a cell reference (``B7``), or the one after the last."""
        if reference is None:
            return self.column + 1
        letters = reference.rstrip("0123456789")
        column = self.columns.get(letters)
        if column is None:
            found = column_index(letters)
            if found is None:
                raise Unreadable("import_unreadable")
            column = self.columns[letters] = found
        return column

    def end(self, name: str) -> None:
        if ":" in name:
            name = local(name)
        if name == "v" or name == "t":
            self.reading = False
        elif name == "c":
            self.in_cell = False
            self.end_cell()
        elif name == "row":
            self.collector.add(self.line, self.cells)
        elif name == "rPh":
            self.phonetic = False

    def text(self, data: str) -> None:
        if self.reading:
            self.size += len(data)
            if self.size > self.cap:  # refused at once: nothing more of it is read
                raise too_long(self.collector.limits, self.line, self.column)
            self.parts.append(data)

    def end_cell(self) -> None:
        value = self.value("".join(self.parts))
        if value is None or value == "":
            return
        if self.column >= self.collector.limits.columns:
            raise Unreadable("import_too_many_columns", max=self.collector.limits.columns)
        if isinstance(value, str):
            value = self.collector.text(value, self.line, self.column).strip()
        cells = self.cells
        if len(cells) <= self.column:
            cells.extend([None] * (self.column + 1 - len(cells)))
        cells[self.column] = value

    def value(self, text: str) -> Cell:
        """A cell's value as JSON keeps it: dates as ISO text, a midnight datetime as a date."""
        kind = self.kind
        if kind == "s" and text:
            return self.shared_string(text)
        try:
            if kind in ("inlineStr", "str", "e"):
                return text
            if not text:
                return None
            if kind == "b":
                return text.strip() not in ("0", "false")
            if kind == "d":
                return _iso(dt.datetime.fromisoformat(text.strip()).replace(tzinfo=None))
            whole = "." not in text and "e" not in text and "E" not in text
            number: int | float = int(text) if whole else float(text)
        except (ValueError, IndexError):
            raise Unreadable("import_unreadable") from None
        if self.style in self.dates:
            return self.date(number)
        return number

    def shared_string(self, text: str) -> str:
        """The shared string a cell names by its index (too long: refused as such)."""
        try:
            shared = self.shared[int(text)]
        except (ValueError, IndexError):
            raise Unreadable("import_unreadable") from None
        if isinstance(shared, TooLong):
            raise too_long(self.collector.limits, self.line, self.column)
        return shared

    def date(self, serial: float) -> Cell:
        """An Excel date serial as ISO text (a time alone below 1), like openpyxl does."""
        try:
            day, fraction = divmod(serial, 1)
            moment = dt.timedelta(milliseconds=round(fraction * 86_400_000))
            if 0 <= serial < 1 and moment.days == 0:
                return (dt.datetime.min + moment).time().isoformat()
            if 0 < serial < 60 and self.epoch == EPOCH_1900:  # Excel's 29 February 1900
                day += 1
            return _iso(self.epoch + dt.timedelta(days=day) + moment)
        except (OverflowError, ValueError):  # beyond the years datetime knows, or NaN
            return "#VALUE!"


def _iso(moment: dt.datetime) -> str:
    """A midnight datetime as its date, any other as ISO date and time."""
    return moment.date().isoformat() if moment.time() == dt.time() else moment.isoformat()


def read_xlsx(data: bytes, collector: Collector) -> None:
    """The first worksheet of an XLSX file into ``collector``."""
    Workbook(data, collector).read_first_sheet()
