"""Files in the web UI: uploads in record forms, file fields and attachments on detail pages.

A form with a ``file`` or ``image`` field is sent as ``multipart/form-data``: ``form_pairs``
stores each chosen file (``<field>__upload``) as the API's ``POST /api/files`` would
(``crmgen_runtime.files``: type by content, size limit, thumbnail) and gives the form the new
file's id as the field's value; ``<field>__clear`` empties the field. A refused file is an error
on its field, in the user's language. The detail page shows a file field as a download link
(an image as its thumbnail) and, for an entity with ``attachments: true``, the record's files
with a form to attach one (``POST /<path>/<id>/attachments``) and a button to remove one
(``POST /<path>/<id>/attachments/<file>/delete``), both with the record's update rule. Links
point at the API's permission-checked downloads.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import audit, body_limit, files, sniff
from crmgen_runtime.db import Database
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import Resource
from crmgen_runtime.storage import Storage, from_settings
from crmgen_runtime.tables import StoredFileTable
from crmgen_runtime.web.site import (
    CSRF_FIELD,
    MAX_FORM_BYTES,
    MAX_FORM_FIELDS,
    Translate,
    allowed,
    csrf_ok,
    fetch_record,
    read_pairs,
    redirect,
    site_of,
)

UPLOAD = "__upload"
CLEAR = "__clear"


def _message(t: Translate, exc: ApiError, limit: int) -> str:
    """What is wrong with a file, for people."""
    if isinstance(exc, files.FileRefused):
        accept = ", ".join(exc.accept) if exc.accept else t("file_any")
        return t("file_wrong_type").format(what=exc.kind, accept=accept)
    if exc.status == 413:
        return t("file_too_large").format(mb=f"{limit / files.MB:g}")
    if exc.code == "bad_image":
        return t("file_unreadable")
    if exc.code == "storage_unavailable":
        return t("file_unavailable")
    return exc.message


def _keep(
    database: Database, resource: Resource, stored: files.Stored, name: str, user: CurrentUser
) -> None:
    with database.session() as session:
        files.insert(session, resource.catalog, stored, name, user)


async def form_pairs(
    request: Request, resource: Resource, user: CurrentUser, t: Translate
) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The form's values (``site.read_pairs``), its uploads stored and named by their ids, and
    the errors of the files refused, by field."""
    infos = {info.name: info for info in files.file_fields(resource)}
    if not infos or not request.headers.get("content-type", "").startswith("multipart/"):
        return await read_pairs(request), {}
    settings = request.app.state.settings
    limits = {name: files.limit_bytes(info, settings) for name, info in infos.items()}
    total = sum(limits.values()) + MAX_FORM_BYTES
    declared = body_limit.declared_length(request.scope)
    if declared is not None and declared > total:
        raise ApiError(413, "too_large", f"The form is over {total} bytes.")
    body_limit.allow(request, total)
    storage = from_settings(settings)
    pairs: list[tuple[str, str]] = []
    errors: dict[str, str] = {}
    try:
        async with request.form(max_files=len(infos), max_fields=MAX_FORM_FIELDS) as form:
            pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
            if not csrf_ok(request, {CSRF_FIELD: str(form.get(CSRF_FIELD, ""))}):
                return pairs, {}  # the caller refuses the form
            for name, info in infos.items():
                if form.get(name + CLEAR) == "on":
                    pairs.append((name, ""))
                upload = form.get(name + UPLOAD)
                if not isinstance(upload, UploadFile) or not upload.filename:
                    continue
                try:
                    if upload.size is not None and upload.size > limits[name]:
                        raise ApiError(413, "too_large")
                    stored = await run_in_threadpool(
                        files.store,
                        storage,
                        upload.file,
                        accept=files.accepted(info),
                        limit=limits[name],
                        image=info.type == "image",
                    )
                except ApiError as exc:
                    errors[name] = _message(t, exc, limits[name])
                    continue
                await run_in_threadpool(
                    _keep, request.app.state.db, resource, stored, upload.filename, user
                )
                pairs.append((name, stored.id))
    except MultiPartException:
        raise ApiError(400, "bad_request", "The form cannot be read.") from None
    return pairs, errors


def value_of(meta: dict[str, Any], value: Any) -> dict[str, Any] | None:
    """A file field on the detail page: its stored file, or None for anything else."""
    if meta["type"] in files.FILE_TYPES and files.is_file_id(value):
        return {"kind": "file", "file": value, "image": meta["type"] == "image"}
    return None


def detail(
    database: Database, resource: Resource, record: dict[str, Any], user: CurrentUser
) -> dict[str, Any]:
    """What the detail page shows of the record's files: ``stored_files`` (its file fields'
    files by id) and ``attachments`` (None without ``attachments: true``)."""
    ids = [v for i in files.file_fields(resource) if files.is_file_id(v := record.get(i.name))]
    if not ids and not resource.attachments:
        return {"stored_files": {}, "attachments": None, "may_attach": False}
    table: sa.Table = resource.catalog.table(StoredFileTable).__table__  # type: ignore[attr-defined]
    with database.engine.connect() as connection:
        fields = connection.execute(sa.select(table).where(table.c.id.in_(ids))).mappings()
        stored = {row["id"]: _shown(dict(row)) for row in fields} if ids else {}
        attached = None
        if resource.attachments:
            rows = connection.execute(
                sa.select(table)
                .where(
                    table.c.entity == resource.name,
                    table.c.record_id == record["id"],
                    table.c.kind == "attachment",
                )
                .order_by(table.c.created_at, table.c.id)
            ).mappings()
            base = f"/api/{resource.path}/{record['id']}/attachments"
            attached = [_shown(dict(row), base) for row in rows]
    return {
        "stored_files": stored,
        "attachments": attached,
        "may_attach": resource.attachments and allowed(resource, user, "update"),
    }


