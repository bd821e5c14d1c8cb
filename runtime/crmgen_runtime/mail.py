"""E-mail from a record: the spec's templates, sending through the outbox, and the log that puts
every e-mail on the timelines of the records it is about.

An app whose spec has ``email_templates`` (or an ``imap`` integration) makes one ``RecordMail``
over its catalog and outbox. ``send`` renders a template (``EmailTemplate``: subject and body
per locale, sandboxed Jinja over the record's fields the sender may read, ``user`` and
``today``), adds the message to the outbox and logs it (``EmailLogTable``) in one transaction:
on the record it was sent from and on every contact (``contacts``: entity and e-mail field)
whose address it goes to. Processes log the e-mails they send the same way (``log_out``, called
by ``crmgen_runtime.processes.Run.email``); the ``imap`` integration's job logs incoming mail
(``crmgen_runtime.inbox``). ``of(catalog)`` finds an app's ``RecordMail`` (None: the app logs
no mail), which is how the web UI's timeline and compose page find it.

``routes()`` (below ``/api``): ``GET /<plural>/{id}/emails`` (the record's logged e-mails, for
every reader of the record) and ``POST /<plural>/{id}/emails`` (send one: ``template`` or
``subject`` and ``body``, optional ``to`` and ``locale``; needs a role with ``send_email``).
"""

from __future__ import annotations

import os
import re
import uuid
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import getaddresses
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import params, permissions
from crmgen_runtime.crud import record_id_of
from crmgen_runtime.db import Database
from crmgen_runtime.entities import field_value
from crmgen_runtime.errors import ApiError, not_found
from crmgen_runtime.outbox import Outbox, iso
from crmgen_runtime.principal import CurrentUser, user_of
from crmgen_runtime.reads import fetch_one
from crmgen_runtime.resources import Catalog, Resource
from crmgen_runtime.responses import JSONResponse, parse_json
from crmgen_runtime.tables import EmailLogTable, OutboxMessageTable, utcnow

ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+")
MAX_RECIPIENTS = 20
SUBJECT_MAX = 998
BODY_MAX = 100_000
TEXT_MAX = 2000  # recipients and sender as stored
INPUT_KEYS = frozenset({"template", "to", "subject", "body", "locale"})

_APPS: weakref.WeakKeyDictionary[Catalog, RecordMail] = weakref.WeakKeyDictionary()


def of(catalog: Catalog) -> RecordMail | None:
    """The app's ``RecordMail``, or None when its spec logs no mail."""
    return _APPS.get(catalog)


@dataclass(frozen=True)
class EmailTemplate:
    """An e-mail template of the spec for the records of ``entity``: ``subject`` and ``body``
    are texts by locale (sandboxed Jinja over the record's fields, ``user`` and ``today``);
    ``to`` is the field path of the recipient's address (``email``, ``contact.email``)."""

    name: str
    entity: str
    label: Mapping[str, str]
    subject: Mapping[str, str]
    body: Mapping[str, str]
    to: str | None = None


def pick(text: Mapping[str, str], locale: str | None, default: str) -> str:
    """The text of ``locale``, else of the app's default locale, else any."""
    for key in (locale, default, "*"):
        if key is not None and text.get(key):
            return text[key]
    return next(iter(text.values()), "")


def addresses(value: Any) -> list[str]:
    """The e-mail addresses in ``value`` (a text with one or more, or a list of them)."""
    raw = value if isinstance(value, (list, tuple)) else [value]
    found = getaddresses([str(v) for v in raw if v])
    return [address for _, address in found if address and ADDRESS.fullmatch(address)]


def _plain(text: str) -> str:
    return " ".join(text.split())


