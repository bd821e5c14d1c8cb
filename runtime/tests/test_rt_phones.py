"""Phone numbers in E.164: reading, showing, and the migrations' rewrite of stored values."""

from __future__ import annotations

import logging

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
