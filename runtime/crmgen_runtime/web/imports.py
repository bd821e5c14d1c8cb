"""Importing CSV and XLSX files into an entity: upload, map columns, preview, import.

The steps, at ``/<path>/import`` for users who may create records of the entity:

1. Upload: the file is read once within the import limits (``spreadsheets.read_table``: CSV
   or the first sheet of an XLSX file) and its table is kept in the database
   (``import_uploads``, so every replica of the app serves every step) with its owner (a hash
   of the session's CSRF token) and entity. Pages name only the random id; another session's
   id is a 404. Uploads are deleted an hour after their last change (never while
   being imported).
2. Map (``/<path>/import/<id>``): a select per column, guessed from the headers.
3. Preview (``.../preview?c0=name&c1=...``): the first rows as they will be imported, each with
   the problems the API's validation finds (nothing is written).
4. Import (POST ``.../run``): queued as a job (``import_jobs``: an atomic status change makes
   it happen once), run by the worker, or at once by the request for a file of at most
   ``IMPORT_INLINE_ROWS`` rows (the same code). Each row goes through the API's own checks and
   writes (``crud.create_in``), so permissions, record rules, processes, computed fields and
   the audit log apply; a batch of rows shares a transaction with the import's progress, and
   a batch with a refused row is imported again row by row, so a bad row never loses the good
   ones. Meanwhile ``.../result`` shows the progress (rows done and failed, the time left; it
   reloads itself every few seconds), then the result and the failed rows as CSV
   (``.../failed.csv``) to fix and upload again.

With "match existing records by" a unique field (or ``id``), a row whose value names a record
the user may update changes that record through ``crud.update_in`` instead (its mapped,
non-empty cells only; the version read just before guards against concurrent changes).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlencode

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from crmgen_runtime import body_limit, consent, crud, crypto, links, permissions, validation
from crmgen_runtime.errors import ApiError
from crmgen_runtime.resources import Catalog, Resource
from crmgen_runtime.spreadsheets import (
    Cell,
    ImportLimits,
    Table,
    Unreadable,
    filled,
    mebibytes,
    read_table,
)
from crmgen_runtime.tables import ImportFailureTable, ImportUploadTable
from crmgen_runtime.web.site import (
    CSRF_FIELD,
    Site,
    client_ip,
    csrf_ok,
    csrf_token,
    read_form,
    redirect,
    secure,
    site_of,
)

FORM_BYTES = 64 * 1024  # the upload form around its file: boundaries, the CSRF token
# Refusals for a file over a limit (413); any other unreadable file is a 400.
TOO_LARGE = frozenset(
    {
        "import_too_big",
        "import_unzipped_too_big",
        "import_compressed_too_much",
        "import_too_many_rows",
        "import_too_many_columns",
        "import_too_many_cells",
        "import_cell_too_long",
        "import_too_slow",
    }
)
UPLOAD_LIFETIME = dt.timedelta(hours=1)
# An app with encrypted fields keeps an uploaded table and failed rows encrypted (crypto.seal).
TABLE_CONTEXT = "crm_import_uploads.table_json"
CELLS_CONTEXT = "crm_import_failures.cells_json"
PROGRESS_REFRESH_SECONDS = 3  # how often the progress page reloads itself
CSV_CHUNK_ROWS = 500  # failed rows per chunk of the failed-rows file
PREVIEW_ROWS = 20
SAMPLES = 3
SHOWN_FAILURES = 200
REF_CHUNK = 100
UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{24}")
TRUE_WORDS = frozenset({"1", "true", "yes", "y", "on", "x", "да", "ya", "benar", "da", "是", "真"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "off", "нет", "tidak", "salah", "ne", "否", "假"})
DOTTED_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
NUMBER = re.compile(r"[-+]?\d+(\.\d*)?")
# a time of day, alone or after a date: 9:30, 09:30:15, 2024-12-31T09:30:15.250
TIME_OF_DAY = re.compile(r"(?:\d{4}-\d{2}-\d{2}[T ])?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?")
SPACES = re.compile(r"[\s\u00a0\u202f']")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
RECORD_ID = re.compile(r"#?(\d{1,10})")
ID = "id"  # the pseudo-field of a column holding existing records' ids (to match them)


@dataclass(frozen=True)
class Words:
    """The words a yes-or-no cell may hold: common ones and the UI's own yes and no."""

    true: frozenset[str] = TRUE_WORDS
    false: frozenset[str] = FALSE_WORDS

    @classmethod
    def of(cls, messages: dict[str, dict[str, str]]) -> Words:
        """The common words and the UI's ``yes`` and ``no`` in every locale of ``messages``."""
        yes = {words.get("yes", "").casefold() for words in messages.values()}
        no = {words.get("no", "").casefold() for words in messages.values()}
        return cls(TRUE_WORDS | yes, FALSE_WORDS | no)


def uploads_of(catalog: Catalog) -> sa.Table:
    """The app's ``import_uploads`` table."""
    table: sa.Table = catalog.table(ImportUploadTable).__table__  # type: ignore[attr-defined]
    return table


def failures_of(catalog: Catalog) -> sa.Table:
    """The app's ``import_failures`` table: the rows imports did not import."""
    table: sa.Table = catalog.table(ImportFailureTable).__table__  # type: ignore[attr-defined]
    return table


# --- keeping uploads -------------------------------------------------------------------------
# In the database rather than on disk: behind a load balancer, each step of an import may be
# served by another replica of the app.


