"""The claim the XLSX reader rests on, checked on this Python: ``zipfile`` never inflates an
entry past the size its directory declares, so declared sizes are a real bound (an entry that
holds more fails its CRC check; one that holds less simply ends)."""

from __future__ import annotations

import io
import time
import zipfile

import pytest

from tests.security.files.uploads import Entry, MiB, raw_zip, repeated

DECLARED = 20_000


def read_all(archive: zipfile.ZipFile, name: str) -> tuple[int, Exception | None]:
    """Read the entry ``name`` in 64 KiB pieces: the bytes it gave and how it ended."""
    total = 0
    try:
        with archive.open(name) as entry:
            while piece := entry.read(64 * 1024):
                assert len(piece) <= 64 * 1024
                total += len(piece)
    except (zipfile.BadZipFile, EOFError) as exc:
        return total, exc
    return total, None


def test_an_entry_holding_1_5_gb_but_declaring_20_kb_gives_at_most_20_kb() -> None:
    bomb = repeated("sheet.xml", b"<x>", b"A" * MiB, 1430, b"</x>")
    lying = Entry(bomb.name, bomb.compressed, bomb.size, bomb.crc, declared=DECLARED)
    began = time.monotonic()
    with zipfile.ZipFile(io.BytesIO(raw_zip([lying]))) as archive:
        assert archive.getinfo("sheet.xml").file_size == DECLARED
        total, ended = read_all(archive, "sheet.xml")
    assert total <= DECLARED
    assert isinstance(ended, zipfile.BadZipFile)  # the CRC of what it gave does not match
    assert time.monotonic() - began < 2


def test_an_entry_holding_less_than_it_declares_gives_what_it_holds() -> None:
    small = repeated("sheet.xml", b"<x>", b"A" * 1024, 10, b"</x>")
    lying = Entry(small.name, small.compressed, small.size, small.crc, declared=10 * MiB)
    with zipfile.ZipFile(io.BytesIO(raw_zip([lying]))) as archive:
        total, ended = read_all(archive, "sheet.xml")
    assert (total, ended) == (small.size, None)


@pytest.mark.parametrize("declared", [None, DECLARED])
def test_read_with_a_size_never_returns_more(declared: int | None) -> None:
    bomb = repeated("sheet.xml", b"", b"B" * MiB, 50, b"")
    entry = Entry(bomb.name, bomb.compressed, bomb.size, bomb.crc, declared=declared)
    with zipfile.ZipFile(io.BytesIO(raw_zip([entry]))) as archive, archive.open("sheet.xml") as f:
        assert len(f.read(1000)) == 1000
