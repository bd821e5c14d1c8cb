"""The generator's half: the ``iban`` field type as crmgen registers it."""

from __future__ import annotations

from typing import Any

from crmgen.language.fields import FieldType
from crmgen_iban_field import MAX_LENGTH, compact, is_valid, make


def _check_default(value: Any, raw: dict[str, Any]) -> str | None:
    if not isinstance(value, str) or not is_valid(compact(value)):
        return f"the default {value!r} is not a valid IBAN"
    return None


def sample(i: int) -> str:
    """The ``i``-th sample IBAN (German, distinct for each ``i``)."""
    return make("DE", f"37040044{532013000 + i:010d}")


IBAN = FieldType(
    "iban",
    "an international bank account number (checked, shown in groups of four)",
    {},
    _check_default,
    searchable=True,
    column=lambda f: f"sa.String({MAX_LENGTH})",
    text=True,
    api_schema={
        "type": "string",
        "format": "iban",
        "pattern": "^[A-Za-z]{2}[0-9]{2}[A-Za-z0-9 ]{11,40}$",
        "description": "an IBAN; spaces are ignored, the checksum must hold",
    },
    widget="iban",  # its own partial, in the runtime half's templates/widgets/iban.html
    filter="text",
    sample=sample,
    invalid=("DE00370400440532013000", "not an iban", 12345),
    distribution="crmgen-iban-field",
)
