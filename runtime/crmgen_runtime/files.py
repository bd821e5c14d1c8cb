"""Uploaded files: the ``file`` and ``image`` fields' uploads and the records' attachments.

An upload is stored whole in the app's storage (``crmgen_runtime.storage``) under a random id,
with a row in ``crm_files`` (``tables.StoredFileTable``) saying what it is: its type comes from
its bytes (``sniff``), never from its name, and images get a bounded thumbnail
(``thumbnails``). The routes, below ``/api``:

- ``POST /files`` (multipart field ``file``; ``?field=<path>.<name>`` checks the field's
  ``accept`` and ``max_size_mb`` at once) answers the file (``id``, ``name``, ``content_type``,
  ``size``) for a JSON client to put in a ``file`` field: ``PATCH /api/contacts/5
  {"photo": "<id>"}``. Only its uploader may use it; one not used within a day is deleted.
- ``GET /files/{id}`` downloads a file (``/thumbnail``: its image thumbnail) to whoever may
  read it: its uploader before it is used, afterwards whoever may read the record and the
  field (any other user gets 404).
- For an entity with ``attachments: true``: ``GET|POST /<path>/{id}/attachments`` lists and
  adds (the record's update rule) a record's files, ``GET|DELETE
  /<path>/{id}/attachments/{file}`` downloads and removes one.

A download is ``Content-Disposition: attachment`` (the name encoded per RFC 6266) with
``X-Content-Type-Options: nosniff`` and a sandboxing CSP; only a thumbnail or a preview of a
raster image (``sniff.INLINE_SAFE``) is sent inline. A file over its limit is refused with 413
before its body is read past the limit (``body_limit``); one of another type with 415.

A field's value is the id of its file, or (kept from before files were stored, or given so) a
web address, shown as an external link. Writes claim the uploaded file for the record
(``claim``: called by ``writes``); a replaced file and the files of a deleted record become
orphans that the next uploads sweep away.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from crmgen_runtime import audit, body_limit, permissions, sniff, thumbnails
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError, not_found
from crmgen_runtime.principal import CurrentUser, user_of
from crmgen_runtime.reads import fetch_one, signed_in
from crmgen_runtime.resources import Catalog, FieldInfo, Resource
from crmgen_runtime.responses import JSONResponse
from crmgen_runtime.storage import Storage, StorageError, from_settings
from crmgen_runtime.tables import StoredFileTable, utcnow

FILE_TYPES = frozenset({"file", "image"})
ID = re.compile(r"[A-Za-z0-9_-]{22}")
FORM_BYTES = 64 * 1024  # the multipart envelope and small fields around the file
MB = 1024 * 1024
ORPHAN_HOURS = 24  # an upload nobody used (or a replaced file) is deleted after this long
SWEEP_ROWS = 20  # orphans deleted per upload at most
NAME_MAX = 255
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


def new_id() -> str:
    return secrets.token_urlsafe(16)  # 22 characters


def is_file_id(value: Any) -> bool:
    return isinstance(value, str) and bool(ID.fullmatch(value))


def file_fields(resource: Resource) -> list[FieldInfo]:
    return [info for info in resource.fields.values() if info.type in FILE_TYPES]


def uses_files(catalog: Catalog) -> bool:
    """Whether the app stores files (a ``file`` or ``image`` field, or attachments)."""
    return any(r.attachments or file_fields(r) for r in catalog.by_name.values())


def accepted(info: FieldInfo | None) -> tuple[str, ...]:
    """The types a field takes: its ``accept``, an image field's default the raster images."""
    if info is None:
        return ()
    accept = tuple(info.options.get("accept", ()))
    if not accept and info.type == "image":
        return sniff.IMAGE_TYPES
    return accept


def limit_bytes(info: FieldInfo | None, settings: Any) -> int:
    """The largest file a field (None: an attachment) takes, in bytes."""
    size = info.options.get("max_size_mb") if info is not None else None
    return int(float(size or settings.attachment_max_mb) * MB)


