"""A person's data: export it, erase it, keep it no longer than the spec says.

An entity whose spec declares ``personal_data`` has a ``Personal`` on its resource: the fields
that hold a person's data and how erasure treats each (``blank``, ``pseudonym``: a stable
``erased-<hash>`` made from the record's id, never from the value; ``replace``: a fixed value),
and the roles that may export and erase (superusers always may). ``routes(catalog)`` serve,
below ``/api``, for each such entity:

- ``GET /<path>/{id}/personal-data``: a zip of JSON and CSV files, one pair per source (the
  record; the records of every entity that link to it, many-to-many lists included; its
  comments, audit entries, notifications, e-mails, erasure log) and the record's stored files.
  It is written to a spooled file in batches of rows and streamed from there (bounded memory).
- ``POST /<path>/{id}/erase`` with ``{"reason": "..."}``: the fields are anonymised as
  declared, in one transaction with the scrubbing of every copy of the erased values
  (``scrub``): the record's audit entries lose the old values, its comments their text, its
  e-mails their subject and body, its attachments go (their bytes at the next sweep), and every
  text or JSON column of every system table (audit, outbox, notifications, comments, e-mails,
  inbound events, imports...), of the records linked to the person, and for e-mail addresses
  and phone numbers of every entity's table, has the values replaced by ``[erased]``; pending
  outbox messages that held them are given up. SQLite's search tables are optimised so the
  old words leave them. The erasure is logged (``crm_gdpr_log``: who, when, why, which record,
  which fields; never a value) and audited with ``[erased]`` as the old values. Records that
  link to the person (a deal and its amount) are kept: their link now shows the pseudonym. A
  second call finds nothing left to erase and answers 200 with ``"erased": []``.

Who may: the role must read the entity (403), hold one of ``roles`` or be a superuser (403),
and read the record (404 otherwise; a soft-deleted record counts: deleted is not erased).

``Retention`` on a resource (``retention: {after_days, where, action}``) is run by the scheduler
once a day (``RETENTION_PROCESS`` at ``RETENTION_CRON``, registered on the catalog's events):
the records matching ``where`` not changed for ``after_days`` days are anonymised as above, or
deleted (anonymised first, so the copies go too), ``RETENTION_BATCH`` per transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import tempfile
import zipfile
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from crmgen_runtime import audit, crypto, ftsindex, permissions, rollups
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser, user_of
from crmgen_runtime.resources import Catalog, FieldInfo, Resource
from crmgen_runtime.responses import JSONResponse, json_ready, parse_json
from crmgen_runtime.storage import StorageError, from_settings
from crmgen_runtime.tables import (
    AuditEntryTable,
    CommentTable,
    EmailLogTable,
    GdprLogTable,
    NotificationTable,
    OutboxMessageTable,
    StoredFileTable,
    utcnow,
)
from crmgen_runtime.validation import MAX_ID

ERASED = "[erased]"  # what replaces an erased value wherever it was copied
MIN_NEEDLE = 3  # shorter values are erased in place but not searched for elsewhere
REASON_MAX = 2000  # characters of an erasure's reason
ROWS = 500  # rows read per batch while exporting
SPOOL_BYTES = 1024 * 1024  # an export is kept in memory up to this size, then on disk
CHUNK = 64 * 1024  # bytes per streamed chunk
RETENTION_PROCESS = "gdpr.retention"  # its name among the scheduled processes (never a spec's)
RETENTION_CRON = "30 3 * * *"  # every day at 03:30 in the app's time zone
RETENTION_BATCH = 100  # records per transaction of a retention run
IDENTIFIER_TYPES = frozenset({"email", "phone", "url"})  # scrubbed from every entity's table
FILE_TYPES = frozenset({"file", "image"})
LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # an erased file's age: the next sweep takes it


@dataclass(frozen=True)
class Personal:
    """The personal data of an entity: ``fields`` (name -> (mode, replacement)) and the
    ``roles`` that may export and erase it."""

    fields: dict[str, tuple[str, Any]]
    roles: frozenset[str] = frozenset()

    @classmethod
    def of(cls, fields: Mapping[str, str | tuple[str, Any]], roles: Iterable[str] = ()) -> Personal:
        """``Personal.of({"email": "blank", "name": "pseudonym", "x": ("replace", "-")})``."""
        given = {n: (how, None) if isinstance(how, str) else how for n, how in fields.items()}
        return cls(given, frozenset(roles))


@dataclass(frozen=True)
class Retention:
    """Records matching ``where`` (a condition over the model) not changed for ``after_days``
    days are anonymised (``anonymize``) or deleted (``delete``)."""

    after_days: int
    action: str = "anonymize"
    where: Callable[[], sa.ColumnElement[bool]] | None = None


@dataclass
class Erased:
    """What one erasure did: the fields erased (by record) and the rows scrubbed elsewhere."""

    fields: dict[int, list[str]] = field(default_factory=dict)
    scrubbed: int = 0


def pseudonym(entity: str, record_id: int, name: str) -> str:
    """The stable pseudonym of a field of a record: made from where it is, not what it was."""
    digest = hashlib.sha256(f"{entity}:{record_id}:{name}".encode()).hexdigest()[:10]
    return f"erased-{digest}"


def _optional(catalog: Catalog, mixin: type[Any]) -> sa.Table | None:
    """The app's table of a system mixin, or None when the app has none."""
    try:
        table: sa.Table = catalog.table(mixin).__table__
    except LookupError:
        return None
    return table