@dataclass(frozen=True)
class Upload:
    """A stored upload of this session and entity."""

    id: str
    file_name: str
    status: str  # uploaded -> importing -> done
    table: Table | None  # while it waits to be imported
    result: dict[str, Any] | None  # once imported: matched, headers (before 0.5: failed too)
    progress: dict[str, Any]  # rows_total, position, rows_done, rows_updated, rows_failed, ...


def owner_of(request: Request) -> str:
    """Who an upload belongs to: a hash of the session's CSRF token (itself an HMAC)."""
    return hashlib.sha256((csrf_token(request) or "").encode()).hexdigest()


def expiry() -> dt.datetime:
    """Uploads last changed before this moment are gone."""
    return dt.datetime.now(dt.UTC) - UPLOAD_LIFETIME


def live(uploads: sa.Table) -> sa.ColumnElement[bool]:
    """Uploads that have not expired: changed within the hour, or being imported."""
    changed = sa.func.coalesce(uploads.c.updated_at, uploads.c.created_at)
    return sa.or_(changed >= expiry(), uploads.c.status == "importing")


def store(
    database: Any,
    uploads: sa.Table,
    failures: sa.Table,
    owner: str,
    path: str,
    name: str,
    table: Table,
    limits: ImportLimits,
) -> str:
    """Keep ``table`` as a new upload, after deleting the expired ones; its random id."""
    stored = json.dumps({"headers": table.headers, "rows": table.rows}, ensure_ascii=False)
    if len(stored) > limits.table_chars + len(table.rows) * len(table.headers) * 8:
        raise Unreadable("import_too_big")  # the cells' text is capped; this is JSON's share
    upload_id = secrets.token_urlsafe(18)
    with database.engine.begin() as connection:
        gone = sa.select(uploads.c.id).where(sa.not_(live(uploads)))
        connection.execute(sa.delete(failures).where(failures.c.upload_id.in_(gone)))
        connection.execute(sa.delete(uploads).where(sa.not_(live(uploads))))
        connection.execute(
            sa.insert(uploads).values(
                id=upload_id,
                owner=owner,
                entity=path,
                file_name=CONTROL.sub("", name)[:255],
                created_at=dt.datetime.now(dt.UTC),
                status="uploaded",
                table_json=crypto.seal(stored, TABLE_CONTEXT),
            )
        )
    return upload_id


def load(database: Any, uploads: sa.Table, owner: str, path: str, upload_id: str) -> Upload | None:
    """The upload ``upload_id`` of this owner and entity, if it has not expired."""
    if not UPLOAD_ID.fullmatch(upload_id):
        return None
    query = sa.select(uploads).where(uploads.c.id == upload_id, live(uploads))
    with database.engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None or row.entity != path or not secrets.compare_digest(row.owner, owner):
        return None
    table = None
    if row.status == "uploaded" and row.table_json is not None:
        stored = json.loads(crypto.unseal(row.table_json, TABLE_CONTEXT))
        table = Table(stored["headers"], [(line, cells) for line, cells in stored["rows"]])
    result = json.loads(row.result_json) if row.result_json is not None else None
    progress = {name: getattr(row, name) for name in PROGRESS}
    return Upload(row.id, row.file_name, row.status, table, result, progress)


PROGRESS = ("rows_total", "position", "rows_done", "rows_updated", "rows_failed", "started_at")


def failed_rows(
    database: Any, failures: sa.Table, upload_id: str, limit: int | None
) -> Iterator[dict[str, Any]]:
    """The failed rows of an import in file order (the first ``limit``), read in batches."""
    query = (
        sa.select(failures.c.line, failures.c.cells_json, failures.c.errors_json)
        .where(failures.c.upload_id == upload_id)
        .order_by(failures.c.line, failures.c.id)
        .limit(limit)
    )
    with database.engine.connect() as connection:
        for row in connection.execute(query, execution_options={"yield_per": 1000}):
            yield {
                "line": row.line,
                "cells": json.loads(crypto.unseal(row.cells_json, CELLS_CONTEXT)),
                "errors": json.loads(row.errors_json),
            }


# --- mapping columns to fields ---------------------------------------------------------------


def _key(text: str) -> str:
    return re.sub(r"[\s_\-.:*]+", "", text.casefold())


def guess_mapping(headers: list[str], metas: list[dict[str, Any]]) -> list[str]:
    """A field per column whose header is the field's name or its label in any locale."""
    names: dict[str, str] = {}
    for meta in metas:
        for text in (meta["name"], *meta["label"].values()):
            names.setdefault(_key(text), meta["name"])
    mapping: list[str] = []
    for header in headers:
        name = names.get(_key(header), "")
        mapping.append("" if name in mapping else name)
    return mapping


def mapping_of(params: Any, width: int, metas: list[dict[str, Any]]) -> list[str]:
    """The chosen field of each column (``c0``, ``c1``, ...; "" skips the column; ``id``
    holds the ids of existing records)."""
    known = {ID, *(meta["name"] for meta in metas)}
    return [name if (name := params.get(f"c{i}", "")) in known else "" for i in range(width)]


def match_of(params: Any, candidates: list[str]) -> str:
    """The field rows are matched to existing records by ("" creates every row)."""
    match = params.get("match", "")
    return match if match in candidates else ""