def clean_name(name: str) -> str:
    """A file name as kept and shown: no folders, no control characters, at most 255."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip() or "file"
    if len(name) > NAME_MAX:
        _stem, dot, ext = name.rpartition(".")
        keep = ext if dot and len(ext) <= 16 else ""
        name = name[: NAME_MAX - len(keep) - 1] + ("." + keep if keep else "")
    return name[:NAME_MAX]


def disposition(kind: str, name: str) -> str:
    """A ``Content-Disposition`` header that no file name can break (RFC 6266 / 5987)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;%' else "_" for c in name)
    return f"{kind}; filename=\"{fallback or 'file'}\"; filename*=UTF-8''{quote(name, safe='')}"


def public(row: Mapping[str, Any], base: str = "/api/files") -> dict[str, Any]:
    """A file as the API shows it."""
    created = row.get("created_at")
    return {
        "id": row["id"],
        "name": row["name"],
        "content_type": row["content_type"],
        "size": row["size"],
        "sha256": row["sha256"],
        "thumbnail": f"{base}/{row['id']}/thumbnail" if row.get("thumbnail") else None,
        "url": f"{base}/{row['id']}",
        "created_at": created.isoformat() if created is not None else None,
    }


def _table(catalog: Catalog) -> sa.Table:
    table: sa.Table = catalog.table(StoredFileTable).__table__  # type: ignore[attr-defined]
    return table


# --- storing an upload ---------------------------------------------------------------------------


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"The file is over {limit / MB:g} MB, the limit here.")


class FileRefused(ApiError):
    """A file of a type its field or the attachments refuse (415): ``kind`` is its type."""

    def __init__(self, kind: str, accept: tuple[str, ...]) -> None:
        what = sniff.describe(kind)
        wanted = ", ".join(accept) if accept else "any file but a program"
        super().__init__(
            415,
            "unsupported_type",
            f"The file is {what} (by its content, whatever its name): this takes {wanted}.",
            {"file": f"Not an accepted type: {what}."},
        )
        self.kind = kind
        self.accept = accept


def _refused(kind: str, accept: tuple[str, ...]) -> ApiError:
    return FileRefused(kind, accept)


@dataclass
class Stored:
    """What ``store`` learned of a file while keeping it."""

    id: str
    content_type: str
    size: int
    sha256: str
    thumbnail: bool


def store(
    storage: Storage,
    source: IO[bytes],
    *,
    accept: tuple[str, ...],
    limit: int,
    image: bool = False,
) -> Stored:
    """Check ``source`` (its type from its bytes, its size) and keep it in ``storage`` with its
    thumbnail; 413 over ``limit``, 415 for a type ``accept`` refuses, 422 for an ``image``
    that does not decode."""
    source.seek(0)
    head = source.read(sniff.HEAD_BYTES)
    kind = sniff.content_type(head)
    source.seek(0)
    if kind == "application/zip":
        kind = sniff.zip_type(source)
        source.seek(0)
    if not sniff.accepts(accept, kind):
        raise _refused(kind, accept)
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(256 * 1024):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        digest.update(chunk)
    source.seek(0)
    thumb = None
    if kind in sniff.INLINE_SAFE:
        try:
            thumb = thumbnails.make(source)
        except thumbnails.NotAnImage as exc:
            if image:
                raise ApiError(
                    422, "bad_image", f"The image cannot be read: {exc}", {"file": str(exc)}
                ) from None
        source.seek(0)
    elif image:
        raise _refused(kind, accept or sniff.IMAGE_TYPES)
    file_id = new_id()
    try:
        storage.put(file_id, source)
        if thumb is not None:
            storage.put(file_id + ".thumb", thumb)
    except StorageError as exc:
        raise ApiError(503, "storage_unavailable", f"The file cannot be stored: {exc}") from exc
    return Stored(file_id, kind, size, digest.hexdigest(), thumb is not None)


