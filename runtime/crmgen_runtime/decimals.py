"""Exact decimals on every database.

PostgreSQL keeps ``NUMERIC(p, s)`` exactly; SQLite stores it as a float, which rounds values of
more than 15 digits. So a decimal or money column is an ``ExactDecimal(p, s)``: ``NUMERIC(p, s)``
on PostgreSQL and, on SQLite, a whole number of the field's smallest unit (value x 10^s) in an
INTEGER column, exact and ordered like the values. ``p`` is at most 18 digits (a 64-bit integer).

SQL over such a column stays exact on both databases:

- comparisons with Python values are rewritten onto the column's grid (``amount > 0.005`` is
  ``amount > 0.00``; a value no stored value can equal, or one beyond the column's range, gives
  the answer it gives for every value), so every bound value is a whole number of units;
- comparisons with another number column bring both to the same unit (``Aligned``);
- ``exact_sum`` sums without rounding or overflow (SQLite: the ``app_exact_sum`` aggregate that
  ``db`` registers; it answers text beyond 64 bits), ``column_sum`` picks it or, for a float
  column, the plain ``SUM``; ``MIN``/``MAX`` and ``ORDER BY`` work as
  they are; averages are a sum and a count divided in Python (``average``);
- arithmetic in SQL (``amount * 2``) is refused with a clear error: compute in Python.

Spreadsheets keep numbers as doubles (15 significant digits): ``spreadsheet_number`` writes a
longer number into an XLSX cell as its text, so exports and documents lose no digit either.
"""

from __future__ import annotations

import decimal
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import functions, operators
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BinaryExpression

MAX_PRECISION = 18
SPREADSHEET_DIGITS = 15  # what a double (an XLSX number) holds exactly
# Python arithmetic on sums and averages: wide enough that nothing is ever rounded.
WIDE = decimal.Context(prec=80, rounding=ROUND_HALF_UP)
# Comparisons with a value, and the rounding that keeps their meaning on the column's grid.
_ORDERING = {
    operators.gt: ROUND_FLOOR,
    operators.ge: ROUND_CEILING,
    operators.lt: ROUND_CEILING,
    operators.le: ROUND_FLOOR,
}
_EQUALITY = (
    operators.eq,
    operators.ne,
    operators.is_distinct_from,
    operators.is_not_distinct_from,
)
_MEMBERSHIP = (operators.in_op, operators.not_in_op)
_ARITHMETIC = (
    operators.add,
    operators.sub,
    operators.mul,
    operators.truediv,
    operators.floordiv,
    operators.mod,
    operators.neg,
)


