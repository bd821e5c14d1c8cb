"""``crmgen_runtime.decimals``: exact decimals on SQLite and PostgreSQL alike.

The database cases run on both (the ``engine`` fixture): values come back exactly as stored,
comparisons with Python values are rewritten onto the column's grid, sums never round.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from crmgen_runtime.decimals import (
    ExactDecimal,
    SqliteExactSum,
    add,
    average,
    column_sum,
    exact_sum,
    spreadsheet_number,
    to_decimal,
)
from sqlalchemy.sql import operators

metadata = sa.MetaData()
deals = sa.Table(
    "deals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("amount", ExactDecimal(12, 2)),
    sa.Column("rate", ExactDecimal(8, 4)),
    sa.Column("whole", ExactDecimal(18, 0)),
    sa.Column("qty", sa.Integer),
)
AMOUNTS = ["0.01", "1234567890.12", "-5.50", "2.35", "0.00"]


@pytest.fixture
def db(engine: sa.Engine) -> Iterator[sa.Connection]:
    """``deals`` with five rows (and one of NULLs) on ``engine``."""
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            deals.insert(),
            [
                {"id": i, "amount": Decimal(a), "rate": Decimal("0.1234"), "qty": i}
                for i, a in enumerate(AMOUNTS, start=1)
            ],
        )
        connection.execute(deals.insert(), [{"id": 9}])
    with engine.connect() as connection:
        yield connection
    metadata.drop_all(engine)


def ids(db: sa.Connection, condition: Any) -> list[int]:
    return list(db.scalars(sa.select(deals.c.id).where(condition).order_by(deals.c.id)))


def test_values_come_back_exactly(db: sa.Connection) -> None:
    rows = db.execute(sa.select(deals.c.amount, deals.c.rate).order_by(deals.c.id)).all()
    assert [r.amount for r in rows] == [Decimal(a) for a in AMOUNTS] + [None]
    assert all(isinstance(r.amount, Decimal) for r in rows[:-1])
    assert rows[0].rate == Decimal("0.1234")


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (7, "7.00"),
        (0.1, "0.10"),
        ("2.345", "2.35"),
        ("-2.345", "-2.35"),
        (Decimal("1.004"), "1.00"),
    ],
)
def test_numbers_are_stored_rounded_half_up_as_postgresql_does(
    db: sa.Connection, given: Any, stored: str
) -> None:
    db.execute(deals.insert(), [{"id": 20, "amount": given}])
    assert db.scalar(sa.select(deals.c.amount).where(deals.c.id == 20)) == Decimal(stored)


def test_a_value_beyond_the_column_is_refused(db: sa.Connection) -> None:
    with pytest.raises(sa.exc.DBAPIError):
        db.execute(deals.insert(), [{"id": 21, "amount": Decimal(10000000000)}])


def test_ordering_and_min_max_follow_the_values(db: sa.Connection) -> None:
    ordered = db.scalars(
        sa.select(deals.c.amount).where(deals.c.amount.is_not(None)).order_by(deals.c.amount)
    )
    assert list(ordered) == sorted(Decimal(a) for a in AMOUNTS)
    low, high = db.execute(
        sa.select(sa.func.min(deals.c.amount), sa.func.max(deals.c.amount))
    ).one()
    assert (Decimal(low), Decimal(high)) == (Decimal("-5.50"), Decimal("1234567890.12"))


def test_comparisons_with_values_off_the_grid(db: sa.Connection) -> None:
    amount = deals.c.amount
    assert ids(db, amount > 0.005) == [1, 2, 4]
    assert ids(db, amount >= 0.005) == [1, 2, 4]
    assert ids(db, amount < 0.005) == [3, 5]
    assert ids(db, amount <= Decimal("2.349")) == [1, 3, 5]
    assert ids(db, amount <= Decimal("2.351")) == [1, 3, 4, 5]
    assert ids(db, amount == 0.005) == []
    assert ids(db, amount != 0.005) == [1, 2, 3, 4, 5]  # NULL is still unknown
    assert ids(db, amount == 2.35) == [4]
    assert ids(db, amount.in_([0.01, 0.015, Decimal("2.35")])) == [1, 4]
    assert ids(db, amount.not_in([0.01])) == [2, 3, 4, 5]
    assert ids(db, amount.is_distinct_from(0.005)) == [1, 2, 3, 4, 5, 9]
    assert ids(db, amount.is_not_distinct_from(0.005)) == []


def test_comparisons_with_values_beyond_the_column(db: sa.Connection) -> None:
    amount = deals.c.amount
    assert ids(db, amount < Decimal("1e12")) == [1, 2, 3, 4, 5]
    assert ids(db, amount > Decimal("-1e12")) == [1, 2, 3, 4, 5]
    assert ids(db, amount > Decimal("1e12")) == []
    assert ids(db, amount == Decimal("1e12")) == []
    assert ids(db, amount != Decimal("1e12")) == [1, 2, 3, 4, 5]
    assert ids(db, amount == Decimal("NaN")) == []


def test_comparisons_between_columns_of_other_scales(db: sa.Connection) -> None:
    assert ids(db, deals.c.amount > deals.c.qty) == [2]
    assert ids(db, deals.c.rate < deals.c.amount) == [2, 4]
    assert ids(db, deals.c.amount > deals.c.rate) == [2, 4]
    assert ids(db, deals.c.amount == deals.c.amount) == [1, 2, 3, 4, 5]


def test_an_exact_column_on_the_right_of_a_comparison(db: sa.Connection) -> None:
    assert ids(db, deals.c.qty > deals.c.amount) == [1, 3, 4, 5]
    assert ids(db, deals.c.qty <= deals.c.amount) == [2]
    assert ids(db, deals.c.rate < deals.c.amount) == [2, 4]  # both exact: the left aligns
    assert ids(db, deals.c.amount == deals.c.amount) == [1, 2, 3, 4, 5]
    assert ids(db, sa.literal(1) < deals.c.amount) == [2, 4]
    assert ids(db, sa.literal(0) < deals.c.qty) == [1, 2, 3, 4, 5]  # no exact column


def test_arithmetic_in_sql_is_refused() -> None:
    with pytest.raises(TypeError, match="compute in Python"):
        _ = deals.c.amount * 2
    with pytest.raises(TypeError, match="compute in Python"):
        _ = -deals.c.amount


def test_exact_sum_neither_rounds_nor_overflows(db: sa.Connection) -> None:
    total = db.scalar(sa.select(exact_sum(deals.c.amount)))
    assert total == sum(Decimal(a) for a in AMOUNTS) and isinstance(total, Decimal)
    assert db.scalar(sa.select(exact_sum(deals.c.qty))) == 15
    big = Decimal(900000000000000000)  # 9e17: twenty of them pass 64 bits
    db.execute(deals.update().values(whole=big))
    db.execute(deals.insert(), [{"id": 100 + i, "whole": big} for i in range(14)])
    assert db.scalar(sa.select(exact_sum(deals.c.whole))) == big * 20
    assert db.scalar(sa.select(exact_sum(deals.c.amount)).where(deals.c.id == 9)) is None


def test_average_is_a_sum_and_a_count_divided_in_python(db: sa.Connection) -> None:
    total, count = db.execute(
        sa.select(exact_sum(deals.c.amount), sa.func.count(deals.c.amount))
    ).one()
    assert average(total, count, Decimal("0.01")) == Decimal("246913577.40")
    assert average(None, 0, Decimal("0.01")) is None
    assert average(Decimal(1), 3, Decimal("0.0001")) == Decimal("0.3333")
    assert average(5, 2, Decimal(1)) == Decimal(3)  # half up
    assert average(1e308, 4, Decimal("0.01")) == 2.5e307  # a float column's: a float


def test_a_float_column_sums_as_floats_do() -> None:
    measures = sa.Table(
        "measures", sa.MetaData(), sa.Column("w", sa.Double()), sa.Column("n", sa.Integer())
    )
    assert isinstance(column_sum(measures.c.w), sa.sql.functions.sum)
    assert isinstance(column_sum(measures.c.n), exact_sum)


def test_only_exact_columns_are_accepted() -> None:
    with pytest.raises(ValueError, match="at most 18 digits"):
        ExactDecimal(19, 2)
    with pytest.raises(ValueError):
        ExactDecimal(4, 5)
    assert ExactDecimal(10, 2).python_type is Decimal


def test_a_non_number_is_refused_before_sqlite() -> None:
    column = ExactDecimal(10, 2)
    dialect = sa.create_engine("sqlite://").dialect
    with pytest.raises(TypeError, match="is not a number"):
        column.process_bind_param([1], dialect)
    assert column.process_literal_param(Decimal("1.5"), dialect) == 150
    with pytest.raises(TypeError, match="is not a number"):
        column.process_bind_param(True, dialect)


def test_on_grid() -> None:
    column = ExactDecimal(5, 2)
    assert column.on_grid(Decimal("1.005"), operators.gt) == Decimal("1.00")
    assert column.on_grid(Decimal("1.005"), operators.ge) == Decimal("1.01")
    assert column.on_grid(Decimal("1.005"), operators.eq) is False
    assert column.on_grid(Decimal("1.005"), operators.ne) is True
    assert column.on_grid(Decimal("1.50"), operators.eq) == Decimal("1.50")
    assert column.on_grid(Decimal(1000), operators.lt) is True
    assert column.on_grid(Decimal(-1000), operators.lt) is False


def test_to_decimal_and_add() -> None:
    assert to_decimal(0.1) == Decimal("0.1")
    assert to_decimal(3) == Decimal(3)
    assert to_decimal(Decimal("2.5")) == Decimal("2.5")
    assert to_decimal(True) is None and to_decimal("1") is None
    assert add([Decimal("0.1"), None, Decimal("0.2")]) == Decimal("0.3")
    assert add([None]) is None and add([]) is None
    assert add([Decimal("9" * 40), 1]) == Decimal("1" + "0" * 40)


def test_sqlite_exact_sum_answers_text_beyond_64_bits() -> None:
    total = SqliteExactSum()
    assert total.finalize() is None
    total.step(None)
    total.step(2**62)
    assert total.finalize() == 2**62
    total.step(2**62)
    assert total.finalize() == str(2**63)


def test_spreadsheet_number_keeps_every_digit() -> None:
    assert spreadsheet_number(Decimal("1234.5")) == Decimal("1234.5")
    assert spreadsheet_number(Decimal("1234567890123.45")) == Decimal("1234567890123.45")
    assert spreadsheet_number(Decimal("12345678901234.56")) == "12345678901234.56"
    assert spreadsheet_number(10**14) == 10**14
    assert spreadsheet_number(True) is True
    assert spreadsheet_number(1.5) == 1.5 and spreadsheet_number("x") == "x"


def test_spreadsheet_number_keeps_every_digit_of_a_long_integer() -> None:
    assert spreadsheet_number(2**60 + 1) == str(2**60 + 1)