def mapping_problems(
    site: Site, mapping: list[str], match: str, metas: list[dict[str, Any]], locale: str
) -> list[str]:
    """What is wrong with a mapping: a field chosen twice, nothing chosen, a match field
    without its column, an id column without matching by id."""
    t = site.translator(locale)
    labels = {
        ID: t("import_id"),
        **{meta["name"]: site.pick(meta["label"], locale) for meta in metas},
    }
    twice = sorted({name for name in mapping if name and mapping.count(name) > 1})
    problems = [f"{t('import_mapped_twice')}: {labels[name]}" for name in twice]
    if not any(name and name != ID for name in mapping):
        problems.append(t("import_nothing_mapped"))
    if match and match not in mapping:
        problems.append(f"{t('import_match_not_mapped')}: {labels[match]}")
    if ID in mapping and match != ID:
        problems.append(t("import_id_needs_match"))
    return problems


# --- cells as API values ---------------------------------------------------------------------


def cell_text(value: Cell) -> str:
    """A cell as the text a user sees in it (a float as Excel shows it, empty for none)."""
    if isinstance(value, float):
        return f"{value:.15g}"  # what Excel shows, without binary noise
    return "" if value is None else str(value)


def _number(value: Cell) -> Cell:
    """A number cell or text like ``1 234,50`` as the API reads it."""
    if isinstance(value, bool) or not isinstance(value, str):
        return cell_text(value) if isinstance(value, float) else value
    text = SPACES.sub("", value)
    if "," in text and "." in text:  # the last one separates the decimals
        thousands = "," if text.rfind(".") > text.rfind(",") else "."
        text = text.replace(thousands, "")
    text = text.replace(",", ".")
    return text if NUMBER.fullmatch(text) else value  # not a number: the API says so


def _date(value: Cell, with_time: bool) -> Cell:
    """An ISO date (or date and time) from ISO text or ``31.12.2024 [09:30]``."""
    if not isinstance(value, str):
        return cell_text(value)
    dotted = DOTTED_DATE.fullmatch(value)
    if dotted:
        day, month, year, hour, minute, second = dotted.groups()
        value = f"{year}-{int(month):02d}-{int(day):02d}"
        if hour is not None:
            value += f"T{int(hour):02d}:{minute}:{second or '00'}"
    if not with_time and re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]00:00(:00)?", value):
        value = value[:10]
    return value


def _time(value: Cell) -> Cell:
    """A time of day as ``HH:MM[:SS]`` from a spreadsheet's time cell (a fraction of a day, or
    the ISO text the reader makes of it, fractions of a second dropped), ``9:30`` or the time
    of a date and time."""
    if isinstance(value, float) and 0 <= value < 1:
        minutes, seconds = divmod(round(value * 86_400), 60)
        if minutes < 24 * 60:
            return f"{minutes // 60:02d}:{minutes % 60:02d}:{seconds:02d}"
    if not isinstance(value, str):
        return cell_text(value)
    found = TIME_OF_DAY.fullmatch(value.strip())
    if found is None:
        return value  # not a time: the API says so
    hour, minute, second = found.groups()
    return f"{int(hour):02d}:{minute}" + (f":{second}" if second else "")


def _boolean(value: Cell, words: Words) -> Cell:
    if isinstance(value, bool):
        return value
    word = cell_text(value).strip().casefold()
    if word in words.true:
        return True
    if word in words.false:
        return False
    return cell_text(value)


def _choice(meta: dict[str, Any], value: Cell) -> str:
    """An enum's value name from its name or its label in any locale."""
    text = cell_text(value)
    for name, label in meta["choices"]:
        if _key(text) in {_key(name), *(_key(v) for v in label.values())}:
            return str(name)
    return text


def api_value(meta: dict[str, Any], value: Cell, words: Words = Words()) -> Any:
    """A non-empty cell as the API payload wants it (the API's validation then checks it),
    read as its field type says (``import`` in ui.json: a plugin type chooses too); ``words``
    are the yes and no a boolean cell may hold."""
    kind = meta["import"]
    if kind == "boolean":
        return _boolean(value, words)
    if kind == "choice":
        return _choice(meta, value)
    if kind == "number":
        return _number(value)
    if kind in ("date", "datetime"):
        return _date(value, kind == "datetime")
    if kind == "time":
        return _time(value)
    return cell_text(value)


# Reference columns: the value the link shows or the id -> a record id, or a problem.
RefMatches = dict[str, dict[str, int | str]]


def _display_matches(
    database: Any, target: Resource, user: Any, values: list[str], shown: str
) -> dict[str, list[int]]:
    """The ids of the records (that ``user`` may list and link to: ``crud.list_records(...,
    linkable=True)``) whose value of ``shown`` (the field the link shows) is each of
    ``values``."""
    found: dict[str, list[int]] = {value: [] for value in values}
    plain = [v for v in values if "," not in v]  # __in splits on commas
    batches = [plain[i : i + REF_CHUNK] for i in range(0, len(plain), REF_CHUNK)]
    queries = [[(f"{shown}__in", ",".join(b))] for b in batches]
    queries += [[(shown, v)] for v in values if "," in v]
    for query in queries:
        params = [*query, ("limit", str(crud.MAX_LIMIT))]
        while True:
            page = crud.list_records(database, target, user, params, count=False, linkable=True)
            for item in page["items"]:
                key = str(item.get(shown))
                if key in found:
                    found[key].append(int(item["id"]))
            if not page["next_cursor"]:
                break
            params = [*query, ("limit", str(crud.MAX_LIMIT)), ("cursor", page["next_cursor"])]
    return found