# --- who may -----------------------------------------------------------------------------------


def may_handle(resource: Resource, user: CurrentUser | None) -> bool:
    """Whether ``user`` may export and erase the personal data of ``resource``'s records."""
    personal = resource.personal
    if personal is None or user is None:
        return False
    return resource.catalog.is_superuser(user) or bool(user.roles & personal.roles)


def check(session: Session, resource: Resource, user: CurrentUser | None, record_id: int) -> None:
    """401 when anonymous, 403 unless the user's role may handle the entity's personal data,
    404 unless they may read the record."""
    permissions.require(resource, user, "read")
    assert user is not None
    if not may_handle(resource, user):
        raise ApiError(
            403,
            "forbidden",
            f"You may not export or erase the personal data of {resource.label} records.",
        )
    rule = permissions.condition(resource, user, "read")
    model = resource.model
    stmt = sa.select(model.id).where(model.id == record_id)
    if rule is not None:
        stmt = stmt.where(rule)
    if not 0 < record_id <= MAX_ID or session.scalar(stmt) is None:
        raise ApiError(404, "not_found", f"{resource.label} not found.")


def _log(
    session: Session,
    catalog: Catalog,
    kind: str,
    resource: Resource,
    record_id: int,
    user: CurrentUser | None,
    *,
    reason: str = "",
    fields: list[str] | None = None,
    scrubbed: int = 0,
) -> None:
    table = _optional(catalog, GdprLogTable)
    if table is None:
        return
    session.execute(
        sa.insert(table).values(
            kind=kind,
            entity=resource.name,
            record_id=record_id,
            user_id=user.id if user is not None and user.id > 0 else None,
            user_email=user.email if user is not None else None,
            reason=reason,
            fields=fields or [],
            scrubbed=scrubbed,
            at=utcnow(),
        )
    )


# --- export ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One pair of files of an export: the rows of ``table`` matching ``where``."""

    name: str
    table: sa.Table
    where: sa.ColumnElement[bool]


def links_to(resource: Resource) -> Iterator[tuple[Resource, FieldInfo]]:
    """Every relation field of the catalog's entities that points at ``resource``."""
    for source in resource.catalog.by_name.values():
        for info in source.fields.values():
            if info.relation and info.target == resource.name:
                yield source, info