def to_decimal(value: Any) -> Decimal | None:
    """A number as a Decimal (a float by its shortest text: 0.1 is 0.1), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return None


def _scale_of(type_: Any) -> int | None:
    """The number of decimal places a number column keeps (0 for integers), else None."""
    if isinstance(type_, ExactDecimal):
        return type_.scale
    if isinstance(type_, sa.Integer):
        return 0
    return None


class Aligned(functions.FunctionElement[Any]):
    """A number column counted in smaller units: ``column * factor`` on SQLite (where exact
    decimals are stored as whole units), the column itself on PostgreSQL."""

    inherit_cache = True
    type = sa.Numeric()

    def __init__(self, column: Any, shift: int) -> None:
        super().__init__(column, sa.literal_column(str(10**shift)))


@compiles(Aligned)
def _aligned(element: Aligned, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses.clauses[0], **kw)


@compiles(Aligned, "sqlite")
def _aligned_sqlite(element: Aligned, compiler: SQLCompiler, **kw: Any) -> str:
    column, factor = element.clauses.clauses
    return f"({compiler.process(column, **kw)} * {compiler.process(factor, **kw)})"


class ExactDecimal(sa.types.TypeDecorator[Decimal]):
    """``NUMERIC(precision, scale)``, stored exactly on SQLite as a whole number of units."""

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        if not 0 <= scale <= precision <= MAX_PRECISION:
            raise ValueError(
                f"NUMERIC({precision}, {scale}) is not exact: at most {MAX_PRECISION} digits"
            )
        super().__init__(precision, scale)
        self.precision = precision
        self.scale = scale
        self.unit = Decimal(1).scaleb(-scale)
        # every stored value lies strictly between -limit and limit
        self.limit = Decimal(10) ** (precision - scale)

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return sa.BigInteger()
        return sa.Numeric(self.precision, self.scale)

    def units(self, value: Decimal, dialect: sa.Dialect) -> int:
        """``value`` as whole units (rounded half-up, as PostgreSQL rounds what it stores);
        a value the column cannot hold is refused like PostgreSQL refuses it."""
        units = value.scaleb(self.scale, context=WIDE).to_integral_value(
            ROUND_HALF_UP, context=WIDE
        )
        if abs(units) >= 10**self.precision:
            raise dialect.loaded_dbapi.DataError(
                f"{value} does not fit NUMERIC({self.precision}, {self.scale})"
            )
        return int(units)

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        number = Decimal(value) if isinstance(value, str) else to_decimal(value)
        if number is None:
            raise TypeError(f"{value!r} is not a number")
        return self.units(number, dialect)

    def process_literal_param(self, value: Any, dialect: sa.Dialect) -> Any:
        return self.process_bind_param(value, dialect)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Decimal | None:
        if value is None or dialect.name != "sqlite":
            return value  # type: ignore[no-any-return]
        # whole units (an exact_sum beyond 64 bits comes as text)
        return Decimal(value).scaleb(-self.scale, context=WIDE)

    def on_grid(self, value: Decimal, op: Any) -> Decimal | bool:
        """``value`` as the comparison ``op`` sees it on the column's grid of stored values:
        rounded the way that keeps the comparison's meaning; or, when no stored value can
        equal it or lie beyond it, the comparison's result for every stored value."""
        rounding = _ORDERING.get(op)
        if value.is_nan():
            return op in (operators.ne, operators.is_distinct_from)
        if abs(value) >= self.limit:  # beyond every stored value
            if rounding is None:
                return op in (operators.ne, operators.is_distinct_from)
            return (op in (operators.lt, operators.le)) == (value > 0)
        gridded = value.quantize(self.unit, rounding=rounding or ROUND_HALF_UP, context=WIDE)
        if gridded == value:
            return value
        if rounding is None:  # between two stored values: equal to none
            return op in (operators.ne, operators.is_distinct_from)
        return gridded

    class Comparator(sa.types.TypeDecorator.Comparator[Decimal], sa.Numeric.Comparator[Decimal]):
        """Comparisons that stay exact on SQLite's units; arithmetic refused."""

        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            column_type = cast(ExactDecimal, self.expr.type)
            if op in _ARITHMETIC:
                raise TypeError(
                    "exact decimal columns do no arithmetic in SQL (SQLite stores whole units): "
                    "compute in Python"
                )
            if op in _MEMBERSHIP and other and isinstance(other[0], (list, tuple, set, frozenset)):
                values = [to_decimal(v) for v in other[0]]
                if all(v is not None for v in values):
                    kept = [column_type.on_grid(v, operators.eq) for v in values if v is not None]
                    return super().operate(
                        op, [v for v in kept if isinstance(v, Decimal)], **kwargs
                    )
            if len(other) != 1:
                return super().operate(op, *other, **kwargs)
            (value,) = other
            if hasattr(value, "__clause_element__"):  # a model's attribute
                value = value.__clause_element__()
            if isinstance(value, sa.sql.ColumnElement):
                return self._columns(op, value, **kwargs)
            number = to_decimal(value)
            if number is None or not (op in _ORDERING or op in _EQUALITY):
                return super().operate(op, value, **kwargs)
            gridded = column_type.on_grid(number, op)
            if not isinstance(gridded, bool):
                return super().operate(op, gridded, **kwargs)
            if op in (operators.is_distinct_from, operators.is_not_distinct_from):
                return sa.true() if gridded else sa.false()
            # the same answer for every stored value, and NULL (unknown) for no value
            return super().operate(operators.eq if gridded else operators.ne, self.expr, **kwargs)

        def _columns(self, op: Any, other: Any, **kwargs: Any) -> Any:
            """Two number columns compared in the same unit."""
            mine, theirs = cast(ExactDecimal, self.expr.type).scale, _scale_of(other.type)
            if theirs is None or theirs == mine or not (op in _ORDERING or op in _EQUALITY):
                return super().operate(op, other, **kwargs)
            if theirs < mine:
                return super().operate(op, Aligned(other, mine - theirs), **kwargs)
            return op(Aligned(self.expr, theirs - mine), other)

    comparator_factory = Comparator


