"""The text search of ``q=``: which records a search finds and how well they match.

Each word of a search must be in one of the readable search fields. On PostgreSQL a word is
found by full-text search (the words of the app's default language with their endings: "сделки"
finds "сделка") or inside a field's text (partial words, e-mails, phones: the trigram indexes
serve it), and a search without an explicit sort orders by ``ts_rank``. On SQLite a word is
found inside a field's text: through the table's FTS5 trigram index (``ftsindex``) when it has
one and the word has 3 characters or more, ranked by ``bm25``; else by LIKE, with the same rank
for every record.

The full-text document of a table is ``to_tsvector('<dictionary>', coalesce(a::text, '') || ' '
|| ...)`` over its search columns, in order: the app indexes exactly this expression
(``index_sql``), so the query and the index must build it the same way.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from crmgen_runtime import ftsindex

# PostgreSQL's text search dictionaries of the app's languages; the others use ``simple``
# (no stemming: words as written, lower-cased).
DICTIONARIES = {
    "ar": "arabic",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "hu": "hungarian",
    "id": "indonesian",
    "it": "italian",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sv": "swedish",
    "tr": "turkish",
}
RANK = "_rank"  # the name of the rank in a list's order (its cursor)
_NAME = re.compile(r"[a-z]+")


def dictionary(locale: str) -> str:
    """The text search dictionary of ``locale`` (``ru``, ``pt-BR``...), ``simple`` if none."""
    return DICTIONARIES.get(locale.split("-")[0].split("_")[0].lower(), "simple")


def _config(name: str) -> Any:
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a text search dictionary: {name!r}")
    return sa.literal_column(f"'{name}'::regconfig")


def document(language: str, columns: list[Any]) -> Any:
    """The full-text document of ``columns`` (PostgreSQL), as ``index_sql`` indexes it."""
    text: Any = None
    for column in columns:
        part = sa.func.coalesce(sa.cast(column, sa.Text), sa.literal_column("''"))
        text = part if text is None else text.op("||")(sa.literal_column("' '")).op("||")(part)
    return sa.func.to_tsvector(_config(language), text)


def index_name(table: str, language: str, columns: list[str]) -> str:
    """The name of a table's full-text index: it changes with what it indexes, so a new set of
    search fields gets a new index (``ensure`` creates the missing ones)."""
    digest = hashlib.sha256(f"{language}:{','.join(columns)}".encode()).hexdigest()[:8]
    return f"ix_{table[:40]}_fts_{digest}"


def index_sql(table: str, language: str, columns: list[str]) -> str:
    """``CREATE INDEX IF NOT EXISTS`` of a table's full-text index (PostgreSQL)."""
    from sqlalchemy.dialects.postgresql.base import PGDialect

    quote = PGDialect().identifier_preparer.quote  # type: ignore[no-untyped-call]
    _config(language)
    parts = " || ' ' || ".join(f"coalesce(CAST({quote(c)} AS TEXT), '')" for c in columns)
    return (
        f"CREATE INDEX IF NOT EXISTS {quote(index_name(table, language, columns))} "
        f"ON {quote(table)} USING gin (to_tsvector('{language}'::regconfig, {parts}))"
    )


def is_search_index(name: str) -> bool:
    """Whether an index is one of the search indexes (kept outside the migrations)."""
    return name.endswith("_trgm") or re.fullmatch(r"ix_.*_fts_[0-9a-f]{8}", name) is not None


class Index:
    """A table's SQLite search index: the table, its record id, every search column (the
    FTS5 table's columns, which name it) and the ones a search may look in (the readable)."""

    def __init__(self, table: str, key: Any, columns: list[str], readable: list[str]) -> None:
        self.table, self.key, self.columns, self.readable = table, key, columns, readable
        self.name = ftsindex.table_name(table, columns)

    def usable(self, compiler: SQLCompiler) -> bool:
        return ftsindex.present(compiler.dialect, self.name)

    def ids(self, words: list[str]) -> Any:
        """The ids of the records with every word of ``words`` in a readable column."""
        fts, matched = self._match(words)
        return sa.select(fts.c.rowid).where(matched)

    def scores(self, words: list[str]) -> Any:
        """The ``id`` and ``score`` (``-bm25``: higher is better) of the records ``ids`` finds."""
        fts, matched = self._match(words)
        score = -sa.func.bm25(fts.c[self.name])
        return sa.select(fts.c.rowid.label("id"), score.label("score")).where(matched)

    def _match(self, words: list[str]) -> tuple[Any, Any]:
        fts = sa.table(self.name, sa.column("rowid"), sa.column(self.name))
        query = sa.literal(ftsindex.match(self.readable, words), sa.Text)
        return fts, fts.c[self.name].op("MATCH")(query)


