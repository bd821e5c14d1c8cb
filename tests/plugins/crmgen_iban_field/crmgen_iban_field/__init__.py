"""An IBAN field type for crmgen (``type: iban``): the rules both halves share.

``spec`` is the generator's half (``crmgen.fields`` entry point: column, OpenAPI schema, form
widget, samples) and ``runtime`` the generated app's (``crmgen_runtime.fields``: API check,
display, and the widget's template and words in ``templates/`` and ``messages/``). Neither
imports the other, so the app never needs crmgen installed.
"""

from __future__ import annotations

import re

SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
MAX_LENGTH = 34


def compact(text: str) -> str:
    """``text`` without spaces, in capitals (how the column stores it)."""
    return re.sub(r"\s+", "", text).upper()


def _digits(text: str) -> int:
    return int("".join(str(int(char, 36)) for char in text))


def is_valid(text: str) -> bool:
    """Whether the compact ``text`` has an IBAN's shape and checksum (mod 97 is 1)."""
    return bool(SHAPE.fullmatch(text)) and _digits(text[4:] + text[:4]) % 97 == 1


def grouped(text: str) -> str:
    """``DE89370400440532013000`` as ``DE89 3704 0044 0532 0130 00``."""
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def make(country: str, bban: str) -> str:
    """The IBAN of ``bban`` in ``country``, with its check digits."""
    check = 98 - _digits(bban + country + "00") % 97
    return f"{country}{check:02d}{bban}"