def _linked(source: Resource, info: FieldInfo, record_id: int) -> sa.ColumnElement[bool]:
    """The records of ``source`` whose field ``info`` links to record ``record_id``."""
    table = source.model.__table__
    if info.is_list:
        assert info.join is not None
        join = info.join
        own, target = join.c[info.join_own], join.c[info.join_target]
        listed: sa.ColumnElement[bool] = table.c.id.in_(sa.select(own).where(target == record_id))
        return listed
    linked: sa.ColumnElement[bool] = table.c[info.column_name] == record_id
    return linked


def sources(resource: Resource, record_id: int) -> list[Source]:
    """What an export of record ``record_id`` holds, source by source."""
    catalog = resource.catalog
    table = resource.model.__table__
    found = [Source(resource.path, table, table.c.id == record_id)]
    for info in resource.fields.values():  # the record's own many-to-many lists
        if info.is_list and info.join is not None:
            target = resource.target(info).model.__table__
            own, other = info.join.c[info.join_own], info.join.c[info.join_target]
            chosen = target.c.id.in_(sa.select(other).where(own == record_id))
            found.append(Source(f"{resource.path}.{info.name}", target, chosen))
    for source, info in links_to(resource):
        found.append(
            Source(
                f"{source.path}.{info.name}",
                source.model.__table__,
                _linked(source, info, record_id),
            )
        )
    for name, mixin in (
        ("comments", CommentTable),
        ("audit", AuditEntryTable),
        ("notifications", NotificationTable),
        ("emails", EmailLogTable),
        ("files", StoredFileTable),
        ("gdpr_log", GdprLogTable),
    ):
        system = _optional(catalog, mixin)
        if system is not None:
            about = sa.and_(system.c.entity == resource.name, system.c.record_id == record_id)
            found.append(Source(name, system, about))
    return found


def _cell(value: Any) -> Any:
    """A value as the export's JSON carries it."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return None
    return json_ready(value)


def _text(value: Any) -> str:
    """A value as the export's CSV carries it."""
    value = _cell(value)
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _exported(table: sa.Table) -> list[sa.Column[Any]]:
    """Every column but the blind indexes of encrypted fields (keyed hashes: the app's own)."""
    return [c for c in table.columns if not c.name.endswith(crypto.BLIND_SUFFIX)]


def _rows(connection: sa.Connection, source: Source) -> Iterator[dict[str, Any]]:
    columns = _exported(source.table)
    stmt = sa.select(*columns).where(source.where).order_by(*source.table.primary_key.columns)
    result = connection.execution_options(yield_per=ROWS).execute(stmt)
    for row in result.mappings():
        yield dict(row)


def _write_source(archive: zipfile.ZipFile, connection: sa.Connection, source: Source) -> int:
    """The source's JSON and CSV files; how many rows it has."""
    count = 0
    with archive.open(f"{source.name}.json", "w", force_zip64=True) as raw:
        raw.write(b"[")
        for row in _rows(connection, source):
            line = json.dumps({k: _cell(v) for k, v in row.items()}, ensure_ascii=False)
            raw.write((",\n" if count else "\n").encode() + line.encode())
            count += 1
        raw.write(b"\n]\n")
    with archive.open(f"{source.name}.csv", "w", force_zip64=True) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        writer = csv.writer(text)
        columns = _exported(source.table)
        writer.writerow([c.name for c in columns])
        for row in _rows(connection, source):
            writer.writerow([_text(row[c.name]) for c in columns])
        text.flush()
        text.detach()
    return count


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def build_export(
    database: Database, resource: Resource, record_id: int, settings: Any, out: IO[bytes]
) -> dict[str, int]:
    """Write the zip of record ``record_id``'s data to ``out``; the rows of each source."""
    counts: dict[str, int] = {}
    files_table = _optional(resource.catalog, StoredFileTable)
    with (
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        database.engine.connect() as connection,
    ):
        for source in sources(resource, record_id):
            counts[source.name] = _write_source(archive, connection, source)
        if files_table is not None and settings is not None:
            storage = from_settings(settings)
            about = sa.and_(
                files_table.c.entity == resource.name, files_table.c.record_id == record_id
            )
            for file_id, name in connection.execute(
                sa.select(files_table.c.id, files_table.c.name)
                .where(about)
                .order_by(files_table.c.id)
            ):
                safe = _UNSAFE.sub("_", name)[:100] or "file"
                try:
                    with archive.open(f"files/{file_id}-{safe}", "w", force_zip64=True) as raw:
                        for chunk in storage.chunks(file_id):
                            raw.write(chunk)
                except StorageError:
                    continue  # a file whose bytes are gone: its row is in files.json
        archive.writestr(
            "README.txt",
            f"The data held about {resource.label} #{record_id}, exported {utcnow().isoformat()}.\n"
            "Each source is given as JSON and as CSV: the record, the records linked to it\n"
            "(<entity>.<field>), its comments, audit entries, notifications, e-mails, files\n"
            "(files.json and the files/ folder) and the log of earlier exports and erasures.\n",
        )
    return counts


