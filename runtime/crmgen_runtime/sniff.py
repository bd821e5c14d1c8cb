"""What a file is, from its first bytes (its "magic"), never from its name.

``content_type(head)`` names the type of a file whose first ``HEAD_BYTES`` bytes are ``head``:
the raster images browsers show (PNG, JPEG, GIF, WebP), PDF, the zip-based office formats
(told apart by their ``[Content_Types].xml`` or ``mimetype`` entry, see ``zip_type``), other
well-known formats, executables (which are never anything else, whatever they are called),
plain UTF-8 text, else ``application/octet-stream``. ``accepts(accept, kind)`` says whether a
field's ``accept:`` list (MIME types, ``image/*`` or ``.ext``) takes a file of that type.
"""

from __future__ import annotations

import io
import mimetypes
import zipfile

HEAD_BYTES = 4096
OCTET_STREAM = "application/octet-stream"
# Types a browser may show inline (an image preview): raster images only, never SVG or HTML.
INLINE_SAFE = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
EXECUTABLES = frozenset(
    {
        "application/x-msdownload",
        "application/x-executable",
        "application/x-mach-binary",
        "application/x-sh",
    }
)

# (offset, magic bytes, type), checked in order.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"MZ", "application/x-msdownload"),
    (0, b"\x7fELF", "application/x-executable"),
    (0, b"\xcf\xfa\xed\xfe", "application/x-mach-binary"),
    (0, b"\xce\xfa\xed\xfe", "application/x-mach-binary"),
    (0, b"\xca\xfe\xba\xbe", "application/x-mach-binary"),
    (0, b"#!", "application/x-sh"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"Rar!\x1a\x07", "application/vnd.rar"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),  # old .doc/.xls
    (0, b"ID3", "audio/mpeg"),
    (0, b"OggS", "audio/ogg"),
    (0, b"BM", "image/bmp"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (4, b"ftyp", "video/mp4"),
)
_RIFF = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
_OFFICE = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_MAX_ZIP_NAMES = 2000  # names looked at to tell an office file from a plain zip


def content_type(head: bytes) -> str:
    """The type of a file starting with ``head`` (zip files: ``application/zip``; see
    ``zip_type`` for the office formats inside)."""
    if head[:4] == b"RIFF" and head[8:12] in _RIFF:
        return _RIFF[head[8:12]]
    for offset, magic, kind in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    if head[:4] == b"PK\x03\x04":
        return "application/zip"
    stripped = head.lstrip()
    if stripped[:5].lower() in (b"<?xml", b"<svg ") or stripped[:4].lower() == b"<svg":
        return "image/svg+xml" if b"<svg" in head.lower() else "application/xml"
    if stripped[:14].lower() == b"<!doctype html" or stripped[:5].lower() == b"<html":
        return "text/html"
    if _is_text(head):
        return "text/plain"
    return OCTET_STREAM


def zip_type(path_or_file: str | io.IOBase | object) -> str:
    """The office format of a zip file (DOCX, XLSX, PPTX, OpenDocument), else
    ``application/zip``; only its directory is read."""
    try:
        with zipfile.ZipFile(path_or_file) as archive:  # type: ignore[arg-type]
            names = archive.namelist()[:_MAX_ZIP_NAMES]
            if "mimetype" in names:
                info = archive.getinfo("mimetype")
                if info.file_size < 100:
                    declared = archive.read("mimetype").decode("ascii", "replace").strip()
                    if declared.startswith("application/vnd.oasis.opendocument."):
                        return declared
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, NotImplementedError):
        return "application/zip"
    for prefix, kind in _OFFICE.items():
        if any(name.startswith(prefix) for name in names):
            return kind
    return "application/zip"


def _is_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return not head
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the head is still text
        if exc.start < len(head) - 3:
            return False
    return True


def describe(kind: str) -> str:
    """A short name of the type for messages: ``PNG image``, ``PDF document``, ``executable``."""
    if kind in EXECUTABLES:
        return "an executable program"
    names = {
        "image/png": "a PNG image",
        "image/jpeg": "a JPEG image",
        "image/gif": "a GIF image",
        "image/webp": "a WebP image",
        "application/pdf": "a PDF document",
        "text/plain": "plain text",
        "text/html": "an HTML page",
        "image/svg+xml": "an SVG drawing",
        OCTET_STREAM: "a file of unknown type",
    }
    return names.get(kind, kind)


def accepts(accept: tuple[str, ...] | list[str], kind: str) -> bool:
    """Whether the ``accept:`` list takes a file of type ``kind`` (empty: any file but an
    executable). Entries are MIME types (``application/pdf``), families (``image/*``) or
    extensions (``.pdf``, taken by the type they stand for)."""
    if kind in EXECUTABLES:
        return False
    if not accept:
        return True
    for entry in accept:
        wanted = entry.strip().lower()
        if wanted.startswith("."):
            wanted = mimetypes.types_map.get(wanted, "")
        if wanted == kind or (wanted.endswith("/*") and kind.startswith(wanted[:-1])):
            return True
    return False