def insert(
    session: Session,
    catalog: Catalog,
    stored: Stored,
    name: str,
    user: CurrentUser | None,
    *,
    kind: str = "upload",
    entity: str | None = None,
    record_id: int | None = None,
    field: str | None = None,
) -> dict[str, Any]:
    """The row of a stored file, in the session's transaction."""
    row = {
        "id": stored.id,
        "name": clean_name(name),
        "content_type": stored.content_type,
        "size": stored.size,
        "sha256": stored.sha256,
        "thumbnail": stored.thumbnail,
        "kind": kind,
        "entity": entity,
        "record_id": record_id,
        "field": field,
        "user_id": user.id if user is not None else None,
        "created_at": utcnow(),
    }
    session.execute(sa.insert(_table(catalog)).values(**row))
    return row


def sweep(database: Database, catalog: Catalog, storage: Storage) -> None:
    """Delete a few orphans (uploads never used, replaced files) older than a day."""
    table = _table(catalog)
    cutoff = utcnow().timestamp() - ORPHAN_HOURS * 3600
    import datetime as dt

    moment = dt.datetime.fromtimestamp(cutoff, dt.UTC)
    with database.session() as session:
        ids = session.scalars(
            sa.select(table.c.id)
            .where(table.c.kind == "upload", table.c.created_at < moment)
            .limit(SWEEP_ROWS)
        ).all()
        if ids:
            session.execute(sa.delete(table).where(table.c.id.in_(ids)))
    for file_id in ids:
        try:
            storage.delete(file_id)
            storage.delete(file_id + ".thumb")
        except StorageError:
            pass  # an orphan blob: harmless


# --- claiming uploads for a record's fields (called by writes) -------------------------------------


def claim(
    session: Session,
    resource: Resource,
    record_id: int,
    values: Mapping[str, Any],
    user: CurrentUser | None,
    stored: Mapping[str, Any] | None = None,
) -> None:
    """Give the files named in ``values``' file fields to the record (422 for an id that is
    not an upload of ``user``'s, or a file of a type or size the field refuses); the files
    they replace become orphans."""
    infos = [i for i in file_fields(resource) if i.name in values]
    if not infos:
        return
    table = _table(resource.catalog)
    problems: dict[str, str] = {}
    for info in infos:
        new = values[info.name]
        old = (stored or {}).get(info.name)
        if new == old:
            continue
        if is_file_id(old):
            orphan(session, table, sa.and_(table.c.id == old))
        if not is_file_id(new):
            continue
        row = session.execute(sa.select(table).where(table.c.id == new)).mappings().first()
        mine = (
            row is not None
            and row["kind"] == "upload"
            and (row["user_id"] == user.id if user is not None else True)
        )
        if row is None or not mine:
            problems[info.name] = "No such uploaded file: upload it first (POST /api/files)."
            continue
        accept = accepted(info)
        if not sniff.accepts(accept, row["content_type"]):
            what = sniff.describe(row["content_type"])
            problems[info.name] = f"The file is {what}: this field takes {', '.join(accept)}."
            continue
        size = info.options.get("max_size_mb")
        if size is not None and row["size"] > float(size) * MB:
            problems[info.name] = f"The file is over {float(size):g} MB."
            continue
        session.execute(
            sa.update(table)
            .where(table.c.id == new)
            .values(kind="field", entity=resource.name, record_id=record_id, field=info.name)
        )
    if problems:
        raise ApiError(422, "validation_error", "Some fields are invalid.", problems)


def orphan(session: Session, table: sa.Table, where: sa.ColumnElement[bool]) -> None:
    session.execute(
        sa.update(table)
        .where(where)
        .values(kind="upload", entity=None, record_id=None, field=None, user_id=None)
        .values(created_at=utcnow())
    )


def forget(session: Session, resource: Resource, record_id: int) -> None:
    """The files of a deleted record become orphans (its attachments and fields' files)."""
    table = _table(resource.catalog)
    orphan(session, table, sa.and_(table.c.entity == resource.name, table.c.record_id == record_id))


