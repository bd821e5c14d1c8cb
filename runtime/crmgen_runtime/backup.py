"""Backup and restore: every table of the database to and from a portable JSON-lines file.

The first line is a header (``format``, ``format_version``, ``app``, the Alembic ``revision``,
the tables and their columns, and the scale of each exact decimal column); each further line is
one row, ``{"table": NAME, "row": {column: value}}``, plus ``"sql_null": [column, ...]`` naming
the JSON columns of the row that hold no value at all (SQL NULL, unlike a JSON ``null``).
Values are portable, so a backup of SQLite restores into PostgreSQL and back with every value
exact: date-times in ISO 8601 (in UTC: the app stores them so), dates in ISO 8601, decimals as
strings of all their digits (never the whole units SQLite keeps them in), binary data as base64,
JSON as is. A file whose name ends in ``.gz`` is gzip-compressed. Tables are written in foreign
key order (parents first) and rows by primary key, so the same data gives the same file. The
database must be at the app's own revision (``migrate`` first).

Both directions stream: ``dump`` reads each table by a server-side cursor ``BATCH_ROWS`` rows
at a time (``yield_per``) and writes each line as it goes; ``load`` reads the file line by
line, inserts ``BATCH_ROWS`` rows at a time and keeps the references it fills in later in a
temporary file, so a million rows take no more memory than a thousand.

``load`` restores into an empty database: it migrates the database to the backup's revision,
inserts the rows parents first (references that point forward, e.g. to a parent with a higher
id, are set in a second pass), upgrades to the newest revision and, on PostgreSQL, moves every
id sequence past the restored ids. A backup of format 1 (written before ``sql_null``) restores
too; its JSON ``null`` meant either, and becomes no value.

An app that stores files (a ``crm_files`` table, ``crmgen_runtime.files``) has their bytes in
the backup too, after the rows (format 3): each stored blob (a file, its thumbnail) as lines
``{"blob": KEY, "part": N, "data": BASE64}`` of ``BLOB_PART_BYTES`` each, read from the app's
storage while dumping and written back to it (a folder or an S3 bucket) while restoring. A file
whose blob is gone from the storage is counted in ``files_missing`` and left out.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import gzip
import json
import tempfile
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from crmgen_runtime import ftsindex
from crmgen_runtime.db import create_engine
from crmgen_runtime.decimals import ExactDecimal
from crmgen_runtime.storage import Storage, StorageError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

FORMAT = "crmgen-backup"
FORMAT_VERSION = 3  # 3: files' blobs after the rows (a backup without files says 2)
FILES_TABLE = "crm_files"
BLOB_PART_BYTES = 1024 * 1024
VERSION_TABLE = "alembic_version"
# the running processes' own state, not the app's data: neither written nor restored
PROCESS_TABLES = frozenset({"crm_worker_heartbeats"})
# The longest line restore reads (one row): far beyond what the app stores in a row, and a
# bound on the memory a damaged or hostile file can take.
MAX_LINE_CHARS = 256 * 1024 * 1024
BATCH_ROWS = 1000  # rows per fetch while dumping, per INSERT or UPDATE while restoring


class BackupError(Exception):
    """A backup cannot be written or restored; the message says why."""


@contextmanager
def _open(path: Path, mode: str) -> Iterator[IO[str]]:
    if path.suffix == ".gz":
        with gzip.open(path, mode + "t", encoding="utf-8", newline="\n") as compressed:
            yield cast(IO[str], compressed)  # text mode: a TextIOWrapper
    else:
        with path.open(mode, encoding="utf-8", newline="\n") as handle:
            yield handle


def _engine(url: str) -> sa.Engine:
    return create_engine(url, poolclass=sa.pool.NullPool)


def _reflect(connection: sa.Connection) -> list[sa.Table]:
    metadata = sa.MetaData()  # without SQLite's search tables: the triggers fill them
    metadata.reflect(connection, only=lambda name, _: not ftsindex.is_search_table(name))
    return [
        t
        for t in metadata.sorted_tables
        if t.name != VERSION_TABLE and t.name not in PROCESS_TABLES
    ]


def current_revision(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def encode(value: Any) -> Any:
    """A JSON-ready form of a column value."""
    if isinstance(value, dt.datetime):
        return (value.astimezone(dt.UTC) if value.tzinfo else value).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _python_type(column: sa.Column[Any]) -> type | None:
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def _is_json(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, sa.JSON)


def decode(column: sa.Column[Any], value: Any) -> Any:
    """The column value from its JSON form (by the column's type)."""
    if value is None:
        return None
    kind = _python_type(column)
    if _is_json(column) or kind in (dict, list):
        return value
    if kind is dt.datetime:
        return _moment(dt.datetime.fromisoformat(value), column)
    if kind is dt.date:
        return dt.date.fromisoformat(value)
    if kind is dt.time:
        return dt.time.fromisoformat(value)
    if kind is decimal.Decimal:
        return decimal.Decimal(value)
    if kind is bytes:
        return base64.b64decode(value)
    if kind is bool:
        return bool(value)
    return value


def _moment(value: dt.datetime, column: sa.Column[Any]) -> dt.datetime:
    """A date-time as ``column`` stores it: in UTC (a value without a zone is UTC, as the app
    writes them), without a zone where the column has none (SQLite)."""
    moment = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return moment if getattr(column.type, "timezone", False) else moment.replace(tzinfo=None)


def _lines(
    connection: sa.Connection, table: sa.Table, scales: dict[str, int]
) -> Iterator[dict[str, Any]]:
    """The backup lines of ``table``'s rows, by primary key (``scales``: its exact decimals)."""
    units = scales if connection.dialect.name == "sqlite" else {}  # whole units there
    json_columns = [c for c in table.columns if _is_json(c)]
    # labels no field can have (field names start with a letter)
    empty = [c.is_(None).label(f"_no_value_{i}") for i, c in enumerate(json_columns)]
    order = list(table.primary_key.columns) or list(table.columns)
    query = sa.select(*table.columns, *empty).order_by(*order)
    for row in connection.execute(query, execution_options={"yield_per": BATCH_ROWS}):
        values = row._mapping
        record = {}
        for column in table.columns:
            value = values[column]
            if column.name in units and value is not None:
                value = decimal.Decimal(value).scaleb(-units[column.name])
            record[column.name] = encode(value)
        line: dict[str, Any] = {"table": table.name, "row": record}
        nulls = [c.name for i, c in enumerate(json_columns) if values[f"_no_value_{i}"]]
        if nulls:
            line["sql_null"] = nulls
        yield line


def _read_lines(path: Path, handle: IO[str]) -> Iterator[tuple[int, str]]:
    """The lines of a backup with their numbers, none longer than ``MAX_LINE_CHARS``."""
    number = 0
    while line := handle.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_LINE_CHARS:
            raise BackupError(
                f"{path}, line {number}: longer than {MAX_LINE_CHARS} characters "
                "(not a line the backup command writes)"
            )
        yield number, line


def _rows(path: Path, version: int) -> Iterator[tuple[int, str, dict[str, Any], list[str] | None]]:
    """Each row of the backup: its line number, its table, its values and the JSON columns
    without a value (None in format 1, which did not say: there a JSON ``null`` is taken as
    no value)."""
    try:
        with _open(path, "r") as handle:
            for number, line in _read_lines(path, handle):
                if number > 1 and line.strip() and not line.startswith('{"blob"'):
                    yield number, *_row(path, number, line, version)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise BackupError(f"{path} is damaged or cut short: {exc}") from None


def _row(
    path: Path, number: int, line: str, version: int
) -> tuple[str, dict[str, Any], list[str] | None]:
    try:
        item = json.loads(line)
        table, row = item["table"], item["row"]
        empty = item.get("sql_null", []) if version > 1 else None
    except (ValueError, RecursionError, KeyError, TypeError, AttributeError):
        table = row = empty = None
    if (
        not isinstance(table, str)
        or not isinstance(row, dict)
        or (version > 1 and not isinstance(empty, list))
    ):
        raise BackupError(f"{path}, line {number}: not a row of a backup (damaged?)")
    return table, row, empty


def _dump_blobs(connection: sa.Connection, storage: Storage, out: IO[str]) -> dict[str, int]:
    """The blob lines of every stored file (and thumbnail), by file id."""
    table = sa.table(FILES_TABLE, sa.column("id"), sa.column("thumbnail"))
    query = sa.select(table.c.id, table.c.thumbnail).order_by(table.c.id)
    written = missing = 0
    for file_id, thumbnail in connection.execute(query).all():
        for key in (file_id, f"{file_id}.thumb") if thumbnail else (file_id,):
            try:
                part = 0
                for chunk in _parts(storage.chunks(key)):
                    data = base64.b64encode(chunk).decode("ascii")
                    out.write(json.dumps({"blob": key, "part": part, "data": data}) + "\n")
                    part += 1
            except StorageError:
                if part:
                    raise BackupError(f"the stored file {key} could not be read whole") from None
                missing += key == file_id
                continue
            if part == 0:  # an empty file: one empty part says it exists
                out.write(json.dumps({"blob": key, "part": 0, "data": ""}) + "\n")
            written += key == file_id
    return {"files": written, "files_missing": missing} if missing else {"files": written}


def _parts(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks`` regrouped into parts of ``BLOB_PART_BYTES`` (the last may be shorter)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= BLOB_PART_BYTES:
            yield bytes(buffer[:BLOB_PART_BYTES])
            del buffer[:BLOB_PART_BYTES]
    if buffer:
        yield bytes(buffer)


def _load_blobs(path: Path, storage: Storage) -> int:
    """Write the blobs of the backup at ``path`` to ``storage``; the number of files."""
    done = 0
    current: str | None = None
    spool: IO[bytes] | None = None

    def flush() -> None:
        nonlocal done
        if current is not None and spool is not None:
            spool.seek(0)
            try:
                storage.put(current, spool)
            except StorageError as exc:
                raise BackupError(str(exc)) from None
            spool.close()
            done += not current.endswith(".thumb")

    try:
        with _open(path, "r") as handle:
            for number, line in _read_lines(path, handle):
                if not line.startswith('{"blob"'):
                    continue
                try:
                    item = json.loads(line)
                    key, part = str(item["blob"]), int(item["part"])
                    data = base64.b64decode(item["data"], validate=True)
                except (ValueError, KeyError, TypeError) as exc:
                    raise BackupError(f"{path}, line {number}: not a file's part: {exc}") from None
                if key != current:
                    flush()
                    current, spool = key, tempfile.SpooledTemporaryFile(BLOB_PART_BYTES)  # noqa: SIM115
                if part == 0 and spool is not None and spool.tell():
                    raise BackupError(f"{path}, line {number}: the file {key} twice")
                assert spool is not None
                spool.write(data)
            flush()
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise BackupError(f"{path} is damaged or cut short: {exc}") from None
    return done


def _row_counts(connection: sa.Connection) -> dict[str, int]:
    return {
        t.name: connection.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
        for t in _reflect(connection)
    }


def _insert(engine: sa.Engine, path: Path, header: dict[str, Any]) -> dict[str, int]:
    with engine.begin() as connection:
        tables = {t.name: t for t in _reflect(connection)}
        missing = sorted(set(header["tables"]) - set(tables))
        if missing:
            raise BackupError(f"the database has no table {missing[0]!r} of the backup")
        for table in tables.values():  # None is no value; JSON's null is written as JSON.NULL
            for column in table.columns:
                if _is_json(column):
                    column.type.none_as_null = True  # type: ignore[attr-defined]
        scales: dict[str, dict[str, int]] = header.get("decimals", {})
        version = int(header.get("format_version", 1))
        position = {name: i for i, name in enumerate(tables)}
        # Foreign keys to the same table or to a table restored later are filled in afterwards.
        later = {
            name: [
                fk.parent.name
                for fk in table.foreign_keys
                if fk.parent.nullable and position.get(fk.column.table.name, -1) >= position[name]
            ]
            for name, table in tables.items()
        }
        counts = {name: 0 for name in header["tables"]}
        updates = Deferred(connection, tables)
        batch: list[dict[str, Any]] = []
        batch_table: sa.Table | None = None
        for number, name, row, empty in _rows(path, version):
            if name not in tables or name not in counts:
                raise BackupError(
                    f"{path}, line {number}: a row of {name!r}, a table the backup's header "
                    "or the database does not have"
                )
            table = tables[name]
            units = scales.get(name, {})
            try:
                values = {
                    c.name: _restored(c, row[c.name], units.get(c.name), empty)
                    for c in table.columns
                    if c.name in row
                }
            except (ValueError, TypeError, decimal.InvalidOperation) as exc:
                raise BackupError(f"{path}, line {number}: a value does not fit: {exc}") from None
            deferred = {c: values[c] for c in later[name] if values.get(c) is not None}
            if deferred:
                key = {c.name: values[c.name] for c in table.primary_key.columns}
                updates.add(table, key, deferred)
                values.update({c: None for c in deferred})
            if batch and batch_table is not None and batch_table is not table:
                connection.execute(sa.insert(batch_table), batch)
                batch = []
            batch_table = table
            batch.append(values)
            counts[name] += 1
            if len(batch) >= BATCH_ROWS:
                connection.execute(sa.insert(table), batch)
                batch = []
        if batch and batch_table is not None:
            connection.execute(sa.insert(batch_table), batch)
        updates.apply()
    return counts


class Deferred:
    """The references restore fills in after every row is in (to the row's own table or a
    later one), kept in a temporary file rather than in memory, then applied in batches."""

    def __init__(self, connection: sa.Connection, tables: dict[str, sa.Table]) -> None:
        self.connection = connection
        self.tables = tables
        self.file: IO[str] | None = None

    def add(self, table: sa.Table, key: dict[str, Any], values: dict[str, Any]) -> None:
        """Fill ``values`` into the row of ``table`` whose primary key is ``key``, later.
        The values are as the columns store them; they are kept in their backup form."""
        if self.file is None:
            self.file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        line = [table.name, {k: encode(v) for k, v in key.items()}]
        line.append({k: encode(v) for k, v in values.items()})
        self.file.write(json.dumps(line, ensure_ascii=False) + "\n")

    def apply(self) -> None:
        """Every update, ``BATCH_ROWS`` at a time for the same table and columns."""
        if self.file is None:
            return
        with self.file:
            self.file.seek(0)
            batch: list[dict[str, Any]] = []
            shape: tuple[str, tuple[str, ...], tuple[str, ...]] | None = None
            for text in self.file:
                name, key, values = json.loads(text)
                table = self.tables[name]
                now = (name, tuple(key), tuple(values))
                if batch and (now != shape or len(batch) >= BATCH_ROWS):
                    self._update(shape, batch)
                    batch = []
                shape = now
                row = {f"_key_{k}": decode(table.c[k], v) for k, v in key.items()}
                row.update({f"_set_{k}": decode(table.c[k], v) for k, v in values.items()})
                batch.append(row)
            if batch:
                self._update(shape, batch)

    def _update(
        self, shape: tuple[str, tuple[str, ...], tuple[str, ...]] | None, rows: list[dict[str, Any]]
    ) -> None:
        assert shape is not None
        name, key, columns = shape
        table = self.tables[name]
        statement = (
            sa.update(table)
            .where(*(table.c[k] == sa.bindparam(f"_key_{k}") for k in key))
            .values({c: sa.bindparam(f"_set_{c}") for c in columns})
        )
        self.connection.execute(statement, rows)


def _restored(
    column: sa.Column[Any], value: Any, scale: int | None, empty: list[str] | None
) -> Any:
    """A backup's value as ``column`` stores it: a JSON ``null`` stays JSON's null unless the
    row says the column holds no value; an exact decimal in an integer column (SQLite) is
    stored as whole units of its ``scale``."""
    if _is_json(column) and value is None:
        return None if empty is None or column.name in empty else sa.JSON.NULL
    if scale is not None and value is not None and isinstance(column.type, sa.Integer):
        return int(decimal.Decimal(value).scaleb(scale))
    return decode(column, value)


def _reset_sequences(engine: sa.Engine) -> None:
    """Move each table's id sequence past the restored ids (PostgreSQL)."""
    with engine.begin() as connection:
        for table in _reflect(connection):
            for column in table.primary_key.columns:
                sequence = connection.execute(
                    sa.text("SELECT pg_get_serial_sequence(:table, :column)"),
                    {"table": table.name, "column": column.name},
                ).scalar()
                if sequence is None:
                    continue
                connection.execute(
                    sa.text(
                        f'SELECT setval(:sequence, COALESCE(MAX("{column.name}"), 1), '
                        f'MAX("{column.name}") IS NOT NULL) FROM "{table.name}"'
                    ),
                    {"sequence": sequence},
                )


def decimal_scales(metadata: sa.MetaData) -> dict[str, dict[str, int]]:
    """The scale of each exact decimal column of ``metadata`` (kept in whole units on SQLite)."""
    scales = {}
    for table in metadata.sorted_tables:
        columns = {c.name: c.type.scale for c in table.columns if isinstance(c.type, ExactDecimal)}
        if columns:
            scales[table.name] = columns
    return scales


class Backups:
    """Backup and restore of one app: ``app`` names it in the header, ``metadata`` holds its
    models (the scales of its exact decimals), ``alembic_config(url)`` its migrations."""

    def __init__(
        self, app: str, metadata: sa.MetaData, alembic_config: Callable[[str], Config]
    ) -> None:
        self.app = app
        self.metadata = metadata
        self.alembic_config = alembic_config

    def __repr__(self) -> str:
        return f"Backups({self.app!r})"

    def _scripts(self, url: str) -> ScriptDirectory:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self.alembic_config(url))

    def dump(
        self, url: str, path: Path, *, storage: Callable[[], Storage] | None = None
    ) -> dict[str, int]:
        """Write every table of the database at ``url`` to ``path``, and the stored files
        from ``storage()`` when the app has them; returns rows per table (and ``files``)."""
        engine = _engine(url)
        counts: dict[str, int] = {}
        try:
            with engine.connect() as connection:
                revision = current_revision(connection)
                if revision is None:
                    raise BackupError(
                        "the database is not migrated (run migrate first): nothing to back up"
                    )
                head = self._scripts(url).get_current_head()
                if revision != head:
                    raise BackupError(
                        f"the database is at revision {revision}, this app at {head}: "
                        "run migrate first"
                    )
                tables = _reflect(connection)
                scales = decimal_scales(self.metadata)
                with_files = storage is not None and any(t.name == FILES_TABLE for t in tables)
                header = {
                    "format": FORMAT,
                    "format_version": FORMAT_VERSION if with_files else 2,
                    "app": self.app,
                    "revision": revision,
                    "dialect": connection.dialect.name,
                    "tables": {t.name: [c.name for c in t.columns] for t in tables},
                    "decimals": scales,
                }
                with _open(path, "w") as out:
                    out.write(json.dumps(header, ensure_ascii=False) + "\n")
                    for table in tables:
                        counts[table.name] = 0
                        for line in _lines(connection, table, scales.get(table.name, {})):
                            text = json.dumps(line, ensure_ascii=False)
                            if len(text) >= MAX_LINE_CHARS:  # restore would refuse it: say so now
                                raise BackupError(
                                    f"a row of {table.name} is longer than {MAX_LINE_CHARS} "
                                    "characters, more than restore reads"
                                )
                            out.write(text + "\n")
                            counts[table.name] += 1
                    if with_files and storage is not None:
                        counts.update(_dump_blobs(connection, storage(), out))
        except OSError as exc:
            raise BackupError(f"cannot write {path}: {exc}") from exc
        finally:
            engine.dispose()
        return counts

    def read_header(self, path: Path) -> dict[str, Any]:
        """The header of the backup at ``path``; BackupError unless it is one of this app."""
        try:
            with _open(path, "r") as handle:
                header = json.loads(next(_read_lines(path, handle), (1, "null"))[1])
        except (OSError, ValueError, EOFError, RecursionError, zlib.error) as exc:
            raise BackupError(f"{path} is not a backup of this app: {exc}") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise BackupError(f"{path} is not a backup made by the backup command")
        if header.get("app") != self.app:
            raise BackupError(
                f"{path} is a backup of the app {header.get('app')!r}, not {self.app!r}"
            )
        if header.get("format_version", 0) > FORMAT_VERSION:
            raise BackupError(f"{path} was written by a newer version of the app")
        return header

    def _known_revision(self, url: str, revision: str) -> bool:
        try:
            return self._scripts(url).get_revision(revision) is not None
        except Exception:  # noqa: BLE001 - alembic raises several kinds for an unknown id
            return False

    def _is_newer(self, url: str, current: str, revision: str) -> bool:
        """Whether ``current`` comes after ``revision`` in the migration history."""
        history = self._scripts(url).iterate_revisions(current, "base")
        return any(r.revision == revision for r in history)

    def load(
        self,
        url: str,
        path: Path,
        *,
        force: bool = False,
        migrate: Callable[[str, str], None],
        storage: Callable[[], Storage] | None = None,
    ) -> dict[str, int]:
        """Restore the backup at ``path`` into the database at ``url``; returns rows per table.
        Its files go to ``storage()`` (a backup with files needs one).

        ``migrate(url, revision)`` upgrades the database (the app's migrations and what they
        leave out, such as PostgreSQL's search indexes).
        """
        header = self.read_header(path)
        revision = header["revision"]
        if not self._known_revision(url, revision):
            raise BackupError(
                f"{path} comes from revision {revision}, which this version of the app does not "
                "know (a newer app wrote it): upgrade the app first"
            )
        engine = _engine(url)
        try:
            with engine.connect() as connection:
                current = current_revision(connection)
                filled = {n: c for n, c in _row_counts(connection).items() if c} if current else {}
            if filled and not force:
                names = ", ".join(sorted(filled))
                raise BackupError(
                    f"the database is not empty (rows in {names}); restore needs an empty "
                    "database or --force"
                )
            if filled:
                with engine.begin() as connection:
                    for table in reversed(_reflect(connection)):
                        connection.execute(table.delete())
            if (
                current is not None
                and current != revision
                and self._is_newer(url, current, revision)
            ):
                from alembic import command

                command.downgrade(self.alembic_config(url), revision)
            migrate(url, revision)
            try:
                counts = _insert(engine, path, header)
            except sa.exc.SQLAlchemyError as exc:  # rows of a damaged file the database refuses
                detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
                raise BackupError(f"the database refused a row of {path}: {detail}") from None
            if header.get("format_version", 0) >= 3:
                if storage is None:
                    raise BackupError(f"{path} holds files, and this app has no file storage")
                counts["files"] = _load_blobs(path, storage())
            migrate(url, "head")
            if engine.dialect.name == "postgresql":
                _reset_sequences(engine)
        finally:
            engine.dispose()
        return counts
