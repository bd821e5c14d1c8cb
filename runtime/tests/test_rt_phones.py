"""Phone numbers in E.164: reading, showing, and the migrations' rewrite of stored values."""

from __future__ import annotations

import logging

import phonenumbers
import pytest
import sqlalchemy as sa
from crmgen_runtime import phones


def test_any_way_of_writing_a_number_is_one_e164_number() -> None:
    for text in ("8 912 345-67-89", "+7 912 345 67 89", "(912) 345-67-89", "+7(912)3456789"):
        assert phones.normalise(text, "RU") == "+79123456789", text
    assert phones.normalise("+44 912 345 67 89", "RU") == "+449123456789"
    for bad in ("", "000", "+7 12", "call me", "8 912 345 67 89 12 34 56", "1" * 100):
        assert phones.normalise(bad, "RU") is None, bad


def test_the_regions_numbers_are_national_others_international() -> None:
    assert phones.display("+79123456789", "RU") == "8 (912) 345-67-89"
    assert phones.display("+442079460958", "RU") == "+44 20 7946 0958"
    assert phones.display("ask the office", "RU") == "ask the office"  # kept as written
    assert phones.known_region("RU") and not phones.known_region("ru")


def test_a_column_is_rewritten_and_what_is_no_number_is_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = sa.create_engine("sqlite://")
    table = sa.table("contacts", sa.column("id"), sa.column("phone"))
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE contacts (id INTEGER PRIMARY KEY, phone TEXT)"))
        values = ["8 912 345-67-89", "+79123456789", "ask the office", None, ""]
        connection.execute(
            sa.insert(table), [{"id": i, "phone": v} for i, v in enumerate(values, 1)]
        )
        with caplog.at_level(logging.WARNING, "crmgen_runtime.phones"):
            changed, kept = phones.normalise_column(connection, "contacts", "phone", "RU")
        rows = connection.execute(sa.select(table.c.phone).order_by(table.c.id)).scalars()
        assert list(rows) == ["+79123456789", "+79123456789", "ask the office", None, ""]
    assert (changed, kept) == (1, [3])
    assert "contacts.phone of row 3 is kept as it was" in caplog.text


def test_demo_numbers_are_valid_numbers_of_the_region() -> None:
    """Faker's made-up numbers are often of no real area or of another country sharing +7;
    the demo data gets valid numbers of the app's region, different when the digits differ."""
    for text in ["8 (325) 609-63-91", "+7 5010875240", "+7 71636 0 44 99", "hello"]:
        made = phones.demo_number(text, "RU")
        number = phonenumbers.parse(made, None)
        assert phonenumbers.is_valid_number(number), (text, made)
        assert phonenumbers.region_code_for_number(number) == "RU", (text, made)
        assert phones.display(made, "RU").startswith("8 ("), made  # shown the national way
    assert phones.demo_number("8 912 345-67-89", "RU") == "+79123456789"  # valid: kept
    assert phones.demo_number("+7 5010875240", "RU") != phones.demo_number("+7 5010875241", "RU")
    for region in ("ID", "BA", "CN", "GB", "US"):
        made = phones.demo_number("0812-3456-7890", region)
        number = phonenumbers.parse(made, None)
        assert phonenumbers.is_valid_number(number), (region, made)
        assert phonenumbers.region_code_for_number(number) == region, (region, made)