# --- reading -------------------------------------------------------------------------------------


def _readable_row(
    connection: sa.Connection, catalog: Catalog, user: CurrentUser, file_id: str
) -> dict[str, Any]:
    """The row of ``file_id`` when ``user`` may read it, else 404."""
    if not is_file_id(file_id):
        raise not_found("file")
    table = _table(catalog)
    row = connection.execute(sa.select(table).where(table.c.id == file_id)).mappings().first()
    if row is None:
        raise not_found("file")
    found = dict(row)
    if found["kind"] == "upload":
        if found["user_id"] is None or found["user_id"] != user.id:
            raise not_found("file")
        return found
    resource = catalog.by_name.get(found["entity"] or "")
    if resource is None or not _may_read(connection, resource, user, found):
        raise not_found("file")
    return found


def _may_read(
    connection: sa.Connection, resource: Resource, user: CurrentUser, row: Mapping[str, Any]
) -> bool:
    try:
        permissions.require(resource, user, "read")
    except ApiError:
        return False
    record = fetch_one(connection, resource, user, int(row["record_id"]))
    if record is None:
        return False
    if row["kind"] == "field":
        name = row["field"] or ""
        return name in permissions.readable(resource, user) and record.get(name) == row["id"]
    return resource.attachments


def _send(storage: Storage, row: Mapping[str, Any], *, inline: bool, thumb: bool) -> Response:
    if thumb:
        if not row["thumbnail"]:
            raise not_found("thumbnail")
        key, media, kind = row["id"] + ".thumb", thumbnails.MEDIA_TYPE, "inline"
    else:
        key, media = row["id"], row["content_type"]
        kind = "inline" if inline and media in sniff.INLINE_SAFE else "attachment"
    try:
        chunks = storage.chunks(key)
        first = next(chunks, b"")
    except StorageError as exc:
        raise ApiError(503, "storage_unavailable", f"The file cannot be read: {exc}") from exc

    def body() -> Iterator[bytes]:
        yield first
        yield from chunks

    headers = {
        "Content-Disposition": disposition(kind, row["name"]),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=0, must-revalidate",
    }
    if not thumb:
        headers["Content-Length"] = str(row["size"])
    return StreamingResponse(body(), media_type=media, headers=headers)


def _user(request: Request) -> CurrentUser:
    return signed_in(user_of(request))


def _storage(request: Request) -> Storage:
    return from_settings(request.app.state.settings)


async def _upload(request: Request, limit: int) -> tuple[str, IO[bytes]]:
    """The multipart field ``file`` of the request: its name and its (spooled) content; 413
    when the body is over ``limit`` (read no further than that)."""
    declared = body_limit.declared_length(request.scope)
    if declared is not None and declared > limit + FORM_BYTES:
        raise _too_large(limit)
    body_limit.allow(request, limit + FORM_BYTES)
    try:
        form = await request.form(max_files=1, max_fields=5)
    except MultiPartException as exc:
        raise ApiError(400, "bad_request", f"Not a multipart upload: {exc.message}") from None
    except ApiError as exc:
        if exc.status == 413:
            raise _too_large(limit) from None
        raise
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        await form.close()
        raise ApiError(
            400, "bad_request", "Send the file as the multipart field 'file'.", {"file": "Missing."}
        )
    if upload.size is not None and upload.size > limit:
        await form.close()
        raise _too_large(limit)
    request.state.crm_upload_form = form  # closed by the caller (its temporary file)
    return upload.filename, upload.file


async def _close(request: Request) -> None:
    form = getattr(request.state, "crm_upload_form", None)
    if form is not None:
        await form.close()


# --- routes --------------------------------------------------------------------------------------


