"""Documents saved on records: what a process's ``attach_document`` step does.

The step adds an outbox message of kind ``document`` (``{entity, record_id, document,
format, field}``) in the process's transaction, so nothing is made for a change that rolls
back and the record the process just wrote is committed when the document is made. The worker
delivers it with ``Deliverer`` (registered on the app's courier): it builds the document as
the print formats do (``crmgen_runtime.documents``, in the app's default language, as the
system, which reads every record), stores the file (``crmgen_runtime.files``) and saves it on
the record: in the file field ``field`` (an update of the record, audited, its processes run),
else among the record's attachments. A message delivered twice saves the file once (the same
name and content on the same record is taken as done); a record deleted meanwhile ends the
message (a permanent failure).
"""

from __future__ import annotations

import hashlib
import importlib
import io
from typing import Any

import sqlalchemy as sa

from crmgen_runtime import documents, files
from crmgen_runtime.db import Database
from crmgen_runtime.delivery import PermanentError
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.storage import Storage, from_settings
from crmgen_runtime.tables import StoredFileTable

KIND = "document"
# Who makes the documents: reads every record, as a superuser would.
SYSTEM = CurrentUser(0, "system", "system", frozenset(), superuser=True)


def message(
    entity: str, record_id: int, document: str, fmt: str, field: str | None
) -> dict[str, Any]:
    """The outbox payload of one ``attach_document`` step."""
    return {
        "entity": entity,
        "record_id": record_id,
        "document": document,
        "format": fmt,
        "field": field,
    }


def attach(site: Any, database: Database, storage: Storage, payload: dict[str, Any]) -> str:
    """Make the document ``payload`` names and save it on its record; the file's id."""
    from crmgen_runtime import writes
    from crmgen_runtime.web import print_formats

    catalog = site.catalog
    resource = catalog.by_name.get(str(payload.get("entity")))
    if resource is None:
        raise PermanentError(f"document: no entity {payload.get('entity')!r}")
    spec = next(
        (d for d in print_formats.served(site, resource.path) if d["name"] == payload["document"]),
        None,
    )
    fmt = str(payload.get("format") or "pdf")
    if spec is None or fmt not in documents.RENDERERS:
        raise PermanentError(f"document: {resource.name} has no document {payload['document']!r}")
    locale = site.default_locale
    reader = documents.Reader(
        SYSTEM, locale, lambda text: site.pick(text, locale), site.translator(locale)
    )
    record_id = int(payload["record_id"])
    try:
        doc = documents.build(database, resource, spec, record_id, reader)
    except ApiError as exc:
        raise PermanentError(f"document: {resource.name} {record_id}: {exc.message}") from None
    data = documents.RENDERERS[fmt](doc)
    name = files.clean_name(f"{doc.filename}.{fmt}")
    digest = hashlib.sha256(data).hexdigest()
    table: sa.Table = catalog.table(StoredFileTable).__table__
    field = payload.get("field")
    with database.session() as session:
        done = session.scalar(
            sa.select(table.c.id).where(
                table.c.entity == resource.name,
                table.c.record_id == record_id,
                table.c.name == name,
                table.c.sha256 == digest,
                table.c.kind.in_(["field", "attachment"]),
            )
        )
        if done is not None:
            return str(done)  # delivered before
        stored = files.store(storage, io.BytesIO(data), accept=(), limit=len(data) + 1)
        if field:
            files.insert(session, catalog, stored, name, None)
            writes.update_row(session, resource, record_id, {str(field): stored.id}, None, None)
        else:
            files.insert(
                session,
                catalog,
                stored,
                name,
                None,
                kind="attachment",
                entity=resource.name,
                record_id=record_id,
            )
    return stored.id


class Deliverer:
    """The courier's ``document`` kind for the app ``package``: its site (``PKG.web.core``),
    database and file storage (from its settings) are loaded on first use, in the worker."""

    def __init__(self, package: str) -> None:
        self.package = package
        self._parts: tuple[Any, Database, Storage] | None = None

    def __repr__(self) -> str:
        return f"Deliverer({self.package!r})"

    def parts(self) -> tuple[Any, Database, Storage]:
        if self._parts is None:
            site = importlib.import_module(f"{self.package}.web.core").SITE
            settings = importlib.import_module(f"{self.package}.settings").load_settings()
            database = Database(settings.database_url, **settings.engine_options)
            self._parts = (site, database, from_settings(settings))
        return self._parts

    def __call__(self, payload: dict[str, Any], key: str, timeout: float) -> None:
        site, database, storage = self.parts()
        try:
            attach(site, database, storage, payload)
        except ApiError as exc:  # the record refused the file (its rules, a stale version)
            raise PermanentError(f"document: {exc.message}") from None