def _shown(row: dict[str, Any], base: str = "/api/files") -> dict[str, Any]:
    shown = files.public(row, base)
    shown["inline"] = row["content_type"] in sniff.INLINE_SAFE
    shown["size_text"] = _size(int(row["size"]))
    return shown


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < files.MB:
        return f"{size / 1024:.0f} KB"
    return f"{size / files.MB:.1f} MB"


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    """Attaching and removing files on the detail page of an entity with attachments."""
    if not resource.attachments:
        return []
    from crmgen_runtime.web.records import show_detail

    async def _record(request: Request) -> tuple[Any, Any, Response | None]:
        site = site_of(request)
        user, stop = await site.guard(request, resource, "update")
        if stop is not None:
            return user, None, stop
        record = await run_in_threadpool(
            fetch_record, request.app.state.db, resource, user, request.path_params["id"], "update"
        )
        if record is None:
            return user, None, site.error_page(request, 404, "not_found", user)
        return user, record, None

    async def attach(request: Request) -> Response:
        site = site_of(request)
        user, record, stop = await _record(request)
        if stop is not None:
            return stop
        t = site.translator(site.locale_of(request))
        settings = request.app.state.settings
        limit = files.limit_bytes(None, settings)

        async def problem(text: str, status: int) -> Response:
            return await show_detail(
                request, path, resource, user, record, problem=text, status=status
            )

        declared = body_limit.declared_length(request.scope)
        if declared is not None and declared > limit + files.FORM_BYTES:
            return await problem(t("file_too_large").format(mb=f"{limit / files.MB:g}"), 413)
        body_limit.allow(request, limit + files.FORM_BYTES)
        storage: Storage = from_settings(settings)
        try:
            async with request.form(max_files=1, max_fields=5) as form:
                if not csrf_ok(request, {CSRF_FIELD: str(form.get(CSRF_FIELD, ""))}):
                    return site.error_page(request, 403, "csrf", user)
                upload = form.get("file")
                if not isinstance(upload, UploadFile) or not upload.filename:
                    return await problem(t("file_choose"), 400)
                if upload.size is not None and upload.size > limit:
                    raise ApiError(413, "too_large")
                stored = await run_in_threadpool(
                    files.store, storage, upload.file, accept=(), limit=limit
                )
                name = upload.filename
        except MultiPartException:
            return await problem(t("file_choose"), 400)
        except ApiError as exc:
            return await problem(_message(t, exc, limit), exc.status)
        ip = request.client.host if request.client else None

        def keep() -> None:
            with request.app.state.db.session() as session:
                row = files.insert(
                    session,
                    resource.catalog,
                    stored,
                    name,
                    user,
                    kind="attachment",
                    entity=resource.name,
                    record_id=record["id"],
                )
                audit.record(
                    session,
                    resource.catalog,
                    user=user,
                    ip=ip,
                    entity=resource.name,
                    record_id=record["id"],
                    action="update",
                    changes={"attachments": [None, row["name"]]},
                )

        await run_in_threadpool(keep)
        return redirect(request, f"/{path}/{record['id']}")

    async def remove(request: Request) -> Response:
        site = site_of(request)
        user, record, stop = await _record(request)
        if stop is not None:
            return stop
        pairs = await read_pairs(request)
        if not csrf_ok(request, dict(pairs)):
            return site.error_page(request, 403, "csrf", user)
        file_id = request.path_params["file"]
        ip = request.client.host if request.client else None

        def drop() -> bool:
            table: sa.Table = resource.catalog.table(StoredFileTable).__table__  # type: ignore[attr-defined]
            with request.app.state.db.session() as session:
                mine = sa.and_(
                    table.c.id == file_id,
                    table.c.entity == resource.name,
                    table.c.record_id == record["id"],
                    table.c.kind == "attachment",
                )
                name = session.scalar(sa.select(table.c.name).where(mine))
                if name is None:
                    return False
                files.orphan(session, table, mine)
                audit.record(
                    session,
                    resource.catalog,
                    user=user,
                    ip=ip,
                    entity=resource.name,
                    record_id=record["id"],
                    action="update",
                    changes={"attachments": [name, None]},
                )
            return True

        if not await run_in_threadpool(drop):
            return site.error_page(request, 404, "not_found", user)
        return redirect(request, f"/{path}/{record['id']}")

    return [
        Route(f"/{path}/{{id:int}}/attachments", attach, methods=["POST"]),
        Route(f"/{path}/{{id:int}}/attachments/{{file}}/delete", remove, methods=["POST"]),
    ]
