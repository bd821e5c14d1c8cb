"""Thumbnails of uploaded images (Pillow), bounded like the imports' XLSX files are.

``make(source)`` reads an image's header first: one of more than ``MAX_PIXELS`` pixels (a
decompression bomb: a few kilobytes that inflate to gigabytes) is refused before any pixel
is decoded, and so is anything Pillow cannot read (``NotAnImage``). The thumbnail fits in
``SIZE`` x ``SIZE``, is re-encoded as PNG (no metadata of the original is kept) and is small.
"""

from __future__ import annotations

import io
import warnings
from typing import IO

MAX_PIXELS = 40_000_000  # 40 megapixels: any camera's photo, not a bomb
SIZE = 256
MEDIA_TYPE = "image/png"
FORMATS = ("PNG", "JPEG", "GIF", "WEBP")


class NotAnImage(Exception):
    """The bytes are no image this app shows (or too many pixels); the message says why."""


def make(source: IO[bytes]) -> io.BytesIO:
    """A PNG thumbnail of the image in ``source``; ``NotAnImage`` when it is none."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source, formats=FORMATS) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise NotAnImage(
                        f"{width} x {height} pixels is more than {MAX_PIXELS:,} pixels"
                    )
                image.draft("RGB", (SIZE, SIZE))  # JPEG: decode at a reduced size
                image.thumbnail((SIZE, SIZE))
                small = image.convert("RGBA" if "A" in image.getbands() else "RGB")
                out = io.BytesIO()
                small.save(out, "PNG", optimize=True)
    except NotAnImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise NotAnImage("not a readable image, or too many pixels") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise NotAnImage(f"a damaged image ({exc})") from None
    out.seek(0)
    return out