@dataclass
class RecordMail:
    """One app's e-mail log and its templates.

    ``recipients``: entity -> the field path of its records' own address (the default
    recipient); ``contacts``: (entity, e-mail field) whose records an address is matched
    against, case-insensitively; ``send_roles``: the roles that may send (superusers may);
    ``integration``: the smtp integration to send through (None: the only one, or SMTP_URL).
    """

    catalog: Catalog
    outbox: Outbox
    templates: Mapping[str, EmailTemplate] = field(default_factory=dict)
    recipients: Mapping[str, str] = field(default_factory=dict)
    contacts: tuple[tuple[str, str], ...] = ()
    send_roles: frozenset[str] = frozenset()
    integration: str | None = None

    def __post_init__(self) -> None:
        _APPS[self.catalog] = self

    def __hash__(self) -> int:
        return id(self)

    @property
    def model(self) -> type[EmailLogTable]:
        return self.catalog.table(EmailLogTable)

    @property
    def entities(self) -> frozenset[str]:
        """The entities whose records have e-mails: those with templates and the contacts."""
        return frozenset(self.recipients) | {e for e, _ in self.contacts}

    def may_send(self, user: CurrentUser | None) -> bool:
        """Whether ``user``'s role may send e-mail from a record it may read."""
        if user is None:
            return False
        return self.catalog.is_superuser(user) or bool(user.roles & self.send_roles)

    def templates_for(self, entity: str) -> list[EmailTemplate]:
        return [t for t in self.templates.values() if t.entity == entity]

    # --- who an e-mail goes to -------------------------------------------------------------

    def sender(self) -> str:
        """The From address the outbox will send with (as shown on the timeline)."""
        found = self.outbox.courier.integration(self.integration, "email", "smtp")
        value = found.get("sender") if found is not None else None
        return str(value or os.environ.get("MAIL_FROM") or self.catalog.config.name)

    def default_to(self, record: Any, resource: Resource, template: EmailTemplate | None) -> str:
        """The address of the record's default recipient ('' when it has none)."""
        path = (template.to if template else None) or self.recipients.get(resource.name)
        value: Any = record
        for part in (path or "").split("."):
            if value is None or not part:
                return ""
            try:
                value = field_value(value, part)
            except AttributeError:
                return ""
        return str(value or "") if path else ""

    def matching(self, session: Session, address: str) -> list[tuple[str, int]]:
        """The live contacts whose e-mail is ``address`` (case-insensitive): (entity, id)."""
        found: list[tuple[str, int]] = []
        for entity, name in self.contacts:
            resource = self.catalog.by_name.get(entity)
            if resource is None:
                continue
            column = resource.attribute(name)
            stmt = sa.select(resource.model.id).where(
                sa.func.lower(column) == address.strip().lower()
            )
            if resource.soft_delete:
                stmt = stmt.where(resource.model.deleted_at.is_(None))
            found += [(entity, int(i)) for i in session.scalars(stmt.order_by(resource.model.id))]
        return found

    # --- the log ---------------------------------------------------------------------------

    def insert(self, session: Session, rows: list[dict[str, Any]]) -> int:
        """Add log rows; a row whose (entity, record_id, message_id) is logged already is left
        out. Returns how many were added."""
        if not rows:
            return 0
        table: sa.Table = self.model.__table__  # type: ignore[attr-defined]
        dialect = session.get_bind().dialect.name
        added = 0
        for row in rows:
            if dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                stmt: Any = pg_insert(table).values(**row).on_conflict_do_nothing()
            elif dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as sqlite_insert

                stmt = sqlite_insert(table).values(**row).on_conflict_do_nothing()
            else:  # pragma: no cover - the app runs on SQLite and PostgreSQL
                stmt = sa.insert(table).values(**row)
            added += len(session.execute(stmt.returning(table.c.id)).all())
        return added

    def log_out(
        self,
        session: Session,
        *,
        about: tuple[str, int] | None,
        to: Iterable[str],
        subject: str,
        body: str,
        outbox_key: str,
        template: str | None = None,
        process: str | None = None,
        user: CurrentUser | None = None,
    ) -> int:
        """Log an e-mail queued in the outbox (key ``outbox_key``) on the record it is about
        (when its entity has e-mails: ``entities``) and on every contact it goes to; returns
        the number of rows."""
        listed = [a for a in to if a]
        targets: list[tuple[str, int]] = []
        if about is not None and about[0] in self.entities:  # a contact, deal, lead...
            targets.append(about)
        for address in listed:
            for found in self.matching(session, address):
                if found not in targets:
                    targets.append(found)
        base = {
            "direction": "out",
            "at": utcnow(),
            "sender": self.sender()[:TEXT_MAX],
            "recipients": ", ".join(listed)[:TEXT_MAX],
            "subject": subject[:SUBJECT_MAX],
            "body": body[:BODY_MAX],
            "template": template,
            "process": process,
            "user_id": user.id if user else None,
            "user_email": user.email if user else None,
            "outbox_key": outbox_key,
            "message_id": None,
        }
        return self.insert(session, [{**base, "entity": e, "record_id": i} for e, i in targets])

    def statuses(self, session: Session, keys: set[str]) -> dict[str, str]:
        """The outbox status of each message key (pending, sent, dead)."""
        if not keys:
            return {}
        model = self.catalog.table(OutboxMessageTable)
        rows = session.execute(
            sa.select(model.idempotency_key, model.status).where(
                model.idempotency_key.in_(sorted(keys))
            )
        ).all()
        return {str(k): str(s) for k, s in rows}

    def entries(
        self, session: Session, entity: str, record_id: int, limit: int, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the record's e-mails as JSON, newest first, and how many it has."""
        model = self.model
        where = (model.entity == entity, model.record_id == record_id)
        total = session.scalar(sa.select(sa.func.count(model.id)).where(*where)) or 0
        rows = session.scalars(
            sa.select(model)
            .where(*where)
            .order_by(model.at.desc(), model.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        status = self.statuses(session, {r.outbox_key for r in rows if r.outbox_key})
        items = [describe(row, status) for row in rows]
        return items, int(total)

    # --- composing and sending -------------------------------------------------------------

    def names(
        self, session: Session, resource: Resource, record: Any, user: CurrentUser
    ) -> dict[str, Any]:
        """What a template sees: the fields of ``record`` the user may read, ``user`` (the
        sender's User record) and ``today``."""
        readable = permissions.readable(resource, user)
        names: dict[str, Any] = {}
        for name in resource.fields:
            if name in readable:
                try:
                    names[name] = field_value(record, name)
                except AttributeError:
                    continue
        names["id"] = record.id
        names["user"] = session.get(self.catalog.by_name["User"].model, user.id)
        names["today"] = self.catalog.config.clock.today().isoformat()
        return names

    def compose(
        self,
        session: Session,
        resource: Resource,
        record: Any,
        user: CurrentUser,
        template: EmailTemplate | None,
        locale: str | None,
    ) -> dict[str, str]:
        """The e-mail ``template`` makes of ``record`` (to, subject, body); empty without one."""
        from crmgen_runtime.processes import template as compiled

        to = self.default_to(record, resource, template)
        if template is None:
            return {"to": to, "subject": "", "body": ""}
        names = self.names(session, resource, record, user)
        default = self.catalog.config.default_locale
        subject = compiled(pick(template.subject, locale, default), html=False).render(names)
        body = compiled(pick(template.body, locale, default), html=False).render(names)
        return {"to": to, "subject": _plain(subject), "body": body}

    def template_of(self, resource: Resource, name: Any) -> EmailTemplate | None:
        if name is None or name == "":
            return None
        found = self.templates.get(str(name))
        if found is None or found.entity != resource.name:
            names = ", ".join(t.name for t in self.templates_for(resource.name)) or "none"
            message = (
                f"No e-mail template {str(name)[:64]!r} for {resource.label} (known: {names})."
            )
            raise ApiError(422, "validation_error", message, {"template": message})
        return found

    def check(self, data: Any) -> dict[str, Any]:
        """The request's fields, checked (422 naming the field otherwise)."""
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_json", "Send a JSON object.")
        unknown = sorted(set(data) - INPUT_KEYS)
        if unknown:
            message = f"Unknown field {unknown[0][:64]!r} (known: {', '.join(sorted(INPUT_KEYS))})."
            raise ApiError(422, "validation_error", message, {unknown[0][:64]: message})
        for key in ("template", "subject", "body", "locale"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ApiError(
                    422, "validation_error", f"{key} must be text.", {key: "must be text"}
                )
        to = data.get("to")
        if to is not None and not (
            isinstance(to, str) or (isinstance(to, list) and all(isinstance(t, str) for t in to))
        ):
            message = "to must be an e-mail address or a list of them."
            raise ApiError(422, "validation_error", message, {"to": message})
        return data

    def send(
        self,
        database: Database,
        resource: Resource,
        user: CurrentUser,
        record_id: int,
        data: dict[str, Any],
    ) -> dict[str, Any]:
        """Send an e-mail from record ``record_id`` (see the module's docstring): queued in the
        outbox and logged, in one transaction; the logged e-mail as JSON."""
        permissions.require(resource, user, "read")
        data = self.check(data)
        with database.session() as session:
            if fetch_one(session.connection(), resource, user, record_id, "read") is None:
                raise not_found(resource.label)
            if not self.may_send(user):
                raise ApiError(403, "forbidden", "Your role may not send e-mail from records.")
            record = session.get(resource.model, record_id)
            template = self.template_of(resource, data.get("template"))
            made = self.compose(session, resource, record, user, template, data.get("locale"))
            subject = data["subject"] if data.get("subject") is not None else made["subject"]
            body = data["body"] if data.get("body") is not None else made["body"]
            to_value = data["to"] if data.get("to") not in (None, "", []) else made["to"]
            problems: dict[str, str] = {}
            raw = to_value if isinstance(to_value, list) else [to_value] if to_value else []
            listed = [str(r) for r in raw if str(r).strip()]
            recipients = addresses(listed)
            if not listed:
                problems["to"] = "The record has no e-mail address: give one in to."
            elif any("\r" in r or "\n" in r or not addresses(r) for r in listed):
                problems["to"] = "Give e-mail addresses (name@example.com)."
            elif len(recipients) > MAX_RECIPIENTS:
                problems["to"] = f"At most {MAX_RECIPIENTS} recipients."
            if not subject.strip():
                problems["subject"] = "The subject is empty."
            elif "\r" in subject or "\n" in subject or len(subject) > SUBJECT_MAX:
                problems["subject"] = f"One line of at most {SUBJECT_MAX} characters."
            if not body.strip():
                problems["body"] = "The text is empty."
            elif len(body) > BODY_MAX:
                problems["body"] = f"At most {BODY_MAX} characters."
            if problems:
                first = next(iter(problems.values()))
                raise ApiError(422, "validation_error", first, problems)
            key = f"email:{resource.name}:{record_id}:{uuid.uuid4().hex}"
            payload = {
                "to": recipients[0] if len(recipients) == 1 else recipients,
                "subject": subject,
                "text": body,
                "html": None,
                "integration": self.integration,
            }
            self.outbox.enqueue(session, kind="email", payload=payload, key=key)
            self.log_out(
                session,
                about=(resource.name, record_id),
                to=recipients,
                subject=subject,
                body=body,
                outbox_key=key,
                template=template.name if template else None,
                user=user,
            )
            session.flush()
            model = self.model
            row = session.scalars(
                sa.select(model).where(
                    model.outbox_key == key,
                    model.entity == resource.name,
                    model.record_id == record_id,
                )
            ).one()
            return describe(row, {key: "pending"})

    def listing(
        self,
        database: Database,
        resource: Resource,
        user: CurrentUser,
        record_id: int,
        limit: int,
        offset: int,
    ) -> dict[str, Any]:
        """A page of the record's e-mails (404 when the user may not read the record)."""
        permissions.require(resource, user, "read")
        with database.session() as session:
            if fetch_one(session.connection(), resource, user, record_id, "read") is None:
                raise not_found(resource.label)
            items, total = self.entries(session, resource.name, record_id, limit, offset)
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    # --- the API ---------------------------------------------------------------------------

    def endpoint(self, resource: Resource) -> Any:
        async def emails(request: Request) -> Response:
            database: Database = request.app.state.db
            user = user_of(request)
            if user is None:
                raise ApiError(401, "not_authenticated", "Sign in first.")
            if request.method == "POST":
                permissions.require(resource, user, "read")
                record_id = record_id_of(request)
                data = parse_json(await request.body())
                logged = await run_in_threadpool(
                    self.send, database, resource, user, record_id, data
                )
                return JSONResponse(logged, status_code=201)
            permissions.require(resource, user, "read")
            record_id = record_id_of(request)
            limit, offset = params.page(request)
            page = await run_in_threadpool(
                self.listing, database, resource, user, record_id, limit, offset
            )
            return JSONResponse(page)

        return emails

    def routes(self) -> list[BaseRoute]:
        """``GET|POST /<plural>/{id}/emails`` of each entity with e-mails (below ``/api``)."""
        found: list[BaseRoute] = []
        for name in sorted(self.entities):
            resource = self.catalog.by_name.get(name)
            if resource is None or "read" not in resource.actions:
                continue
            found.append(
                Route(
                    f"/{resource.path}/{{id}}/emails",
                    self.endpoint(resource),
                    methods=["GET", "POST"],
                    name=f"{resource.path}_emails",
                )
            )
        return found


def describe(row: EmailLogTable, status: Mapping[str, str]) -> dict[str, Any]:
    """The JSON of a logged e-mail; ``status``: the outbox status by message key."""
    state = "received"
    if row.direction == "out":
        state = status.get(row.outbox_key or "", "pending")
    return {
        "id": row.id,
        "direction": row.direction,
        "at": iso(row.at),
        "from": row.sender,
        "to": row.recipients,
        "subject": row.subject,
        "body": row.body,
        "template": row.template,
        "process": row.process,
        "user_email": row.user_email,
        "message_id": row.message_id,
        "status": state,
    }


def about_of(catalog: Catalog, record: Any) -> tuple[str, int] | None:
    """(entity, id) of a process's ``record`` (an ORM object or a runtime ``Record``)."""
    if record is None:
        return None
    resource = getattr(record, "resource", None)
    if isinstance(resource, Resource):
        record_id = record.value("id") if hasattr(record, "value") else None
        return (resource.name, int(record_id)) if record_id is not None else None
    for found in catalog.by_name.values():
        if isinstance(record, found.model):
            record_id = getattr(record, "id", None)
            return (found.name, int(record_id)) if record_id is not None else None
    return None