def match_refs(
    site: Site,
    database: Any,
    user: Any,
    metas: list[dict[str, Any] | None],
    rows: list[tuple[int, list[Cell]]],
    locale: str,
) -> RefMatches:
    """For each mapped reference column, each distinct cell's record id or its problem."""
    t = site.translator(locale)
    matches: RefMatches = {}
    for index, meta in enumerate(metas):
        target = site.catalog.resources.get((meta or {}).get("target") or "")
        if meta is None or meta["widget"] != "ref" or target is None:
            continue
        values = sorted({cell_text(row[index]) for _, row in rows if filled(row[index])})
        found: dict[str, list[int]] = {}
        shown = meta.get("display") or target.display  # the target's field the link shows
        if shown != "id" and shown in permissions.readable(target, user):
            try:
                found = _display_matches(database, target, user, values, shown)
            except ApiError:  # the user may not list the target: ids only
                found = {}
        label = site.pick(site.entities.get(target.path, {}).get("label"), locale) or target.label
        result: dict[str, int | str] = {}
        for value in values:
            ids = found.get(value, [])
            if len(ids) == 1:
                result[value] = ids[0]
            elif len(ids) > 1:
                result[value] = f"{t('import_ambiguous')} ({label}): {value}"
            elif re.fullmatch(r"#?\d{1,10}", value):
                result[value] = int(value.lstrip("#"))
            else:
                result[value] = f"{t('import_no_match')} ({label}): {value}"
        matches[meta["name"]] = result
    return matches


@dataclass(frozen=True)
class Match:
    """An existing record named by a row's match value."""

    id: int
    version: int
    display: str  # its display value ("" when the user may not see or change it)
    may_update: bool  # within the user's record rules for update


@dataclass
class Row:
    """One data row: its line, its cells, its payload and what is wrong with it.

    With a match field: its value (``key``) and the record it updates (``target``; else the
    row creates a record).
    """

    line: int
    cells: list[Cell]
    payload: dict[str, Any]
    errors: dict[str, str]
    key: Any = None
    target: Match | None = None


def build_row(
    line: int,
    cells: list[Cell],
    metas: list[dict[str, Any] | None],
    refs: RefMatches,
    words: Words = Words(),
) -> Row:
    """A row's API payload from the mapped cells (empty cells left out: defaults apply)."""
    payload: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for meta, value in zip(metas, cells):
        if meta is None or not filled(value):
            continue
        name = meta["name"]
        if name in refs:
            match = refs[name].get(cell_text(value))
            if isinstance(match, int):
                payload[name] = match
            else:
                errors[name] = str(match)
        else:
            payload[name] = api_value(meta, value, words)
    return Row(line, cells, payload, errors)


def changes_of(row: Row, match: str) -> dict[str, Any]:
    """What an update writes: the mapped non-empty cells, without the match field itself."""
    return {name: value for name, value in row.payload.items() if name != match}


def check_row(site: Site, resource: Resource, user: Any, row: Row, match: str, locale: str) -> None:
    """Add the problems the API's own checks find in ``row`` (nothing is written), in
    ``locale``: those of a create, or of an update for a row matching a record."""
    try:
        if row.target is None:
            permissions.check_writable(resource, user, row.payload, "create")
            validation.validate(resource, row.payload, partial=False)
        else:
            changes = changes_of(row, match)
            permissions.check_writable(resource, user, changes, "update")
            validation.validate(resource, changes, partial=True)
    except ApiError as exc:
        for name, message in site.field_errors(exc.fields, locale).items():
            row.errors.setdefault(name, message)
        if not exc.fields:
            row.errors.setdefault("", exc.message)


def write_row(
    session: Any, resource: Resource, user: Any, row: Row, match: str, ip: str | None
) -> None:
    """Create the row's record, or update the one it matches at the version read for it,
    through the API's checks and writes, in ``session``'s transaction."""
    if row.target is None:
        with consent.source("import"):
            crud.create_in(session, resource, user, row.payload, ip)
    else:
        payload = {**changes_of(row, match), "version": row.target.version}
        with consent.source("import"):
            crud.update_in(session, resource, user, row.target.id, payload, ip)


# What a batch's transaction writes besides its records: the import's progress (``import_jobs``).
Record = Callable[[Any, list["Row"]], None]


def _no_record(_session: Any, _rows: list[Row]) -> None:
    """Nothing to write besides the records."""


def import_row(
    site: Site,
    database: Any,
    resource: Resource,
    user: Any,
    row: Row,
    match: str,
    ip: str | None,
    locale: str,
    record: Record = _no_record,
) -> None:
    """``write_row`` in a transaction of its own, with ``record`` of the row; a refusal becomes
    the row's problems (then recorded in a transaction of their own)."""
    if not row.errors:
        action = "create" if row.target is None else "update"
        try:
            with crud.integrity(resource, action), database.session() as session:
                write_row(session, resource, user, row, match, ip)
                record(session, [row])
            return
        except ApiError as exc:
            if exc.code == "stale":  # changed by someone else since its version was read
                row.errors = {"": site.translator(locale)("import_stale")}
            else:
                row.errors = site.field_errors(exc.fields, locale) or {"": exc.message}
    with database.session() as session:
        record(session, [row])


