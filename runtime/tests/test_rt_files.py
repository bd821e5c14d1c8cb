"""Stored files without a server: what a file is by its bytes, which types a field accepts,
safe download names, bounded thumbnails and the local store (the HTTP side is tested in
tests/security/files against the reference CRM)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path
from types import SimpleNamespace

import pytest
from crmgen_runtime import files, sniff, storage, thumbnails, validation
from crmgen_runtime.errors import ApiError
from crmgen_runtime.resources import FieldInfo


def _png(width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


def _bomb(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width`` x ``height`` pixels, with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 10))


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (_png(2, 2), "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a....", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"MZ\x90\x00", "application/x-msdownload"),
        (b"\x7fELF\x02\x01", "application/x-executable"),
        (b"#!/bin/sh\nrm -rf /\n", "application/x-sh"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        (b"<!DOCTYPE html><p>hi", "text/html"),
        ("Привет, мир".encode(), "text/plain"),
        (b"\x00\x01\x02\x03", "application/octet-stream"),
        (b"PK\x03\x04", "application/zip"),
    ],
)
def test_a_files_type_comes_from_its_bytes(head: bytes, kind: str) -> None:
    assert sniff.content_type(head) == kind


def test_office_files_are_told_from_plain_zips() -> None:
    assert sniff.zip_type(io.BytesIO(_docx())).endswith("wordprocessingml.document")
    assert sniff.zip_type(io.BytesIO(b"PK\x03\x04 not really")) == "application/zip"


def test_accept_lists_take_types_families_and_extensions_but_never_programs() -> None:
    assert sniff.accepts(["image/*"], "image/webp")
    assert sniff.accepts([".pdf"], "application/pdf")
    assert not sniff.accepts(["image/png", "image/jpeg"], "application/pdf")
    assert sniff.accepts([], "text/plain")
    assert not sniff.accepts([], "application/x-msdownload")
    assert not sniff.accepts(["application/x-msdownload"], "application/x-msdownload")


def test_a_renamed_program_is_refused_as_an_image(tmp_path: Path) -> None:
    store = storage.LocalStorage(tmp_path)
    program = io.BytesIO(b"MZ\x90\x00" + b"\0" * 100)
    with pytest.raises(files.FileRefused) as refused:
        files.store(store, program, accept=sniff.IMAGE_TYPES, limit=10_000, image=True)
    assert refused.value.status == 415 and "executable" in refused.value.message
    assert list(tmp_path.iterdir()) == []  # nothing kept


def test_a_file_over_the_limit_is_413_and_an_image_gets_a_thumbnail(tmp_path: Path) -> None:
    store = storage.LocalStorage(tmp_path)
    picture = _png(800, 600)
    with pytest.raises(ApiError) as big:
        files.store(store, io.BytesIO(picture), accept=(), limit=len(picture) - 1)
    assert big.value.status == 413
    kept = files.store(store, io.BytesIO(picture), accept=("image/*",), limit=10**7, image=True)
    assert kept.content_type == "image/png" and kept.size == len(picture) and kept.thumbnail
    assert b"".join(store.chunks(kept.id)) == picture
    from PIL import Image

    small = Image.open(io.BytesIO(b"".join(store.chunks(kept.id + ".thumb"))))
    assert max(small.size) == thumbnails.SIZE


def test_a_decompression_bomb_makes_no_thumbnail() -> None:
    with pytest.raises(thumbnails.NotAnImage, match="pixels"):
        thumbnails.make(io.BytesIO(_bomb(100_000, 100_000)))
    with pytest.raises(thumbnails.NotAnImage):
        thumbnails.make(io.BytesIO(b"\x89PNG\r\n\x1a\n broken"))


def test_an_image_field_refuses_a_broken_image(tmp_path: Path) -> None:
    with pytest.raises(ApiError) as broken:
        files.store(
            storage.LocalStorage(tmp_path),
            io.BytesIO(_bomb(100_000, 100_000)),
            accept=sniff.IMAGE_TYPES,
            limit=10**6,
            image=True,
        )
    assert broken.value.status == 422


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ('"; evil=1.pdf', 'attachment; filename="__ evil=1.pdf"; filename*=UTF-8\'\'%22%3B%20evil%3D1.pdf'),
        ("Договор.pdf", "attachment; filename=\"_______.pdf\"; filename*=UTF-8''%D0%94%D0%BE%D0%B3%D0%BE%D0%B2%D0%BE%D1%80.pdf"),
    ],
)  # fmt: skip
def test_download_names_cannot_break_the_header(name: str, expected: str) -> None:
    assert files.disposition("attachment", name) == expected


def test_upload_names_lose_folders_and_control_characters() -> None:
    assert files.clean_name("../../etc/passwd") == "passwd"
    assert files.clean_name("C:\\Users\\me\\a\nb.txt") == "a_b.txt"
    assert files.clean_name("") == "file"
    long = files.clean_name("x" * 400 + ".pdf")
    assert len(long) == files.NAME_MAX and long.endswith(".pdf")


def test_storage_keys_are_checked(tmp_path: Path) -> None:
    store = storage.LocalStorage(tmp_path)
    with pytest.raises(storage.StorageError):
        store.path("../../etc/passwd")
    with pytest.raises(storage.StorageError):
        list(store.chunks("AAAAAAAAAAAAAAAAAAAAAA"))  # no such blob


def test_a_file_field_takes_an_upload_id_or_a_web_address() -> None:
    info = FieldInfo("photo", "image")
    check = validation.fields.lookup("image")
    assert check is not None
    assert check.coerce(info, "https://cdn.example/a.png") == "https://cdn.example/a.png"
    assert check.coerce(info, "AAAAAAAAAAAAAAAAAAAAAA") == "AAAAAAAAAAAAAAAAAAAAAA"
    for bad in ("javascript:alert(1)", "files/a.pdf", "../x"):
        with pytest.raises(validation.Invalid):
            check.coerce(info, bad)


def test_local_storage_keeps_replaces_streams_and_deletes(tmp_path: Path) -> None:
    store = storage.LocalStorage(tmp_path / "files")
    assert "files" in repr(store)
    assert not store.exists("abcdefgh")
    store.put("abcdefgh", io.BytesIO(b"first"))
    store.put("abcdefgh", io.BytesIO(b"x" * (storage.CHUNK_BYTES + 5)))  # replaced whole
    assert b"".join(store.chunks("abcdefgh")) == b"x" * (storage.CHUNK_BYTES + 5)
    assert store.path("abcdefgh").parent.name == "ab"
    store.delete("abcdefgh")
    store.delete("abcdefgh")  # gone already: nothing to do
    assert not store.exists("abcdefgh")
    with pytest.raises(storage.StorageError):
        list(store.chunks("abcdefgh"))
    blocked = storage.LocalStorage(tmp_path / "a-file")
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(storage.StorageError):
        blocked.put("abcdefgh", io.BytesIO(b"x"))


def test_the_store_comes_from_the_settings_once_per_process(tmp_path: Path) -> None:
    settings = SimpleNamespace(
        files_s3_bucket=None,
        files_s3_prefix="",
        files_s3_endpoint_url=None,
        files_s3_region=None,
        files_dir=str(tmp_path),
    )
    first = storage.from_settings(settings)
    assert isinstance(first, storage.LocalStorage) and storage.from_settings(settings) is first
