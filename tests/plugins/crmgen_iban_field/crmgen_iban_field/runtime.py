"""The generated app's half: how the API checks an IBAN, how pages show it, and its form
widget (``templates/widgets/iban.html``, with its words in ``messages/``)."""

from __future__ import annotations

from typing import Any

from crmgen_runtime.fields import FieldType
from crmgen_runtime.validation import Invalid

from crmgen_iban_field import compact, grouped, is_valid


def coerce(info: Any, value: Any) -> str:
    """An API value (spaces and small letters allowed) as the column stores it."""
    if not isinstance(value, str):
        raise Invalid("Must be text.")
    text = compact(value)
    if not is_valid(text):
        raise Invalid("Must be a valid IBAN.")
    return text


IBAN = FieldType(
    "iban",
    coerce,
    text=True,
    format=lambda value: grouped(str(value)),
    assets="crmgen_iban_field",  # templates/widgets/iban.html and messages/iban.json
)