def import_chunk(
    site: Site,
    database: Any,
    resource: Resource,
    user: Any,
    rows: list[Row],
    match: str,
    ip: str | None,
    locale: str,
    record: Record = _no_record,
) -> None:
    """Import ``rows`` in one transaction with ``record`` of them all (a commit per row made
    big imports slow); when any of them is refused, that transaction is rolled back and each
    row is imported in its own, so the good rows are kept and the bad ones get their problems."""
    todo = [row for row in rows if not row.errors]
    try:
        with database.session() as session:
            links.remember(session)  # the same records are linked row after row
            for row in todo:
                action = "create" if row.target is None else "update"
                with crud.integrity(resource, action):
                    write_row(session, resource, user, row, match, ip)
            record(session, rows)
    except ApiError:
        for row in rows:
            import_row(site, database, resource, user, row, match, ip, locale, record)


# --- matching rows to existing records -------------------------------------------------------


def match_fields(resource: Resource, user: Any, importable: list[str]) -> list[str]:
    """The fields rows may be matched by: ``id`` and the single-column unique fields the user
    may both write and read."""
    readable = permissions.readable(resource, user)
    return [ID] + [
        name
        for name in importable
        if resource.fields[name].unique and not resource.fields[name].is_list and name in readable
    ]


def set_keys(
    site: Site, resource: Resource, rows: list[Row], mapping: list[str], match: str, locale: str
) -> None:
    """Each row's match value, as stored (an empty cell has none: the row is created); a bad
    id is a problem of the row, a bad field value is reported by the validation."""
    index = mapping.index(match)
    for row in rows:
        cell = row.cells[index]
        if not filled(cell):
            continue
        if match == ID:
            number = RECORD_ID.fullmatch(cell_text(cell).strip())
            if number is None:
                row.errors[ID] = site.translator(locale)("import_bad_id")
            else:
                row.key = int(number.group(1))
        elif match in row.payload and match not in row.errors:
            try:
                row.key = validation.coerce(resource.fields[match], row.payload[match])
            except validation.Invalid:
                continue


def mark_duplicates(site: Site, rows: list[Row], match: str, locale: str) -> None:
    """A match value met again in the file is a problem of the later rows."""
    t = site.translator(locale)
    first: dict[Any, int] = {}
    for row in rows:
        if row.key is None:
            continue
        if row.key in first:
            row.errors[match] = t("import_duplicate").format(line=first[row.key])
            row.key = None
        else:
            first[row.key] = row.line


def find_matches(
    database: Any, resource: Resource, user: Any, match: str, keys: list[Any]
) -> dict[Any, Match]:
    """The live records whose ``match`` is one of ``keys``, and whether ``user`` may update each.

    Read without the user's record rules, so that a record they may not change is reported as
    such rather than created again (the API's unique check would refuse it anyway).
    """
    model = resource.model
    column = resource.attribute(match)
    try:
        rule = permissions.condition(resource, user, "update")
    except ApiError:  # the role may update no record at all
        rule = sa.false()
    allowed = sa.case((sa.true() if rule is None else rule, True), else_=False)
    display = resource.display
    shown = display != ID and display in permissions.readable(resource, user)
    columns = [column.label("key"), model.id, model.version, allowed.label("may_update")]
    if shown:
        columns.append(resource.attribute(display).label("display"))
    live = [resource.attribute("deleted_at").is_(None)] if resource.soft_delete else []
    found: dict[Any, Match] = {}
    with database.engine.connect() as connection:
        for start in range(0, len(keys), REF_CHUNK):
            query = sa.select(*columns).where(column.in_(keys[start : start + REF_CHUNK]), *live)
            for item in connection.execute(query):
                may_update = bool(item.may_update)
                text = cell_text(item.display) if shown and may_update else ""
                found[item.key] = Match(int(item.id), int(item.version), text, may_update)
    return found


def attach_matches(
    site: Site,
    database: Any,
    resource: Resource,
    user: Any,
    rows: list[Row],
    match: str,
    locale: str,
) -> None:
    """Point each keyed row at the record it updates; a record the user may not update, or an
    id naming no record, is a problem of the row."""
    t = site.translator(locale)
    keys = list(dict.fromkeys(row.key for row in rows if row.key is not None))
    found = find_matches(database, resource, user, match, keys) if keys else {}
    for row in rows:
        target = found.get(row.key) if row.key is not None else None
        if target is not None and not target.may_update:
            row.errors[match] = t("import_not_yours")
        elif target is not None:
            row.target = target
        elif row.key is not None and match == ID:  # an id cannot be given to a new record
            row.errors[ID] = t("import_id_not_found")


