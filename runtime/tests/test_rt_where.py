"""``crmgen_runtime.where``: the conditions processes, dashboards and reports are compiled to.

A small table in SQLite; each case selects the names its condition keeps, so the meaning of
``None`` (no value) is proven on real rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from crmgen_runtime import where

metadata = sa.MetaData()
people = sa.Table(
    "people",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String),
    sa.Column("age", sa.Integer),
)
ROWS = [(1, "Ann", 30), (2, "Bob_50%", 50), (3, "Cy", None)]


@pytest.fixture(scope="module")
def engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(sa.insert(people), [{"id": i, "name": n, "age": a} for i, n, a in ROWS])
    yield engine
    engine.dispose()


def kept(engine: sa.Engine, condition: sa.ColumnElement[bool]) -> list[int]:
    with engine.connect() as connection:
        stmt = sa.select(people.c.id).where(condition).order_by(people.c.id)
        return list(connection.scalars(stmt))


@pytest.mark.parametrize(
    ("condition", "ids"),
    [
        (where.eq(people.c.age, 30), [1]),
        (where.eq(people.c.age, None), [3]),
        (where.ne(people.c.age, 30), [2, 3]),
        (where.ne(people.c.age, None), [1, 2]),
        (where.gt(people.c.age, 30), [2]),
        (where.gte(people.c.age, 30), [1, 2]),
        (where.lt(people.c.age, 50), [1]),
        (where.lte(people.c.age, 50), [1, 2]),
        (where.gt(people.c.age, None), []),
        (where.in_(people.c.age, [30, 50]), [1, 2]),
        (where.in_(people.c.age, [30, None]), [1, 3]),
        (where.in_(people.c.age, 50), [2]),
        (where.in_(people.c.age, None), []),
        (where.contains(people.c.name, "b_5"), [2]),
        (where.contains(people.c.name, "%"), [2]),
        (where.contains(people.c.name, "n_"), []),
        (where.contains(people.c.name, None), []),
        (where.isnull(people.c.age, True), [3]),
        (where.isnull(people.c.age, False), [1, 2]),
    ],
)
def test_conditions_keep_the_rows_they_mean(
    engine: sa.Engine, condition: sa.ColumnElement[bool], ids: list[int]
) -> None:
    assert kept(engine, condition) == ids


def test_isnull_list_asks_whether_a_relationship_has_any() -> None:
    class Relationship:
        def any(self) -> sa.ColumnElement[bool]:
            return sa.true()

    assert str(where.isnull_list(Relationship(), False)) == str(sa.true())
    assert str(where.isnull_list(Relationship(), True)) == str(sa.not_(sa.true()))


def test_ids_of_records_and_ids() -> None:
    assert where.ids(None) == []
    assert where.ids(5) == [5]
    assert where.ids([SimpleNamespace(id=1), 2]) == [1, 2]
    assert where.ids(SimpleNamespace(id=7)) == [7]