@compiles(BinaryExpression, "sqlite")
def _compared_on_sqlite(element: BinaryExpression[Any], compiler: SQLCompiler, **kw: Any) -> str:
    """A comparison with an exact column on the right (``qty > amount``): the left column's
    comparator does not know the right one's units, so it is brought to them here."""
    right, left, op = element.right, element.left, element.operator
    theirs = right.type.scale if isinstance(right.type, ExactDecimal) else None
    mine = _scale_of(left.type)
    comparison = op in _ORDERING or op in _EQUALITY
    if comparison and theirs is not None and mine is not None and mine < theirs:
        element = BinaryExpression(
            Aligned(left, theirs - mine),
            right,
            op,
            type_=element.type,
            negate=element.negate,
            modifiers=element.modifiers,
        )
    compiled: str = compiler.visit_binary(element, **kw)  # type: ignore[no-untyped-call]
    return compiled


class WholeSum(sa.types.TypeDecorator[int]):
    """The type of a sum of whole numbers: an ``int`` however large (SQLite's exact sum
    answers text beyond 64 bits, PostgreSQL a NUMERIC)."""

    impl = sa.BigInteger
    cache_ok = True

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> int | None:
        return None if value is None else int(value)


class exact_sum(functions.FunctionElement[Any]):
    """``SUM(column)`` without rounding or overflow on both databases."""

    inherit_cache = True

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type if isinstance(column.type, ExactDecimal) else WholeSum()


def column_sum(column: Any) -> Any:
    """The SUM of ``column``: ``exact_sum`` for whole numbers and decimals, a float column's
    plain SUM (floats are inexact anyway, and may exceed every decimal)."""
    return sa.func.sum(column) if isinstance(column.type, sa.Float) else exact_sum(column)


@compiles(exact_sum)
def _exact_sum(element: exact_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"sum({compiler.process(element.clauses, **kw)})"


@compiles(exact_sum, "sqlite")
def _exact_sum_sqlite(element: exact_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"app_exact_sum({compiler.process(element.clauses, **kw)})"


class SqliteExactSum:
    """SQLite's ``app_exact_sum``: Python integers never round or overflow; a total beyond 64
    bits is answered as text (``ExactDecimal`` and ``WholeSum`` read both)."""

    def __init__(self) -> None:
        self.total: int | None = None

    def step(self, value: int | None) -> None:
        if value is not None:
            self.total = value + (self.total or 0)

    def finalize(self) -> int | str | None:
        if self.total is None or -(2**63) <= self.total < 2**63:
            return self.total
        return str(self.total)


def average(total: Any, count: int, places: Decimal) -> Decimal | float | None:
    """``total / count`` rounded half-up to ``places`` (None without values); a float total
    (a float column's) gives the float quotient."""
    if not count or total is None:
        return None
    if isinstance(total, float):
        return total / count
    return WIDE.divide(Decimal(total), count).quantize(places, context=WIDE)


def add(values: Any) -> Any:
    """The exact sum of numbers (decimals are never rounded); None when there are none."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    with decimal.localcontext(WIDE):
        return sum(present[1:], present[0])


def spreadsheet_number(value: Any) -> Any:
    """A number for an XLSX cell: as it is when a double holds it exactly, else its text."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return value
    digits = Decimal(value).normalize(WIDE).as_tuple().digits
    return value if len(digits) <= SPREADSHEET_DIGITS else format(Decimal(value), "f")