# --- progress and result ---------------------------------------------------------------------


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    """A stored moment with its zone (SQLite gives it back without: it is UTC)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def progress_of(progress: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """What the progress page shows: rows done, failed and in all, the percentage, and the
    seconds left at the pace so far (None until a batch is in)."""
    total, position = int(progress["rows_total"]), int(progress["position"])
    started = _aware(progress.get("started_at"))
    left = None
    if started is not None and 0 < position < total:
        elapsed = max((now - started).total_seconds(), 0.0)
        left = round(elapsed / position * (total - position))
    return {
        "rows_total": total,
        "position": position,
        "rows_done": int(progress["rows_done"]),
        "rows_failed": int(progress["rows_failed"]),
        "percent": 100 * position // total if total else 100,
        "seconds_left": left,
    }


def result_counts(result: dict[str, Any], progress: dict[str, Any]) -> dict[str, int]:
    """Records created and updated, rows failed: from the import's counts, or from the result
    of an import made before 0.5, which kept them there."""
    if "failed" in result:
        return {
            "created": int(result.get("created", 0)),
            "updated": int(result.get("updated", 0)),
            "failed_count": len(result["failed"]),
        }
    updated = int(progress["rows_updated"])
    return {
        "created": int(progress["rows_done"]) - updated,
        "updated": updated,
        "failed_count": int(progress["rows_failed"]),
    }


# --- pages -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Importer:
    """The import of one entity on an app's site: the fields a file may fill for a user, their
    labels, the rows of a file as payloads, checked or written."""

    site: Site
    path: str
    resource: Resource

    @classmethod
    def of(cls, request: Request, path: str, resource: Resource) -> Importer:
        return cls(site_of(request), path, resource)

    @property
    def entity(self) -> dict[str, Any]:
        entity: dict[str, Any] = self.site.entities[self.path]
        return entity

    @property
    def fields(self) -> dict[str, dict[str, Any]]:
        fields: dict[str, dict[str, Any]] = self.entity["fields"]
        return fields

    @property
    def uploads(self) -> sa.Table:
        return uploads_of(self.site.catalog)

    @property
    def failures(self) -> sa.Table:
        return failures_of(self.site.catalog)

    @property
    def words(self) -> Words:
        return Words.of(self.site.messages)

    def importable(self, user: Any) -> list[dict[str, Any]]:
        """The fields a file may fill: those the create form offers this user."""
        writable = permissions.writable(self.resource, user, "create")
        fields = self.fields
        return [
            fields[name]
            for name in self.entity["form"]
            if fields[name]["editable"] and name in writable
        ]

    def field_label(self, name: str, locale: str) -> str:
        if name == ID:
            return self.site.translator(locale)("import_id")
        fields = self.fields
        return self.site.pick(fields[name]["label"], locale) if name in fields else ""

    def candidates(self, user: Any) -> list[str]:
        """The fields this user may match rows to existing records by."""
        names = [meta["name"] for meta in self.importable(user)]
        return match_fields(self.resource, user, names)

    def prepared(
        self,
        database: Any,
        user: Any,
        table: Table,
        mapping: list[str],
        locale: str,
        limit: int | None,
    ) -> list[Row]:
        """The rows (the first ``limit``, or all) with their payloads, refs matched."""
        metas = [self.fields.get(name) for name in mapping]  # None: skipped, or the id column
        chosen = table.rows if limit is None else table.rows[:limit]
        refs = match_refs(self.site, database, user, metas, chosen, locale)
        words = self.words
        return [build_row(line, cells, metas, refs, words) for line, cells in chosen]

    def keyed(self, rows: list[Row], mapping: list[str], match: str, locale: str) -> None:
        """With a match field: each row's match value, the file's duplicates marked."""
        if match in mapping:
            set_keys(self.site, self.resource, rows, mapping, match, locale)
            mark_duplicates(self.site, rows, match, locale)

    def checked(
        self,
        database: Any,
        user: Any,
        table: Table,
        mapping: list[str],
        match: str,
        locale: str,
    ) -> list[Row]:
        """Every row, matched to the record it updates and checked (nothing is written)."""
        rows = self.prepared(database, user, table, mapping, locale, None)
        self.keyed(rows, mapping, match, locale)
        if match in mapping:
            attach_matches(self.site, database, self.resource, user, rows, match, locale)
        for row in rows:
            check_row(self.site, self.resource, user, row, match, locale)
        return rows

    def shown(self, name: str, value: Any, locale: str) -> str:
        """A payload value as the preview shows it."""
        meta = self.fields[name]
        if meta["widget"] == "select":
            labels = (self.site.pick(label, locale) for n, label in meta["choices"] if n == value)
            return next(labels, str(value))
        if isinstance(value, bool):
            return self.site.translator(locale)("yes" if value else "no")
        return f"#{value}" if meta["widget"] == "ref" else str(value)

    def preview_row(
        self, row: Row, mapping: list[str], chosen: list[str], locale: str
    ) -> dict[str, Any]:
        """A row of the preview: per chosen field the file's text, the value and its problem."""
        sources = {
            name: cell_text(c)
            for c, name in zip(row.cells, mapping, strict=False)
            if name and filled(c)
        }
        target = row.target
        return {
            "line": row.line,
            "ok": not row.errors,
            "target": (None if target is None else {"id": target.id, "display": target.display}),
            "cells": [
                {
                    "source": sources.get(name, ""),
                    "text": (
                        self.shown(name, row.payload[name], locale) if name in row.payload else ""
                    ),
                    "error": row.errors.get(name, ""),
                }
                for name in chosen
            ],
            "errors": [  # problems of fields without a column (e.g. a required one)
                {"label": self.field_label(name, locale) or name, "message": message}
                for name, message in row.errors.items()
                if name not in chosen
            ],
        }

    def failed_rows_csv(
        self, headers: list[str], failed: Iterable[dict[str, Any]], locale: str
    ) -> Iterator[bytes]:
        """The failed rows as they came, plus a column saying what is wrong with each (UTF-8
        with a BOM, so Excel opens it), a chunk per ``CSV_CHUNK_ROWS`` rows."""
        t = self.site.translator(locale)

        def describe(errors: dict[str, str]) -> str:
            return "; ".join(
                f"{self.field_label(name, locale)}: {message}" if name else message
                for name, message in errors.items()
            )

        out = io.StringIO(newline="")
        writer = csv.writer(out)
        out.write("\ufeff")
        writer.writerow([*headers, t("import_problems")])
        for number, item in enumerate(failed, start=1):
            writer.writerow([*item["cells"], describe(item["errors"])])
            if number % CSV_CHUNK_ROWS == 0:
                yield out.getvalue().encode("utf-8")
                out.seek(0)
                out.truncate()
        yield out.getvalue().encode("utf-8")


