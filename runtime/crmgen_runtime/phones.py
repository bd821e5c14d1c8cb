"""Phone numbers in E.164, read and shown with ``phonenumbers`` (Google's libphonenumber).

An app whose spec names ``app.phone_region`` (``RU``) stores every phone field normalised:
``normalise("8 912 345-67-89", "RU")`` is ``"+79123456789"``, as is ``"+7 912 345 67 89"``,
while ``"+44 912 345 67 89"`` is another number (``"+449123456789"``). A number without its
country code is read in the default region; one that cannot be read, or has too few or too many
digits for its country, is refused (``None`` here, a 422 ``not_phone`` from the API). Pages
show a number of the default region in its national format (``8 (912) 345-67-89``) and any
other in the international one (``+44 912 345 6789``); a stored value that is not E.164 (kept
as it was by the migration that normalised older values) is shown as it is.

Turning the region on (or changing it) gives the app a migration that rewrites the stored
values (``normalise_column``); a value it cannot read is kept as it was and logged.

The region reaches the field's behaviour as the option ``region`` of its ``FieldInfo`` (the
generated ``resources.py``), and the pages through ``AppConfig.phone_region``. Without a
region, phones are free text checked by a pattern, as before.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import phonenumbers
import sqlalchemy as sa
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

E164 = re.compile(r"\+[1-9][0-9]{1,14}")
MAX_INPUT = 64  # longer text is no phone number (and is not handed to the parser)
BATCH = 1000  # rows a migration reads at a time
log = logging.getLogger(__name__)


def known_region(region: str) -> bool:
    """Whether ``region`` is a region code the library knows (``RU``, ``ID``, ``GB``)."""
    return region in phonenumbers.SUPPORTED_REGIONS


def normalise(text: str, region: str) -> str | None:
    """``text`` as an E.164 number (``+79123456789``), or None when it is not a possible one."""
    if not text or len(text) > MAX_INPUT:
        return None
    try:
        number = phonenumbers.parse(text, region or None)
    except NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def demo_number(text: str, region: str) -> str:
    """A made-up number (``text``, from the demo data) as a valid E.164 number of ``region``:
    ``text`` itself when it is one; else the region's example mobile number with its last
    digits taken from ``text`` (so the numbers differ), or the example itself. Faker's numbers
    are often of no real area (``8 (325) 609-63-91``) or of another country sharing the code
    (``+7 716...`` is Kazakhstan), which pages show in a foreign format."""
    number = normalise(text, region)
    if number is not None and _valid_in(number, region):
        return number
    example = phonenumbers.example_number_for_type(
        region, PhoneNumberType.MOBILE
    ) or phonenumbers.example_number(region)
    if example is None:  # a region without examples: as normalising gives it
        return number or text
    national = str(example.national_number)
    digits = re.sub(r"[^0-9]", "", text)
    for tail in range(min(len(national) - 1, len(digits)), 0, -1):  # keep as much as valid
        made = f"+{example.country_code}{national[:-tail]}{digits[-tail:]}"
        if _valid_in(made, region):
            return made
    return phonenumbers.format_number(example, PhoneNumberFormat.E164)


def _valid_in(e164: str, region: str) -> bool:
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return False
    return (
        phonenumbers.is_valid_number(number)
        and phonenumbers.region_code_for_number(number) == region
    )


def stored(value: Any, region: str) -> Any:
    """A value about to be written to (or compared with) a phone field of an app with a
    ``region``: its E.164 form when it reads as a number, else as it is (a process's value
    that is no number is kept, like the migration keeps one). Lists are read item by item."""
    if isinstance(value, (list, tuple)):
        return [stored(item, region) for item in value]
    if not region or not isinstance(value, str):
        return value
    return normalise(value, region) or value


def stored_values(fields: Any, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (field name -> value) with each phone field's value in E.164 (``stored``);
    ``fields`` maps names to ``FieldInfo`` (a resource's), whose ``region`` option says the
    app stores phones normalised."""
    out = dict(values)
    for name, value in values.items():
        info = fields.get(name)
        if info is not None and info.type == "phone" and info.options.get("region"):
            out[name] = stored(value, info.options["region"])
    return out


def display(stored: str, region: str) -> str:
    """A stored number for people: national in ``region``, international elsewhere."""
    if not E164.fullmatch(stored or ""):
        return stored  # kept as entered (it could not be read when it was normalised)
    try:
        number = phonenumbers.parse(stored, None)
    except NumberParseException:
        return stored
    home = phonenumbers.region_code_for_number(number) == region
    return phonenumbers.format_number(
        number, PhoneNumberFormat.NATIONAL if home else PhoneNumberFormat.INTERNATIONAL
    )


def normalise_column(
    connection: sa.Connection, table: str, column: str, region: str
) -> tuple[int, list[Any]]:
    """Rewrite every value of ``table.column`` in E.164 (a migration's step, on the open
    connection): the count of values changed and the ids of rows kept as they were because
    their value is no phone number ``normalise`` can read. Each kept row is logged (a warning
    naming the table, column and id) so someone can fix it by hand; the app shows it as it is
    and a search finds it by its digits."""
    data = sa.table(table, sa.column("id"), sa.column(column))
    value = data.c[column]
    read = sa.select(data.c.id, value).where(value.is_not(None), data.c.id > sa.bindparam("after"))
    changed = 0
    kept: list[Any] = []
    after: Any = 0
    while rows := connection.execute(read.order_by(data.c.id).limit(BATCH), {"after": after}).all():
        updates = []
        for row_id, text in rows:
            number = normalise(text, region) if isinstance(text, str) else None
            if number is None:
                if text != "":
                    kept.append(row_id)
                    log.warning(
                        "%s.%s of row %s is kept as it was: %r is no phone number in %s",
                        table,
                        column,
                        row_id,
                        text,
                        region,
                    )
            elif number != text:
                updates.append({"_phone_row": row_id, "_phone_value": number})
        if updates:
            statement = data.update().where(data.c.id == sa.bindparam("_phone_row"))
            connection.execute(statement.values({column: sa.bindparam("_phone_value")}), updates)
            changed += len(updates)
        after = rows[-1][0]
    if kept:
        log.warning(
            "%s.%s: %d value(s) normalised to E.164, %d kept as they were (see above)",
            table,
            column,
            changed,
            len(kept),
        )
    return changed, kept
