"""What the file attacks need: a signed-in browser, the server's peak memory, and hostile files
(zip archives and XLSX workbooks) made cheaply.

A bomb is never held in the test process: ``repeated`` deflates one chunk and repeats its
compressed form (each chunk ends with a full flush, so every later copy compresses to the same
bytes), and ``raw_zip`` writes entries from already-compressed data with any declared size.
"""

from __future__ import annotations

import html
import json
import re
import struct
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
from crmgen_runtime import assets

from tests.security.crm import PASSWORD, Crm, email

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
MiB = 1024 * 1024
MESSAGES = assets.WEB / "messages"


# --- a browser ----------------------------------------------------------------------------------


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1)


@contextmanager
def browser(crm: Crm, name: str = "admin", locale: str = "en") -> Iterator[httpx.Client]:
    """A client signed in through the login form, its UI in ``locale``."""
    with crm.client(cookies={"locale": locale}) as client:
        client.timeout = httpx.Timeout(120)
        page = client.get("/login")
        answer = client.post(
            "/login",
            data={"csrf_token": csrf(page.text), "email": email(name), "password": PASSWORD},
        )
        assert answer.status_code in (302, 303), answer.text
        yield client


def upload(client: httpx.Client, path: str, name: str, data: bytes) -> httpx.Response:
    """POST ``data`` as the file of the import of ``path`` (the redirect is not followed)."""
    page = client.get(f"/{path}/import")
    assert page.status_code == 200, page.text
    return client.post(
        f"/{path}/import",
        data={"csrf_token": csrf(page.text)},
        files={"file": (name, data, "application/octet-stream")},
    )


def page_error(page: str) -> str:
    """The error message shown on an upload page."""
    found = re.search(r'<p [^>]*id="import-error">(.*?)</p>', page, re.DOTALL)
    assert found, page[-3000:]
    return html.unescape(re.sub(r"\s+", " ", found.group(1)).strip())


def message(key: str, locale: str = "en", **values: object) -> str:
    """The UI's text ``key`` in ``locale`` (from the generator's messages), filled in."""
    words = json.loads((MESSAGES / "imports.json").read_text(encoding="utf-8"))
    return str(words[key][locale]).format(**values)


# --- the server's memory ---------------------------------------------------------------------


def _status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key} in /proc/{pid}/status")


@dataclass
class Cost:
    """What a request cost the server: its peak memory above the start, and the time."""

    peak_growth: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@contextmanager
def measured(crm: Crm) -> Iterator[Cost]:
    """The server's peak resident memory growth (``VmHWM`` reset through ``clear_refs``) and
    the wall time of the block."""
    pid = crm.process.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak starts again from now
    start = _status(pid, "VmRSS")
    cost = Cost()
    began = time.monotonic()
    yield cost
    cost.seconds = time.monotonic() - began
    cost.peak_growth = _status(pid, "VmHWM") - start


# --- zip archives ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A zip entry from compressed data: ``size`` and ``crc`` are those of the real content,
    ``declared`` the size the archive claims (default: the real one)."""

    name: str
    compressed: bytes
    size: int
    crc: int
    method: int = 8  # deflate
    declared: int | None = None


def deflate(data: bytes) -> bytes:
    """``data`` as a raw deflate stream (as zip entries hold it)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def entry(name: str, data: bytes) -> Entry:
    return Entry(name, deflate(data), len(data), zlib.crc32(data))


def repeated(name: str, head: bytes, unit: bytes, count: int, tail: bytes) -> Entry:
    """An entry holding ``head + unit * count + tail``, compressed without ever holding it."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    once = compressor.compress(unit) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(unit) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.compress(tail) + compressor.flush()
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(unit, crc)
    crc = zlib.crc32(tail, crc)
    body = first + once + again * (count - 1) + end
    return Entry(name, body, len(head) + len(unit) * count + len(tail), crc)


def raw_zip(entries: list[Entry]) -> bytes:
    """A zip archive of ``entries`` exactly as given (declared sizes included)."""
    local = bytearray()
    central = bytearray()
    date, clock = 0x21, 0  # 1980-01-01 00:00
    for item in entries:
        name = item.name.encode()
        size = item.size if item.declared is None else item.declared
        sizes = (item.crc, len(item.compressed), size)
        offset = len(local)
        local += struct.pack(
            "<4s5H3L2H", b"PK\x03\x04", 20, 0, item.method, clock, date, *sizes, len(name), 0
        )
        local += name + item.compressed
        central += struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            20,  # made by
            20,  # needed to extract
            0,  # flags
            item.method,
            clock,
            date,
            *sizes,
            len(name),
            0,  # extra
            0,  # comment
            0,  # disk
            0,  # internal attributes
            0,  # external attributes
            offset,
        )
        central += name
    count = len(entries) % 0x10000  # more entries need zip64; zipfile reads them all anyway
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(central), len(local), 0)
    return bytes(local + central + end)


# --- workbooks -----------------------------------------------------------------------------


def sheet_xml(rows: list[list[str]]) -> bytes:
    """A worksheet of inline-string cells."""
    cells = "".join(
        f'<row r="{r}">'
        + "".join(
            f'<c r="{_column(c)}{r}" t="inlineStr"><is><t>{text}</t></is></c>'
            for c, text in enumerate(row)
        )
        + "</row>"
        for r, row in enumerate(rows, start=1)
    )
    return f'<worksheet xmlns="{MAIN}"><sheetData>{cells}</sheetData></worksheet>'.encode()


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def workbook(sheet: Entry, *more: Entry, shared: bool = False) -> bytes:
    """A minimal XLSX whose first sheet is ``sheet`` (plus ``more`` entries); ``shared``
    names ``xl/sharedStrings.xml`` (one of ``more``) in the workbook's relationships."""
    types = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        + (
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            if shared
            else ""
        )
        + "</Types>"
    )
    root = (
        f'<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1" '
        f'Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    book = (
        f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets>'
        '<sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    strings = (
        f'<Relationship Id="rId2" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>'
        if shared
        else ""
    )
    links = (
        f'<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1" Type="{RELS}/worksheet" '
        f'Target="worksheets/sheet1.xml"/>{strings}</Relationships>'
    )
    parts = [
        entry("[Content_Types].xml", types.encode()),
        entry("_rels/.rels", root.encode()),
        entry("xl/workbook.xml", book.encode()),
        entry("xl/_rels/workbook.xml.rels", links.encode()),
        sheet,
        *more,
    ]
    return raw_zip(parts)