class Opened(NamedTuple):
    """An upload opened by its user: the import it belongs to and the site serving it."""

    importer: Importer
    site: Site
    user: Any
    upload: Upload


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    """The import steps of the entity at ``path``: upload, map, preview, run, result and the
    failed rows as CSV."""

    def show_upload(
        request: Request, importer: Importer, user: Any, error: str = "", status: int = 200
    ) -> Response:
        site = importer.site
        locale = site.locale_of(request)
        limits: ImportLimits = request.app.state.settings.imports
        return site.render(
            request,
            "import_upload.html",
            site.entity_context(
                path,
                locale,
                fields=importer.importable(user),
                error=error,
                max_mb=mebibytes(limits.file_bytes),
                max_rows=limits.rows,
            ),
            user=user,
            status=status,
        )

    async def upload_page(request: Request) -> Response:
        importer = Importer.of(request, path, resource)
        site = importer.site
        user, stop = await site.guard(request, resource, "create")
        if stop is not None:
            return stop
        if request.method == "GET":
            return show_upload(request, importer, user)
        t = site.translator(site.locale_of(request))
        limits: ImportLimits = request.app.state.settings.imports
        length = request.headers.get("content-length", "")
        if not length.isdigit() or int(length) > limits.file_bytes + FORM_BYTES:
            return show_upload(request, importer, user, t("import_too_big"), 413)
        body_limit.allow(request, limits.file_bytes + FORM_BYTES)
        try:
            async with request.form(max_files=1, max_fields=5) as form:
                if not csrf_ok(request, {CSRF_FIELD: str(form.get(CSRF_FIELD, ""))}):
                    return site.error_page(request, 403, "csrf", user)
                upload = form.get("file")
                if not isinstance(upload, UploadFile) or not upload.filename:
                    return show_upload(request, importer, user, t("import_choose_file"), 400)
                data = await upload.read(limits.file_bytes + 1)
                name = upload.filename
        except MultiPartException:
            return show_upload(request, importer, user, t("import_unreadable"), 400)
        if len(data) > limits.file_bytes:
            return show_upload(request, importer, user, t("import_too_big"), 413)
        try:
            table = await run_in_threadpool(read_table, name, data, limits, t("import_column"))
            del data  # the file is not kept: only its table
            upload_id = await run_in_threadpool(
                store,
                request.app.state.db,
                importer.uploads,
                importer.failures,
                owner_of(request),
                path,
                name,
                table,
                limits,
            )
        except Unreadable as exc:
            status = 413 if exc.key in TOO_LARGE else 400
            return show_upload(request, importer, user, t(exc.key).format(**exc.values), status)
        return redirect(request, f"/{path}/import/{upload_id}")

    async def open_upload(request: Request) -> Opened | Response:
        """The import of the upload named in the URL for its user, or the page that says why
        not (not signed in, no right to create, no such upload of theirs)."""
        importer = Importer.of(request, path, resource)
        site = importer.site
        user, stop = await site.guard(request, resource, "create")
        if stop is not None:
            return stop
        upload = await run_in_threadpool(
            load,
            request.app.state.db,
            importer.uploads,
            owner_of(request),
            path,
            request.path_params["upload"],
        )
        if upload is None:
            return site.error_page(request, 404, "import_gone", user)
        return Opened(importer, site, user, upload)

    async def open_table(request: Request) -> tuple[Opened, Table] | Response:
        """As ``open_upload``, with the upload's table: an upload already imported has none,
        so its result page answers instead."""
        opened = await open_upload(request)
        if isinstance(opened, Response):
            return opened
        table = opened.upload.table
        if table is None:
            return redirect(request, f"/{path}/import/{opened.upload.id}/result")
        return opened, table

    async def map_page(request: Request) -> Response:
        opened = await open_table(request)
        if isinstance(opened, Response):
            return opened
        (importer, site, user, upload), table = opened
        locale = site.locale_of(request)
        metas = importer.importable(user)
        if "c0" in request.query_params:  # back from the preview: keep the choices
            mapping = mapping_of(request.query_params, len(table.headers), metas)
        else:
            mapping = guess_mapping(table.headers, metas)
        matches = importer.candidates(user)
        columns = [
            {
                "index": i,
                "header": header,
                "samples": [cell_text(row[i]) for _, row in table.rows[:SAMPLES] if filled(row[i])],
                "selected": mapping[i],
            }
            for i, header in enumerate(table.headers)
        ]
        return site.render(
            request,
            "import_map.html",
            site.entity_context(
                path,
                locale,
                upload=upload.id,
                file_name=upload.file_name,
                total=len(table.rows),
                columns=columns,
                fields=metas,
                match=match_of(request.query_params, matches),
                match_fields=[(name, importer.field_label(name, locale)) for name in matches],
            ),
            user=user,
        )

    async def preview_page(request: Request) -> Response:
        opened = await open_table(request)
        if isinstance(opened, Response):
            return opened
        (importer, site, user, upload), table = opened
        locale = site.locale_of(request)
        metas = importer.importable(user)
        mapping = mapping_of(request.query_params, len(table.headers), metas)
        match = match_of(request.query_params, importer.candidates(user))
        problems = mapping_problems(site, mapping, match, metas, locale)
        rows = await run_in_threadpool(
            importer.checked, request.app.state.db, user, table, mapping, match, locale
        )
        good = [row for row in rows if not row.errors]
        chosen = [name for name in dict.fromkeys(mapping) if name]
        shown_rows = [
            importer.preview_row(row, mapping, chosen, locale) for row in rows[:PREVIEW_ROWS]
        ]
        return site.render(
            request,
            "import_preview.html",
            site.entity_context(
                path,
                locale,
                upload=upload.id,
                file_name=upload.file_name,
                total=len(rows),
                bad=len(rows) - len(good),
                to_update=sum(1 for row in good if row.target is not None),
                match=match,
                headers=[importer.field_label(name, locale) for name in chosen],
                rows=shown_rows,
                mapping=list(enumerate(mapping)),
                problems=problems,
                query=request.url.query,
            ),
            user=user,
        )

    async def run_page(request: Request) -> Response:
        opened = await open_upload(request)
        if isinstance(opened, Response):
            return opened
        importer, site, user, upload = opened
        form = await read_form(request)
        if not csrf_ok(request, form):
            return site.error_page(request, 403, "csrf", user)
        table = upload.table
        if table is None:
            return redirect(request, f"/{path}/import/{upload.id}/result")
        locale = site.locale_of(request)
        metas = importer.importable(user)
        mapping = mapping_of(form, len(table.headers), metas)
        match = match_of(form, importer.candidates(user))
        if mapping_problems(site, mapping, match, metas, locale):
            query = urlencode(
                [*((f"c{i}", name) for i, name in enumerate(mapping)), ("match", match)]
            )
            return redirect(request, f"/{path}/import/{upload.id}/preview?{query}")
        from crmgen_runtime.web import import_jobs  # it imports this module

        database = request.app.state.db
        limits: ImportLimits = request.app.state.settings.imports
        job = {
            "mapping": mapping,
            "match": match,
            "locale": locale,
            "user_id": user.id,
            "ip": client_ip(request),
        }
        total = len(table.rows)
        queued = await run_in_threadpool(
            import_jobs.queue, database, importer.uploads, upload.id, job, total
        )
        if queued and total <= limits.inline_rows:  # small: imported now, as the worker would
            runner = import_jobs.ImportRunner(site, database, limits, threading.Event())
            await run_in_threadpool(runner.run_one, upload.id, user)
        return redirect(request, f"/{path}/import/{upload.id}/result")

    async def result_page(request: Request) -> Response:
        opened = await open_upload(request)
        if isinstance(opened, Response):
            return opened
        importer, site, user, upload = opened
        result = upload.result
        locale = site.locale_of(request)
        if result is None:
            if upload.status == "uploaded":  # not imported yet
                return redirect(request, f"/{path}/import/{upload.id}")
            return site.render(
                request,
                "import_progress.html",
                site.entity_context(
                    path,
                    locale,
                    upload=upload.id,
                    file_name=upload.file_name,
                    refresh=PROGRESS_REFRESH_SECONDS,
                    **progress_of(upload.progress, dt.datetime.now(dt.UTC)),
                ),
                user=user,
            )
        counts = result_counts(result, upload.progress)
        if "failed" in result:  # imported before 0.5: the failed rows are in the result
            shown: Iterable[dict[str, Any]] = result["failed"][:SHOWN_FAILURES]
        else:
            shown = await run_in_threadpool(
                lambda: list(
                    failed_rows(request.app.state.db, importer.failures, upload.id, SHOWN_FAILURES)
                )
            )
        failed = [
            {
                "line": item["line"],
                "errors": [
                    {"label": importer.field_label(name, locale), "message": message}
                    for name, message in item["errors"].items()
                ],
            }
            for item in shown
        ]
        return site.render(
            request,
            "import_result.html",
            site.entity_context(
                path,
                locale,
                upload=upload.id,
                file_name=upload.file_name,
                matched=bool(result.get("matched")),
                failed=failed,
                shown_failures=SHOWN_FAILURES,
                **counts,
            ),
            user=user,
        )

    async def failed_csv(request: Request) -> Response:
        opened = await open_upload(request)
        if isinstance(opened, Response):
            return opened
        importer, site, user, upload = opened
        result = upload.result
        if result is None:
            return site.error_page(request, 404, "import_gone", user)
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(upload.file_name).stem)[:60] or "import"
        failed: Iterable[dict[str, Any]] = result.get("failed") or failed_rows(
            request.app.state.db, importer.failures, upload.id, None
        )
        response = StreamingResponse(
            importer.failed_rows_csv(result.get("headers", []), failed, site.locale_of(request)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{stem}-failed.csv"'},
        )
        return secure(request, response)

    base = f"/{path}/import"
    return [
        Route(base, upload_page, methods=["GET", "POST"]),
        Route(base + "/{upload}", map_page, methods=["GET"]),
        Route(base + "/{upload}/preview", preview_page, methods=["GET"]),
        Route(base + "/{upload}/run", run_page, methods=["POST"]),
        Route(base + "/{upload}/result", result_page, methods=["GET"]),
        Route(base + "/{upload}/failed.csv", failed_csv, methods=["GET"]),
    ]


def routes() -> list[BaseRoute]:
    return []