class Found(sa.sql.expression.ColumnElement[bool]):
    """One word of a search in ``columns`` (full text and inside the text on PostgreSQL,
    inside the text elsewhere: through ``index`` on SQLite when it can)."""

    type = sa.Boolean()
    inherit_cache = False
    _is_implicitly_boolean = True  # a condition as it is (SQLite: no ``= 1`` around it)

    def __init__(
        self,
        language: str,
        columns: list[Any],
        pattern: str,
        word: str,
        index: Index | None = None,
    ) -> None:
        self.language, self.columns, self.pattern, self.word = language, columns, pattern, word
        self.index = index

    def inside(self) -> Any:
        return sa.or_(*(c.ilike(self.pattern, escape="\\") for c in self.columns))


class Rank(sa.sql.expression.ColumnElement[float]):
    """How well a record matches ``words`` (``ts_rank`` on PostgreSQL, ``bm25`` through
    ``index`` on SQLite, 0 without it)."""

    type = sa.Float()
    inherit_cache = False

    def __init__(
        self, language: str, columns: list[Any], words: str, index: Index | None = None
    ) -> None:
        self.language, self.columns, self.words, self.index = language, columns, words, index
        self._scores: Any = None

    def scores(self, index: Index) -> Any:
        """SQLite: the scores of the records the indexed words find, once per statement (a
        materialized CTE: ``bm25`` per record by a correlated MATCH reads every match each
        time); the same object wherever the rank appears in a statement."""
        if self._scores is None:
            long = [w for w in self.words.split() if len(w) >= ftsindex.MIN_WORD]
            found = index.scores(long).cte(f"{index.name}_rank")
            self._scores = found.prefix_with("MATERIALIZED")
        return self._scores


def _query(language: str, words: str) -> Any:
    return sa.func.plainto_tsquery(_config(language), sa.cast(sa.literal(words), sa.Text))


@compiles(Found)
def _found(element: Found, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.inside(), **kw)})"


@compiles(Found, "sqlite")
def _found_sqlite(element: Found, compiler: SQLCompiler, **kw: Any) -> str:
    index = element.index
    if index is None or len(element.word) < ftsindex.MIN_WORD or not index.usable(compiler):
        return _found(element, compiler, **kw)
    return f"({compiler.process(index.key.in_(index.ids([element.word])), **kw)})"


@compiles(Found, "postgresql")
def _found_postgresql(element: Found, compiler: SQLCompiler, **kw: Any) -> str:
    matched = document(element.language, element.columns).op("@@")(
        _query(element.language, element.word)
    )
    return f"({compiler.process(sa.or_(matched, element.inside()), **kw)})"


@compiles(Rank)
def _rank(element: Rank, compiler: SQLCompiler, **kw: Any) -> str:
    return "0.0"


@compiles(Rank, "sqlite")
def _rank_sqlite(element: Rank, compiler: SQLCompiler, **kw: Any) -> str:
    index = element.index
    words = element.words.split()
    if index is None or not index.usable(compiler):
        return "0.0"
    if not any(len(w) >= ftsindex.MIN_WORD for w in words):
        return "0.0"
    scores = element.scores(index)
    score = sa.select(scores.c.score).where(scores.c.id == index.key).scalar_subquery()
    return str(compiler.process(sa.func.coalesce(score, 0.0), **kw))


@compiles(Rank, "postgresql")
def _rank_postgresql(element: Rank, compiler: SQLCompiler, **kw: Any) -> str:
    rank = sa.func.ts_rank(
        document(element.language, element.columns), _query(element.language, element.words)
    )
    return str(compiler.process(rank, **kw))