def _field_of(catalog: Catalog, target: str) -> FieldInfo:
    path, _, name = target.partition(".")
    resource = catalog.resources.get(path)
    info = resource.fields.get(name) if resource is not None else None
    if info is None or info.type not in FILE_TYPES:
        raise ApiError(
            400, "bad_request", f"No file field {target!r} (give <entity path>.<field>)."
        )
    return info


async def upload_file(request: Request) -> Response:
    """``POST /api/files``: an upload for a file field, answered with its id."""
    catalog: Catalog = request.app.state.catalog
    settings = request.app.state.settings
    user = _user(request)
    target = request.query_params.get("field")
    info = _field_of(catalog, target) if target else None
    limit = limit_bytes(info, settings) if info is not None else _largest(catalog, settings)
    name, source = await _upload(request, limit)
    storage = _storage(request)
    try:
        stored = await run_in_threadpool(
            store,
            storage,
            source,
            accept=accepted(info),
            limit=limit,
            image=info is not None and info.type == "image",
        )
    finally:
        await _close(request)
    database: Database = request.app.state.db

    def keep() -> dict[str, Any]:
        with database.session() as session:
            row = insert(session, catalog, stored, name, user)
        sweep(database, catalog, storage)
        return public(row)

    return JSONResponse(await run_in_threadpool(keep), status_code=201)


def _largest(catalog: Catalog, settings: Any) -> int:
    sizes = [limit_bytes(i, settings) for r in catalog.by_name.values() for i in file_fields(r)]
    return max(sizes or [limit_bytes(None, settings)])


async def download(request: Request) -> Response:
    """``GET /api/files/{file}`` (``/thumbnail``): a file to whoever may read it."""
    catalog: Catalog = request.app.state.catalog
    database: Database = request.app.state.db
    user = _user(request)
    file_id = request.path_params["file"]

    def find() -> dict[str, Any]:
        with database.engine.connect() as connection:
            return _readable_row(connection, catalog, user, file_id)

    row = await run_in_threadpool(find)
    thumb = request.url.path.endswith("/thumbnail")
    inline = request.query_params.get("inline") == "1"
    return await run_in_threadpool(_send, _storage(request), row, inline=inline, thumb=thumb)


def _record_id(request: Request) -> int:
    from crmgen_runtime.crud import record_id_of

    return record_id_of(request)


