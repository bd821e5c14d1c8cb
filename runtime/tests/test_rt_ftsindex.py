"""SQLite's FTS5 search index (``ftsindex``): the same records as the LIKE search it replaces,
kept in step by triggers, used by the plan, remade when the search fields change; PostgreSQL
compiles as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from crmgen_runtime import ftsindex, textsearch
from crmgen_runtime.db import create_engine
from crmgen_runtime.queries import like
from sqlalchemy.dialects import postgresql

pytestmark = pytest.mark.skipif(not ftsindex.available(), reason="SQLite without FTS5")

METADATA = sa.MetaData()
PEOPLE = sa.Table(
    "people",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String),
    sa.Column("email", sa.String),
    sa.Column("phone", sa.String),
    sa.Column("notes", sa.Text),
)
COLUMNS = ["name", "email", "phone"]
sa.event.listen(PEOPLE, "after_create", ftsindex.after_create("people", COLUMNS))
ROWS = [
    ("Иванов Пётр", "petr@ivanov.ru", "+7 495 123-45-67"),
    ("Anna Smith", "anna.smith@example.com", "+62 21 555 0101"),
    ("O'Brien & Sons (UK): 100%!", 'quote"d@x.io', None),
    ("ab", "x@y.z", "12"),
    ("Ли Вэй 李伟", None, "+86 10 8888 0000"),
    ("Hodžić Šaćir", "sacir@hodzic.ba", "033/123-456"),
    ("NEAR AND OR NOT", "near@and.or", "*"),
    ("иванова мария", "maria@mail.ru", "8 (812) 000-00-00"),
    (None, None, None),
]
WORDS = [
    "Иванов", "иванов", "иван", "anna", "ANNA", "smith@", "example.com", "123-45", "+7",
    "12", "ab", "a", "O'Brien", "100%!", "%", "_", '"d@x', "{name}", "name:", "*", "NEAR",
    "and", "OR", "Ли", "李伟", "Вэй", "Šaćir", "033/123", "(812)", "мария", "zzz", ":", "^",
]  # fmt: skip


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'fts.sqlite3'}")
    METADATA.create_all(engine)
    with engine.begin() as connection:
        rows = [dict(zip(COLUMNS, row, strict=True)) for row in ROWS]
        connection.execute(PEOPLE.insert(), rows)
    yield engine
    engine.dispose()


def index(readable: list[str] = COLUMNS) -> textsearch.Index:
    return textsearch.Index("people", PEOPLE.c.id, COLUMNS, readable)


def found(
    connection: sa.Connection, words: list[str], used: textsearch.Index | None, readable: list[str]
) -> list[int]:
    columns = [PEOPLE.c[c] for c in readable]
    conditions = [textsearch.Found("simple", columns, like(w), w, used) for w in words]
    query = sa.select(PEOPLE.c.id).where(*conditions).order_by(PEOPLE.c.id)
    return list(connection.execute(query).scalars())


def fts_name() -> str:
    return ftsindex.table_name("people", COLUMNS)


def expected(word: str, readable: list[str]) -> list[int]:
    """The rows with ``word`` inside a readable field, any case."""
    return [
        number
        for number, row in enumerate(ROWS, start=1)
        if any(
            word.lower() in (v or "").lower()
            for c, v in zip(COLUMNS, row, strict=True)
            if c in readable
        )
    ]


def test_the_index_finds_what_like_finds(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        for word in WORDS:
            for readable in (COLUMNS, ["name"], ["email", "phone"]):
                fts = found(connection, [word], index(readable), readable)
                assert fts == expected(word, readable), (word, readable)
                if word.isascii() or len(word) < ftsindex.MIN_WORD:  # LIKE folds ASCII only
                    assert fts == found(connection, [word], None, readable), (word, readable)
        assert found(connection, ["anna", "21", "smith"], index(), COLUMNS) == [2]


def test_case_is_folded_beyond_ascii(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        assert found(connection, ["иванов"], index(), COLUMNS) == [1, 8]
        assert found(connection, ["ŠAĆIR"], index(), COLUMNS) == [6]
        assert found(connection, ["иванов"], None, COLUMNS) == [8]  # LIKE: ASCII case only


def test_the_triggers_keep_it_right(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(PEOPLE.update().where(PEOPLE.c.id == 2).values(name="Budi Santoso"))
        connection.execute(PEOPLE.update().where(PEOPLE.c.id == 1).values(notes="no search"))
        connection.execute(PEOPLE.delete().where(PEOPLE.c.id == 8))
        connection.execute(PEOPLE.insert().values(id=20, name="Anna Karenina"))
        assert found(connection, ["anna"], index(), COLUMNS) == [2, 20]  # 2: by its e-mail
        assert found(connection, ["smith"], index(["name"]), ["name"]) == []
        assert found(connection, ["santoso"], index(), COLUMNS) == [2]
        assert found(connection, ["иванов"], index(), COLUMNS) == [1]
        fts = fts_name()
        connection.exec_driver_sql(f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)")


def test_the_plan_searches_the_index(engine: sa.Engine) -> None:
    columns = [PEOPLE.c[c] for c in COLUMNS]
    query = sa.select(PEOPLE.c.id).where(
        textsearch.Found("simple", columns, "%x%", "anna", index())
    )
    compiled = query.compile(engine)
    with engine.connect() as connection:
        plan = connection.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {compiled}", tuple(compiled.params.values())
        ).all()
    details = " / ".join(row[-1] for row in plan)
    assert f"SCAN {fts_name()} VIRTUAL TABLE" in details, details
    assert "SEARCH people USING INTEGER PRIMARY KEY" in details, details


def test_bm25_ranks_the_better_match_first(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            PEOPLE.insert(), [{"id": 30, "name": "omega"}, {"id": 31, "name": "omega omega omega"}]
        )
        columns = [PEOPLE.c[c] for c in COLUMNS]
        rank = textsearch.Rank("simple", columns, "omega", index())
        query = (
            sa.select(PEOPLE.c.id, rank.label("rank"))
            .where(textsearch.Found("simple", columns, "%omega%", "omega", index()))
            .order_by(rank.desc(), PEOPLE.c.id)
        )
        rows = connection.execute(query).all()
        assert [row.id for row in rows] == [31, 30] and rows[0].rank > rows[1].rank > 0
        short = textsearch.Rank("simple", columns, "om", index())
        assert connection.execute(sa.select(short)).scalar() == 0.0


def test_without_the_index_a_search_goes_by_like(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'plain.sqlite3'}")  # no registry
    METADATA.create_all(engine)
    query = sa.select(PEOPLE.c.id).where(
        textsearch.Found("simple", [PEOPLE.c.name], "%anna%", "anna", index())
    )
    assert "MATCH" not in str(query.compile(create_engine("sqlite://")))
    engine.dispose()


def test_a_changed_set_of_search_fields_gets_a_new_table(engine: sa.Engine) -> None:
    wider = [*COLUMNS, "notes"]
    with engine.begin() as connection:
        connection.execute(PEOPLE.update().where(PEOPLE.c.id == 4).values(notes="remarkable"))
        assert ftsindex.ensure(connection, {"people": COLUMNS}) == []  # already right
        assert ftsindex.ensure(connection, {"people": wider}) == [
            ftsindex.table_name("people", wider)
        ]
    with engine.connect() as connection:
        tables = _tables(connection)
        assert ftsindex.table_name("people", wider) in tables and fts_name() not in tables
        assert not any(t.startswith(fts_name()) for t in _names(connection, "trigger"))
        new = textsearch.Index("people", PEOPLE.c.id, wider, wider)
        columns = [PEOPLE.c[c] for c in wider]
        query = sa.select(PEOPLE.c.id).where(
            textsearch.Found("simple", columns, "%remark%", "remark", new)
        )
        assert "MATCH" in str(query.compile(engine)) and connection.execute(query).all() == [(4,)]


def test_a_table_rebuilt_without_its_triggers_is_filled_again(engine: sa.Engine) -> None:
    fts = fts_name()
    with engine.begin() as connection:  # as a migration recreating the table leaves it
        for trigger in ("ai", "ad", "au"):
            connection.exec_driver_sql(f"DROP TRIGGER {fts}_{trigger}")
        connection.execute(PEOPLE.insert().values(id=40, name="Nowhere Man"))
        assert found(connection, ["nowhere"], index(), COLUMNS) == []
        assert ftsindex.ensure(connection, {"people": COLUMNS}) == [fts]
        assert found(connection, ["nowhere"], index(), COLUMNS) == [40]
        connection.execute(PEOPLE.delete().where(PEOPLE.c.id == 40))  # the triggers are back
        connection.exec_driver_sql(f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)")


def test_search_tables_are_known_by_name() -> None:
    name = fts_name()
    assert all(ftsindex.is_search_table(name + s) for s in ("", "_data", "_idx", "_config"))
    assert not ftsindex.is_search_table("people") and not ftsindex.is_search_table("a_fts_x")
    assert ftsindex.match(["name"], ['a"b']) == '{"name"} : "a""b"'


def test_postgresql_compiles_as_before() -> None:
    columns = [PEOPLE.c.name, PEOPLE.c.email]
    dialect = postgresql.dialect()
    with_index = textsearch.Found("russian", columns, "%anna%", "anna", index())
    without = textsearch.Found("russian", columns, "%anna%", "anna")
    assert str(with_index.compile(dialect=dialect)) == str(without.compile(dialect=dialect))
    rank = textsearch.Rank("russian", columns, "anna", index())
    assert str(rank.compile(dialect=dialect)).startswith("ts_rank(")


def _names(connection: sa.Connection, kind: str) -> set[str]:
    rows = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = ?", (kind,))
    return {row[0] for row in rows}


def _tables(connection: Any) -> set[str]:
    return _names(connection, "table")