def _export(database: Database, resource: Resource, request: Request) -> IO[bytes]:
    user = user_of(request)
    record_id = _record_id(request)
    with database.session() as session:
        check(session, resource, user, record_id)
        _log(session, resource.catalog, "export", resource, record_id, user)
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - streamed, closed after
    try:
        build_export(database, resource, record_id, request.app.state.settings, out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def _stream(out: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := out.read(CHUNK):
            yield chunk
    finally:
        out.close()


# --- erasure -----------------------------------------------------------------------------------


def _replacement(resource: Resource, record_id: int, name: str, mode: str, value: Any) -> Any:
    if mode == "blank":
        return None
    if mode == "pseudonym":
        return pseudonym(resource.name, record_id, name)
    info = resource.fields[name]
    if info.type in ("decimal", "money") and value is not None:
        return Decimal(str(value))
    return value


def _same(stored: Any, wanted: Any) -> bool:
    if stored is None or wanted is None:
        return stored is None and wanted is None
    if isinstance(wanted, Decimal):
        try:
            return Decimal(str(stored)) == wanted
        except ArithmeticError:
            return False
    return bool(stored == wanted)


def _anonymise(
    session: Session, resource: Resource, record_id: int, needles: set[str], idents: set[str]
) -> list[str] | None:
    """Set the record's personal fields as declared; the names of those that changed (None:
    no such record). The old text values go into ``needles`` (identifiers into ``idents``)."""
    personal = resource.personal
    assert personal is not None
    table = resource.model.__table__
    stmt = sa.select(table).where(table.c.id == record_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = session.execute(stmt).mappings().one_or_none()
    if row is None:
        return None
    values: dict[str, Any] = {}
    erased: list[str] = []
    files_table = _optional(resource.catalog, StoredFileTable)
    for name, (mode, value) in personal.fields.items():
        info = resource.fields.get(name)
        if info is None:
            continue
        if info.is_list:
            assert info.join is not None
            own = info.join.c[info.join_own]
            if _count(session.execute(sa.delete(info.join).where(own == record_id))):
                erased.append(name)
            continue
        current = row[info.column_name]
        wanted = _replacement(resource, record_id, name, mode, value)
        if _same(current, wanted):
            continue
        values[info.column_name] = wanted
        if info.blind:  # an encrypted field's blind index would still find the old value
            values[info.blind] = crypto.blind_value(wanted, info.encrypted)
        erased.append(name)
        if info.type in FILE_TYPES and files_table is not None:
            _drop_files(session, files_table, resource, record_id, name)
        if isinstance(current, str) and len(current.strip()) >= MIN_NEEDLE:
            needles.add(current.strip())
            if info.type in IDENTIFIER_TYPES:
                idents.add(current.strip())
    if not erased:
        return erased
    if values:
        values["version"] = row["version"] + 1
        if resource.timestamps:
            values["updated_at"] = utcnow()
        session.execute(sa.update(table).where(table.c.id == record_id).values(**values))
    return erased


def _count(result: Any) -> int:
    """The rows an UPDATE or DELETE touched."""
    return int(result.rowcount)


def _drop_files(
    session: Session, table: sa.Table, resource: Resource, record_id: int, name: str | None
) -> None:
    """Orphan the record's files (a field's, or with ``name`` None its attachments): renamed,
    dated long ago, so the next sweep deletes their bytes."""
    about = sa.and_(table.c.entity == resource.name, table.c.record_id == record_id)
    about = sa.and_(about, table.c.field == name if name else table.c.field.is_(None))
    session.execute(
        sa.update(table)
        .where(about)
        .values(
            kind="upload",
            entity=None,
            record_id=None,
            field=None,
            user_id=None,
            name=ERASED,
            created_at=LONG_AGO,
        )
    )


def _forget_traces(session: Session, resource: Resource, record_id: int, erased: list[str]) -> int:
    """The record's own traces: old values of its audit entries, its comments' text, its
    e-mails' subject and body, its attachments; how many rows changed."""
    catalog = resource.catalog
    changed = 0
    audit_table = _optional(catalog, AuditEntryTable)
    if audit_table is not None:
        about = sa.and_(audit_table.c.entity == resource.name, audit_table.c.record_id == record_id)
        for entry_id, changes in session.execute(
            sa.select(audit_table.c.id, audit_table.c.changes).where(about)
        ):
            if not isinstance(changes, dict) or not set(changes) & set(erased):
                continue
            kept = {k: ([ERASED, ERASED] if k in erased else v) for k, v in changes.items()}
            session.execute(
                sa.update(audit_table).where(audit_table.c.id == entry_id).values(changes=kept)
            )
            changed += 1
    comments = _optional(catalog, CommentTable)
    if comments is not None:
        about = sa.and_(comments.c.entity == resource.name, comments.c.record_id == record_id)
        changed += _count(
            session.execute(
                sa.update(comments)
                .where(about, comments.c.body != "")
                .values(
                    body="",
                    mentions=[],
                    deleted_at=sa.func.coalesce(comments.c.deleted_at, utcnow()),
                )
            )
        )
    emails = _optional(catalog, EmailLogTable)
    if emails is not None:
        about = sa.and_(emails.c.entity == resource.name, emails.c.record_id == record_id)
        changed += _count(
            session.execute(
                sa.update(emails)
                .where(about, sa.or_(emails.c.body != "", emails.c.subject != ERASED))
                .values(subject=ERASED, body="")
            )
        )
    files_table = _optional(catalog, StoredFileTable)
    if files_table is not None and resource.attachments:
        _drop_files(session, files_table, resource, record_id, None)
    return changed


def _pattern(needles: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted({n for n in needles if n}, key=len, reverse=True)
    if not ordered:
        return None
    forms: list[str] = []
    for needle in ordered:
        forms.append(re.escape(needle))
        escaped = json.dumps(needle)[1:-1]  # as JSON text with \\u escapes holds it
        if escaped != needle:
            forms.append(re.escape(escaped))
    return re.compile("|".join(forms), re.IGNORECASE)


def _scrub_value(value: Any, pattern: re.Pattern[str]) -> Any:
    """``value`` with every match of ``pattern`` replaced by ``[erased]`` (JSON: in every
    string it holds)."""
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, list):
        return [_scrub_value(v, pattern) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_value(v, pattern) for k, v in value.items()}
    return value


def _is_text(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, (sa.String, sa.Text, sa.JSON))


def _contains(column: sa.Column[Any], needles: Iterable[str]) -> sa.ColumnElement[bool]:
    """Whether the column's text holds one of ``needles`` (any case; as JSON escapes too)."""
    text: Any = sa.cast(column, sa.Text) if isinstance(column.type, sa.JSON) else column
    forms: set[str] = set()
    for needle in needles:
        forms.add(needle.lower())
        forms.add(json.dumps(needle)[1:-1].lower())
    return sa.or_(*(sa.func.lower(text).contains(f, autoescape=True) for f in sorted(forms)))


def scrub(
    session: Session,
    catalog: Catalog,
    needles: set[str],
    idents: set[str],
    linked: Mapping[str, sa.ColumnElement[bool]],
) -> int:
    """Replace ``needles`` in every text and JSON column of the app's tables: all of them in the
    system tables and in the entity rows ``linked`` (by table name) holds; ``idents`` (e-mail
    addresses, phones) in every entity row. A whole value becomes None where the column allows
    it, else ``[erased]``. Pending outbox messages that held one are given up. The rows changed."""
    if not needles:
        return 0
    entity_tables = {r.model.__table__.name for r in catalog.by_name.values()}
    users = catalog.by_name.get("User")
    accounts = users.model.__table__.name if users is not None else ""
    outbox = _optional(catalog, OutboxMessageTable)
    metadata = next(iter(catalog.by_name.values())).model.metadata
    everything = _pattern(needles)
    identifiers = _pattern(idents)
    changed = 0
    for table in metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        columns = [c for c in table.columns if _is_text(c) and not c.primary_key]
        if not keys or not columns:
            continue
        is_entity = table.name in entity_tables
        for column in columns:
            scopes: list[tuple[sa.ColumnElement[bool], re.Pattern[str] | None]] = []
            if not is_entity:
                scopes.append((_contains(column, needles), everything))
            else:
                if table.name in linked:
                    scopes.append(
                        (sa.and_(linked[table.name], _contains(column, needles)), everything)
                    )
                if idents and table.name != accounts:  # a user's own address is theirs
                    scopes.append((_contains(column, idents), identifiers))
            for where, pattern in scopes:
                if pattern is None:
                    continue
                rows = session.execute(sa.select(*keys, column).where(where)).all()
                for row in rows:
                    value = row[-1]
                    new: Any = _scrub_value(value, pattern)
                    if is_entity and isinstance(value, str) and pattern.fullmatch(value.strip()):
                        # the whole value: empty, or (a required column) a value of its own,
                        # so a unique column never gets the same one twice
                        place = ":".join(str(v) for v in row[:-1])
                        new = (
                            None
                            if column.nullable
                            else pseudonym(table.name, 0, f"{place}:{column.name}")
                        )
                    if new == value:
                        continue
                    match = sa.and_(*(k == row[i] for i, k in enumerate(keys)))
                    update = sa.update(table).where(match).values({column.name: new})
                    session.execute(update)
                    changed += 1
                    if outbox is not None and table is outbox:
                        session.execute(
                            sa.update(table)
                            .where(match, table.c.status == "pending")
                            .values(
                                status="dead", last_error="Given up: it held erased personal data."
                            )
                        )
    return changed


def optimise_search(session: Session) -> None:
    """Merge SQLite's search tables so deleted words leave their segments (no-op elsewhere)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    names = connection.execute(
        sa.text("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%fts5%'")
    ).scalars()
    for name in list(names):
        if ftsindex.is_search_table(name):
            quoted = '"' + name.replace('"', '""') + '"'
            connection.execute(sa.text(f"INSERT INTO {quoted}({quoted}) VALUES ('optimize')"))


def erase_records(
    session: Session,
    resource: Resource,
    record_ids: list[int],
    *,
    user: CurrentUser | None,
    ip: str | None,
    reason: str,
    kind: str = "erase",
) -> Erased:
    """Anonymise the records and scrub every copy of their erased values, in the session's
    transaction; log and audit each record that changed."""
    catalog = resource.catalog
    result = Erased()
    needles: set[str] = set()
    idents: set[str] = set()
    for record_id in record_ids:
        erased = _anonymise(session, resource, record_id, needles, idents)
        if erased:
            result.fields[record_id] = erased
            result.scrubbed += _forget_traces(session, resource, record_id, erased)
    if not result.fields:
        return result
    ids = list(result.fields)
    linked: dict[str, sa.ColumnElement[bool]] = {}
    table = resource.model.__table__
    linked[table.name] = table.c.id.in_(ids)
    for source, info in links_to(resource):
        name = source.model.__table__.name
        conditions = [_linked(source, info, i) for i in ids]
        found = sa.or_(*conditions)
        linked[name] = sa.or_(linked[name], found) if name in linked else found
    result.scrubbed += scrub(session, catalog, needles, idents, linked)
    reason_pattern = _pattern(needles)
    clean_reason = reason_pattern.sub(ERASED, reason) if reason_pattern else reason
    for record_id, erased in result.fields.items():
        after = session.execute(sa.select(table).where(table.c.id == record_id)).mappings().one()
        changes: dict[str, list[Any]] = {}
        for name in erased:
            info = resource.fields[name]
            new = None if info.is_list else json_ready(after[info.column_name])
            changes[name] = [ERASED, new]
        audit.record(
            session,
            catalog,
            user=user,
            ip=ip,
            entity=resource.name,
            record_id=record_id,
            action="update",
            changes=changes,
        )
        _log(
            session,
            catalog,
            kind,
            resource,
            record_id,
            user,
            reason=clean_reason,
            fields=erased,
            scrubbed=result.scrubbed,
        )
    optimise_search(session)
    return result


def _reason(body: bytes) -> str:
    payload = parse_json(body)
    reason = payload.get("reason") if isinstance(payload, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        raise ApiError(400, "reason_required", 'Give the reason of the erasure: {"reason": "..."}.')
    if len(reason) > REASON_MAX:
        raise ApiError(400, "reason_too_long", f"The reason is over {REASON_MAX} characters.")
    return reason.strip()


def _erase(database: Database, resource: Resource, request: Request, body: bytes) -> dict[str, Any]:
    user = user_of(request)
    record_id = _record_id(request)
    with database.session() as session:
        check(session, resource, user, record_id)
        reason = _reason(body)
        ip = request.client.host if request.client else None
        done = erase_records(session, resource, [record_id], user=user, ip=ip, reason=reason)
    erased = done.fields.get(record_id, [])
    return {"id": record_id, "erased": erased, "scrubbed": done.scrubbed, "already": not erased}


def erase_one(
    database: Database,
    resource: Resource,
    record_id: int,
    user: CurrentUser,
    reason: str,
    ip: str | None,
) -> dict[str, Any]:
    """Erase one record as ``user`` (the web UI's form): checks, then ``erase_records``."""
    with database.session() as session:
        check(session, resource, user, record_id)
        done = erase_records(session, resource, [record_id], user=user, ip=ip, reason=reason)
    erased = done.fields.get(record_id, [])
    return {"id": record_id, "erased": erased, "scrubbed": done.scrubbed, "already": not erased}


# --- retention ---------------------------------------------------------------------------------


def due(resource: Resource, now: dt.datetime) -> sa.Select[Any]:
    """The ids of ``resource``'s records its retention rule takes at ``now``."""
    retention = resource.retention
    assert retention is not None
    model = resource.model
    cutoff = now - dt.timedelta(days=retention.after_days)
    stmt = sa.select(model.id).where(model.updated_at < cutoff)
    if retention.where is not None:
        stmt = stmt.where(retention.where())
    log = _optional(resource.catalog, GdprLogTable)
    if retention.action == "anonymize" and log is not None:
        done = sa.select(log.c.id).where(
            log.c.entity == resource.name,
            log.c.record_id == model.id,
            log.c.kind.in_(["erase", "retention"]),
        )
        stmt = stmt.where(~done.exists())
    return stmt.order_by(model.id)


def run_retention(
    database: Database, catalog: Catalog, now: dt.datetime | None = None
) -> dict[str, int]:
    """Apply every retention rule of the catalog; the records taken, by entity."""
    now = now or utcnow()
    taken: dict[str, int] = {}
    for resource in catalog.by_name.values():
        retention = resource.retention
        if retention is None:
            continue
        count = 0
        after = 0
        while True:
            with database.session() as session:
                ids = list(
                    session.scalars(
                        due(resource, now).where(resource.model.id > after).limit(RETENTION_BATCH)
                    )
                )
                if not ids:
                    break
                after = ids[-1]
                reason = f"retention: {retention.action} after {retention.after_days} days"
                if resource.personal is not None:
                    erase_records(
                        session, resource, ids, user=None, ip=None, reason=reason, kind="retention"
                    )
                if retention.action == "delete":
                    _delete(session, resource, ids)
                count += len(ids)
        taken[resource.name] = count
    return taken


def _delete(session: Session, resource: Resource, ids: list[int]) -> None:
    """Delete the records for good (a soft-deleting entity's too), keeping their parents'
    rollups exact; one that others still need (a restricting reference) stays."""
    table = resource.model.__table__
    files_table = _optional(resource.catalog, StoredFileTable)
    for record_id in ids:
        row = session.execute(sa.select(table).where(table.c.id == record_id)).mappings().first()
        if row is None:
            continue
        stored = {"id": row["id"], "version": row["version"]}
        stored.update(
            {i.name: row[i.column_name] for i in resource.fields.values() if i.column_name}
        )
        try:
            with session.begin_nested():
                session.execute(sa.delete(table).where(table.c.id == record_id))
        except sa.exc.IntegrityError:
            continue
        rollups.after_write(session, resource, stored)
        if files_table is not None:
            session.execute(
                sa.update(files_table)
                .where(files_table.c.entity == resource.name, files_table.c.record_id == record_id)
                .values(
                    kind="upload",
                    entity=None,
                    record_id=None,
                    field=None,
                    name=ERASED,
                    created_at=LONG_AGO,
                )
            )
        audit.record(
            session,
            resource.catalog,
            user=None,
            ip=None,
            entity=resource.name,
            record_id=record_id,
            action="delete",
            changes={},
        )


def register(catalog: Catalog) -> None:
    """Schedule the retention rules of ``catalog`` (when it has any) on its events."""
    if any(r.retention is not None for r in catalog.by_name.values()):
        catalog.events.schedule(
            RETENTION_PROCESS, RETENTION_CRON, lambda database: _retain(database, catalog)
        )


def _retain(database: Database, catalog: Catalog) -> None:
    run_retention(database, catalog)


# --- routes ------------------------------------------------------------------------------------

_ID = re.compile(r"[0-9]{1,10}")


def _record_id(request: Request) -> int:
    raw = request.path_params["id"]
    if not _ID.fullmatch(raw) or not 0 < int(raw) <= MAX_ID:
        raise ApiError(404, "not_found", "Not found.")
    return int(raw)


def _export_endpoint(resource: Resource) -> Callable[[Request], Awaitable[Response]]:
    async def export(request: Request) -> Response:
        database: Database = request.app.state.db
        out = await run_in_threadpool(_export, database, resource, request)
        name = f"{resource.path}-{request.path_params['id']}-personal-data.zip"
        return StreamingResponse(
            _stream(out),
            media_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )

    return export


def _erase_endpoint(resource: Resource) -> Callable[[Request], Awaitable[Response]]:
    async def erase(request: Request) -> Response:
        database: Database = request.app.state.db
        body = await request.body()
        done = await run_in_threadpool(_erase, database, resource, request, body)
        return JSONResponse(done)

    return erase


def routes(catalog: Catalog) -> list[BaseRoute]:
    """``GET /<path>/{id}/personal-data`` and ``POST /<path>/{id}/erase`` per entity with
    personal data."""
    found: list[BaseRoute] = []
    for resource in catalog.resources.values():
        if resource.personal is None:
            continue

        export, erase = _export_endpoint(resource), _erase_endpoint(resource)
        base = f"/{resource.path}/" + "{id}"
        found.append(
            Route(
                base + "/personal-data",
                export,
                methods=["GET"],
                name=f"{resource.path}_personal_data",
            )
        )
        found.append(Route(base + "/erase", erase, methods=["POST"], name=f"{resource.path}_erase"))
    return found