def attachment_routes(resource: Resource) -> list[BaseRoute]:
    """``/<path>/{id}/attachments`` and ``/<path>/{id}/attachments/{file}``."""
    catalog = resource.catalog
    base = f"/{resource.path}/" + "{id}/attachments"

    def readable_record(connection: sa.Connection, user: CurrentUser, record_id: int) -> None:
        try:
            permissions.require(resource, user, "read")
        except ApiError:
            raise not_found(resource.label) from None
        if fetch_one(connection, resource, user, record_id) is None:
            raise not_found(resource.label)

    def updatable(session: Session, user: CurrentUser, record_id: int) -> None:
        """404 when ``user`` may not read the record, 403 when they may not change it."""
        readable_record(session.connection(), user, record_id)
        rule = permissions.condition(resource, user, "update")  # 403 without the action
        model = resource.model
        found = session.execute(
            sa.select(model.id).where(model.id == record_id, *([] if rule is None else [rule]))
        ).first()
        if found is None:
            raise ApiError(403, "forbidden", f"You may not change this {resource.label}.")

    def listing(database: Database, user: CurrentUser, record_id: int) -> dict[str, Any]:
        table = _table(catalog)
        with database.engine.connect() as connection:
            readable_record(connection, user, record_id)
            rows = connection.execute(
                sa.select(table)
                .where(
                    table.c.entity == resource.name,
                    table.c.record_id == record_id,
                    table.c.kind == "attachment",
                )
                .order_by(table.c.created_at, table.c.id)
            ).mappings()
            prefix = f"/api/{resource.path}/{record_id}/attachments"
            return {"items": [public(dict(row), prefix) for row in rows]}

    async def collection(request: Request) -> Response:
        database: Database = request.app.state.db
        user = _user(request)
        record_id = _record_id(request)
        if request.method == "GET":
            return JSONResponse(await run_in_threadpool(listing, database, user, record_id))

        def check() -> None:
            with database.session() as session:
                updatable(session, user, record_id)

        await run_in_threadpool(check)  # before the body is read
        limit = limit_bytes(None, request.app.state.settings)
        name, source = await _upload(request, limit)
        storage = _storage(request)
        try:
            stored = await run_in_threadpool(store, storage, source, accept=(), limit=limit)
        finally:
            await _close(request)
        ip = request.client.host if request.client else None

        def keep() -> dict[str, Any]:
            with database.session() as session:
                updatable(session, user, record_id)
                row = insert(
                    session,
                    catalog,
                    stored,
                    name,
                    user,
                    kind="attachment",
                    entity=resource.name,
                    record_id=record_id,
                )
                audit.record(
                    session,
                    catalog,
                    user=user,
                    ip=ip,
                    entity=resource.name,
                    record_id=record_id,
                    action="update",
                    changes={"attachments": [None, row["name"]]},
                )
            return public(row, f"/api/{resource.path}/{record_id}/attachments")

        found = await run_in_threadpool(keep)
        return JSONResponse(found, status_code=201, headers={"Location": found["url"]})

    def attached(connection: sa.Connection, user: CurrentUser, record_id: int, file_id: str) -> Any:
        readable_record(connection, user, record_id)
        table = _table(catalog)
        row = (
            connection.execute(
                sa.select(table).where(
                    table.c.id == file_id,
                    table.c.entity == resource.name,
                    table.c.record_id == record_id,
                    table.c.kind == "attachment",
                )
            )
            .mappings()
            .first()
            if is_file_id(file_id)
            else None
        )
        if row is None:
            raise not_found("attachment")
        return dict(row)

    async def item(request: Request) -> Response:
        database: Database = request.app.state.db
        user = _user(request)
        record_id = _record_id(request)
        file_id = request.path_params["file"]
        if request.method == "GET":

            def find() -> Any:
                with database.engine.connect() as connection:
                    return attached(connection, user, record_id, file_id)

            row = await run_in_threadpool(find)
            thumb = request.url.path.endswith("/thumbnail")
            inline = request.query_params.get("inline") == "1"
            return await run_in_threadpool(
                _send, _storage(request), row, inline=inline, thumb=thumb
            )
        ip = request.client.host if request.client else None

        def remove() -> None:
            table = _table(catalog)
            with database.session() as session:
                row = attached(session.connection(), user, record_id, file_id)
                updatable(session, user, record_id)
                orphan(session, table, table.c.id == file_id)
                audit.record(
                    session,
                    catalog,
                    user=user,
                    ip=ip,
                    entity=resource.name,
                    record_id=record_id,
                    action="update",
                    changes={"attachments": [row["name"], None]},
                )

        await run_in_threadpool(remove)
        return Response(status_code=204)

    name = f"{resource.path}_attachments"
    return [
        Route(base, collection, methods=["GET", "POST"], name=name),
        Route(base + "/{file}", item, methods=["GET", "DELETE"], name=name + "_item"),
        Route(base + "/{file}/thumbnail", item, methods=["GET"], name=name + "_thumbnail"),
    ]


def routes(catalog: Catalog) -> list[BaseRoute]:
    """The file routes below ``/api`` of an app that stores files (none otherwise)."""
    if not uses_files(catalog):
        return []
    found: list[BaseRoute] = [
        Route("/files", upload_file, methods=["POST"], name="files_upload"),
        Route("/files/{file}", download, methods=["GET"], name="files_download"),
        Route("/files/{file}/thumbnail", download, methods=["GET"], name="files_thumbnail"),
    ]
    for resource in catalog.by_name.values():
        if resource.attachments and "read" in resource.actions:
            found.extend(attachment_routes(resource))
    return found
