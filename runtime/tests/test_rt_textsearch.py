"""The parts of ``q=`` search that need no database: dictionaries, the index's SQL and name,
and what each dialect compiles a search to."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from crmgen_runtime import textsearch
from sqlalchemy.dialects import postgresql, sqlite

TABLE = sa.table("deals", sa.column("name", sa.String), sa.column("email", sa.String))


@pytest.mark.parametrize(
    ("locale", "dictionary"),
    [
        ("ru", "russian"),
        ("en", "english"),
        ("id", "indonesian"),
        ("pt-BR", "portuguese"),
        ("bs", "simple"),
        ("zh", "simple"),
        ("", "simple"),
    ],
)
def test_the_dictionary_of_a_locale(locale: str, dictionary: str) -> None:
    assert textsearch.dictionary(locale) == dictionary


def test_the_index_names_what_it_indexes() -> None:
    sql = textsearch.index_sql("deals", "russian", ["name", "order"])
    assert sql.startswith("CREATE INDEX IF NOT EXISTS ix_deals_fts_")
    assert sql.endswith(
        "ON deals USING gin (to_tsvector('russian'::regconfig,"
        " coalesce(CAST(name AS TEXT), '') || ' ' || coalesce(CAST(\"order\" AS TEXT), '')))"
    )
    name = textsearch.index_name("deals", "russian", ["name"])
    assert name != textsearch.index_name("deals", "russian", ["name", "email"])
    assert name != textsearch.index_name("deals", "simple", ["name"])
    assert textsearch.is_search_index(name)
    assert textsearch.is_search_index("ix_deals_name_trgm")
    assert not textsearch.is_search_index("ix_deals_list_name_id")


def test_a_dictionary_is_a_plain_name() -> None:
    with pytest.raises(ValueError, match="not a text search dictionary"):
        textsearch.index_sql("deals", "russian'; DROP TABLE deals; --", ["name"])


def test_each_dialect_compiles_its_search() -> None:
    columns = [TABLE.c.name, TABLE.c.email]
    found = sa.and_(textsearch.Found("russian", columns, "%a%", "a"), TABLE.c.name.is_not(None))
    rank = textsearch.Rank("russian", columns, "a b")
    on_sqlite = str(found.compile(dialect=sqlite.dialect()))
    assert "to_tsvector" not in on_sqlite and on_sqlite.startswith("(")
    assert str(rank.compile(dialect=sqlite.dialect())) == "0.0"
    on_postgresql = str(found.compile(dialect=postgresql.dialect()))
    assert (
        "to_tsvector('russian'::regconfig, (coalesce(CAST(deals.name AS TEXT), '') || ' ')"
        in on_postgresql
    )
    assert "@@ plainto_tsquery('russian'::regconfig" in on_postgresql
    assert "ILIKE" in on_postgresql and on_postgresql.startswith("(")
    assert str(rank.compile(dialect=postgresql.dialect())).startswith("ts_rank(to_tsvector(")
