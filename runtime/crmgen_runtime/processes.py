"""The machinery of an app's processes: what a process's steps act through, and how the app
runs a process on a write, on request (custom endpoints, record actions) or on a clock.

The app's ``processes`` module holds the spec's processes compiled to Python, one function per
process, ``process_NAME(run, record=..., old=..., input=..., user=...)``; a function acts only
through its ``Run`` (queries and aggregates, writes, ``assign``, templates, messages, HTTP calls,
backups, errors, logs). ``Processes`` binds this machinery to one app (its catalog, outbox,
backups and HTTP integrations) and registers the app's triggers, endpoints and schedules on the
catalog's ``Events`` (``crmgen_runtime.events``).

Entity triggers run inside the transaction of the write that fires them: *before* triggers see
the change as a draft ``Record`` and may alter it (``set``) or reject it (``error``); *after*
triggers run once the row is written, still before the commit, so whatever they write (records,
outbox messages) commits or rolls back with it. Writes made by processes go through the same
``writes`` functions, so they are audited and fire the triggers of the records they touch (at
most ``MAX_DEPTH`` levels deep). Messages are not sent here: they are added to the outbox in the
same transaction and delivered by the worker. Templates are rendered by Jinja's sandbox.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from jinja2 import Template
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crmgen_runtime import consent, links, notifications, permissions, phones, validation, workflows
from crmgen_runtime.crud import record_id_of
from crmgen_runtime.decimals import average, column_sum
from crmgen_runtime.delivery import where as url_place
from crmgen_runtime.egress import DEFAULT as DEFAULT_EGRESS
from crmgen_runtime.egress import Egress, refused
from crmgen_runtime.entities import field_value
from crmgen_runtime.errors import ApiError, not_found
from crmgen_runtime.events import Event, Events
from crmgen_runtime.principal import CurrentUser, user_of
from crmgen_runtime.reads import fetch_one
from crmgen_runtime.replies import JsonObject, Reply, unwrap
from crmgen_runtime.resources import Catalog, Resource
from crmgen_runtime.responses import JSONResponse, json_ready, parse_json
from crmgen_runtime.writes import current_lists, delete_row, insert_row, integrity, update_row

LOG = logging.getLogger(__name__)
MAX_DEPTH = 8
DEPTH_KEY = "processes.depth"  # session.info: how deep processes triggered each other
SYSTEM_FIELDS = ("id", "version", "created_at", "updated_at", "deleted_at")
HTTP_READ_LIMIT = 10_000_000  # bytes of an HTTP answer a step reads
BODY_METHODS = ("POST", "PUT", "PATCH")


class _Templates(SandboxedEnvironment):
    """The sandbox of the spec's templates: ``{{ record.from }}`` reads the field ``from`` (the
    model's attribute ``from_``: ``entities.field_value``)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(attribute, str):
            try:
                value = field_value(obj, attribute)
            except AttributeError:
                pass
            else:
                if self.is_safe_attribute(obj, attribute, value):
                    return value
        return super().getattr(obj, attribute)


_TEXT = _Templates(autoescape=False, keep_trailing_newline=True)
_HTML = _Templates(autoescape=True, keep_trailing_newline=True)

Process = Callable[..., None]
# an HTTP integration's settings: setting -> (environment variable or None, literal or default)
HttpSettings = Mapping[str, tuple[str | None, Any]]


class Enqueuer(Protocol):
    """Where messages go: the app's outbox (``crmgen_runtime.outbox.Outbox`` or its module)."""

    def enqueue(self, session: Session, *, kind: str, payload: Any, key: str | None) -> Any: ...


class Dumper(Protocol):
    """What a backup step writes with: the app's ``crmgen_runtime.backup.Backups``."""

    app: str

    def dump(self, url: str, path: Path) -> dict[str, int]: ...


def strip_tags(html: str) -> str:
    """The text of an HTML e-mail, for the log (tags dropped, whitespace collapsed)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@functools.lru_cache(maxsize=512)
def template(source: str, *, html: bool) -> Template:
    """A spec template compiled by the sandbox once, not on every run (they are literals)."""
    return (_HTML if html else _TEXT).from_string(source)


# --- what steps see ------------------------------------------------------------------------


class Actor:
    """The signed-in user as steps see it: the User record (``user.name``), plus roles.

    Two users are equal when their ids are, so ``record.assignee != user`` compares people.
    """

    def __init__(self, session: Session, current: CurrentUser, catalog: Catalog) -> None:
        self._current = current
        self._model = catalog.by_name["User"].model
        self.record: Any = session.get(self._model, current.id)

    @property
    def id(self) -> int:
        return self._current.id

    def has_role(self, *names: str) -> bool:
        return self._current.has_role(*names)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or self.record is None:
            raise AttributeError(name)
        return field_value(self.record, name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Actor, self._model)):
            return bool(other.id == self.id)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("User", self.id))

    def __str__(self) -> str:
        return str(self.record) if self.record is not None else self._current.email


class Record:
    """A record that is not (or no longer) an ORM object: the draft of a *before* trigger,
    ``old`` of an update, or the record of a delete. Fields read by name; references load the
    linked record from the session. ``changes`` (a draft's new values) are read first and
    ``set`` writes into them."""

    def __init__(
        self,
        session: Session,
        resource: Resource,
        stored: Mapping[str, Any],
        changes: dict[str, Any] | None = None,
    ) -> None:
        self._session = session
        self.resource = resource
        self._stored = stored
        self.changes = changes

    def value(self, name: str) -> Any:
        """The field ``name``'s raw value: the draft's change, else the stored one."""
        if self.changes is not None and name in self.changes:
            return self.changes[name]
        return self._stored.get(name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        # generated code reads a field by its attribute (``record.from_``), runtime code by name
        info = self.resource.field_at(name) or self.resource.fields.get(name)
        if info is not None:
            name = info.name
        if info is None:
            ref = self.resource.fields.get(name[:-3]) if name.endswith("_id") else None
            if ref is not None and ref.is_ref:
                return self.value(ref.name)
            if name in SYSTEM_FIELDS:
                return self._stored.get(name)
            raise AttributeError(name)
        value = self.value(name)
        if info.is_ref:
            return (
                None
                if value is None
                else self._session.get(self.resource.target(info).model, value)
            )
        if info.is_list:
            record_id = self._stored.get("id")
            if value is None and record_id is not None and name not in self._stored:
                value = current_lists(self._session, self.resource, record_id, [name])[name]
            model = self.resource.target(info).model
            return [self._session.get(model, i) for i in value or []]
        return value

    def __str__(self) -> str:
        """The display value, or ``#<id>`` when it is empty (``""`` for a record not stored)."""
        shown = self.value(self.resource.display)
        if shown is None or shown == "":
            record_id = self._stored.get("id")
            return "" if record_id is None else f"#{record_id}"
        return str(shown)


class Input(Record):
    """The validated input of a custom endpoint (``input.field``)."""


def plain(value: Any, catalog: Catalog) -> Any:
    """``value`` as JSON carries it: records become objects of their fields, without the
    encrypted ones (a webhook or an outbox message never carries them)."""
    if isinstance(value, Actor):
        value = value.record
    resource = catalog.by_name.get(type(value).__name__)
    if resource is not None and isinstance(value, resource.model):
        out: dict[str, Any] = {"id": value.id}
        for info in resource.fields.values():
            if info.encrypted:
                continue
            if info.is_list:
                out[info.name] = sorted(o.id for o in getattr(value, info.attr))
            else:
                out[info.name] = plain(getattr(value, info.column), catalog)
        return out
    if isinstance(value, Record):
        fields = {
            name: plain(value.value(name), catalog)
            for name, info in value.resource.fields.items()
            if not info.encrypted
        }
        return {"id": value.id, **fields}
    if isinstance(value, (Reply, JsonObject)):
        return unwrap(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v, catalog) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v, catalog) for v in value]
    return json_ready(value)


# --- a run of a process ----------------------------------------------------------------------


class Run:
    """What steps act through: the transaction's session, the user and the outbox."""

    def __init__(
        self, processes: Processes, session: Session, current: CurrentUser | None, process: str
    ) -> None:
        self.processes = processes
        self.catalog = processes.catalog
        self.session = session
        self.current = current
        self.process = process
        self.user = Actor(session, current, self.catalog) if current is not None else None
        self.sent = 0
        self.about: Any = None  # the record the process runs for (its e-mails are logged on it)
        # its writes honour the entities' workflows, as ``current`` (unless ``workflow: bypass``)
        self.guarded = process not in processes.bypass_workflow

    # records
    def resource(self, entity: str) -> Resource:
        return self.catalog.by_name[entity]

    def select(self, entity: str, where: list[Any]) -> Any:
        """SELECT the live records of ``entity`` matching ``where``."""
        resource = self.resource(entity)
        stmt = sa.select(resource.model).where(*where)
        if resource.soft_delete:
            stmt = stmt.where(resource.model.deleted_at.is_(None))
        return stmt

    def load(self, entity: str, record_id: int) -> Any:
        """The record ``record_id`` as an ORM object, fresh from the database."""
        return self.session.get(self.resource(entity).model, record_id, populate_existing=True)

    def query(
        self, entity: str, where: list[Any], sort: Iterable[str] = (), limit: int | None = None
    ) -> list[Any]:
        resource = self.resource(entity)
        order = []
        for key in sort:
            column = resource.attribute(key.lstrip("-"))
            order += [column.is_(None), column.desc() if key.startswith("-") else column.asc()]
        stmt = self.select(entity, where).order_by(*order, resource.model.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(self.session.scalars(stmt))

    def first(self, entity: str, where: list[Any], sort: Iterable[str] = ()) -> Any:
        """The first matching record (by ``sort``, then id), or None."""
        found = self.query(entity, where, sort, limit=1)
        return found[0] if found else None

    def ids(self, entity: str, where: list[Any]) -> list[int]:
        model = self.resource(entity).model
        stmt = self.select(entity, where).with_only_columns(model.id).order_by(model.id)
        return list(self.session.scalars(stmt))

    def count(self, entity: str, where: list[Any]) -> int:
        model = self.resource(entity).model
        stmt = self.select(entity, where).with_only_columns(sa.func.count(model.id))
        return int(self.session.scalar(stmt) or 0)

    def aggregate(
        self,
        entity: str,
        function: str,
        name: str | None,
        where: list[Any],
        group_by: str | None = None,
    ) -> Any:
        """``function`` (sum, avg, min, max, count) of ``name``; with ``group_by`` a dict
        from each group's value (a reference: its id) to the result. Exact on both databases:
        a sum never rounds, an average is the sum over the count, rounded half-up to the
        field's scale (two places for whole numbers)."""
        resource = self.resource(entity)
        target = resource.attribute(name) if name else resource.model.id
        parts: list[Any]
        if function == "count":
            parts = [sa.func.count(target)]
        elif function == "sum":
            parts = [column_sum(target)]
        elif function == "avg":
            parts = [column_sum(target), sa.func.count(target)]
        else:
            parts = [getattr(sa.func, function)(target)]
        scale = getattr(target.type, "scale", None)
        places = Decimal(1).scaleb(-(2 if scale is None else scale))

        def result(row: Any) -> Any:
            if function == "avg":
                return average(row[0], row[1], places)
            return row[0]

        selected = self.select(entity, where)
        if group_by is None:
            return result(self.session.execute(selected.with_only_columns(*parts)).one())
        key = resource.attribute(group_by)
        stmt = selected.with_only_columns(key, *parts).group_by(key).order_by(key)
        return {row[0]: result(row[1:]) for row in self.session.execute(stmt)}

    def create(self, entity: str, values: dict[str, Any]) -> Any:
        resource = self.resource(entity)
        values = phones.stored_values(resource.fields, {k: unwrap(v) for k, v in values.items()})
        with consent.source("process"):
            new_id = insert_row(
                self.session, resource, values, self.current, None, guarded=self.guarded
            )
        self.session.expire_all()
        return self.load(entity, new_id)

    def update(self, entity: str, where: list[Any], values: dict[str, Any]) -> int:
        """Update each matching record (audited, its triggers run); the number updated."""
        resource = self.resource(entity)
        ids = self.ids(entity, where)
        values = phones.stored_values(resource.fields, {k: unwrap(v) for k, v in values.items()})
        for record_id in ids:
            with consent.source("process"):
                update_row(
                    self.session,
                    resource,
                    record_id,
                    dict(values),
                    self.current,
                    None,
                    guarded=self.guarded,
                )
        self.session.expire_all()
        return len(ids)

    def delete(self, entity: str, where: list[Any]) -> int:
        resource = self.resource(entity)
        ids = self.ids(entity, where)
        for record_id in ids:
            delete_row(self.session, resource, record_id, self.current, None)
        self.session.expire_all()
        return len(ids)

    def set(self, record: Any, values: dict[str, Any]) -> None:
        """Change the record: a draft (before triggers) gets the values, a stored record an
        UPDATE."""
        values = {k: unwrap(v) for k, v in values.items()}
        if record is None or not values:
            return
        if isinstance(record, Record):
            resource = record.resource
        else:
            resource = self.resource(type(record).__name__)
        values = phones.stored_values(resource.fields, values)
        if isinstance(record, Record) and record.changes is not None:
            self.check_draft(record, values)
            record.changes.update(values)
            return
        with consent.source("process"):
            update_row(
                self.session,
                resource,
                record.id,
                dict(values),
                self.current,
                None,
                guarded=self.guarded,
            )
        self.session.expire_all()

    def check_draft(self, record: Record, values: Mapping[str, Any]) -> None:
        """A *before* trigger's ``set`` of the workflow's field: the transition from the stored
        state (a new record: the start state), its roles and required fields, as ``current``.
        (The where-conditions of a move are checked on the writes that are guarded.)"""
        workflow = record.resource.workflow
        if not self.guarded or workflow is None or workflow.field not in values:
            return
        resource, user = record.resource, self.current
        superuser = user is not None and self.catalog.is_superuser(user)
        draft = {**(record.changes or {}), **values}
        stored = record._stored  # empty for the draft of a new record
        if stored.get("id") is None:  # before create
            asked = values[workflow.field]
            record_values = {**stored, **draft}
            workflows.check_create(workflow, resource.label, user, superuser, asked, record_values)
        else:
            change = {workflow.field: values[workflow.field]}
            workflows.check_update(workflow, resource.label, user, superuser, stored, change)

    def assign(
        self,
        record: Any,
        name: str,
        strategy: str,
        among: list[Any],
        workload: tuple[Any, list[Any]],
    ) -> None:
        """Set ``record.name`` to the least busy (or the next, round robin) matching user."""
        user_model = self.resource("User").model
        users = list(
            self.session.scalars(sa.select(user_model.id).where(*among).order_by(user_model.id))
        )
        if not users:
            self.processes.log.warning("%s: no user matches to assign %s", self.process, name)
            return
        column, busy = workload
        if strategy == "round_robin":
            owner = column.class_
            last = self.session.scalar(
                sa.select(column).where(column.is_not(None)).order_by(owner.id.desc()).limit(1)
            )
            chosen = next((u for u in users if last is None or u > last), users[0])
        else:
            counts: dict[Any, int] = dict(
                self.session.execute(
                    sa.select(column, sa.func.count())
                    .where(column.in_(users), *busy)
                    .group_by(column)
                ).all()
            )
            chosen = min(users, key=lambda u: (counts.get(u, 0), u))
        self.set(record, {name: chosen})

    # messages
    def text(self, source: str, names: dict[str, Any]) -> str:
        return template(source, html=False).render(names)

    def html(self, source: str, names: dict[str, Any]) -> str:
        return template(source, html=True).render(names)

    def plain(self, value: Any) -> Any:
        """``value`` as JSON carries it (``plain``)."""
        return plain(value, self.catalog)

    def enqueue(self, kind: str, payload: dict[str, Any], key: str | None = None) -> None:
        self.processes.outbox.enqueue(self.session, kind=kind, payload=self.plain(payload), key=key)
        self.sent += 1

    def email(
        self,
        *,
        to: Any,
        subject: str,
        text: str | None,
        html: str | None,
        integration: str | None,
    ) -> None:
        listed = to if isinstance(to, (list, tuple)) else [to]
        recipients = [str(r) for r in listed if r]
        if not recipients:
            self.processes.log.warning(
                "%s: e-mail %r has no recipient; not sent", self.process, subject
            )
            return
        to_value: Any = recipients[0] if len(recipients) == 1 else recipients
        message = {"to": to_value, "subject": subject, "text": text, "html": html}
        mail = self.processes.mail
        key = f"email:{self.process}:{uuid.uuid4().hex}" if mail is not None else None
        self.enqueue("email", {**message, "integration": integration}, key)
        if mail is not None and key is not None:  # on the record's and the contacts' timelines
            from crmgen_runtime.mail import about_of, addresses

            mail.log_out(
                self.session,
                about=about_of(self.catalog, self.about),
                to=addresses(recipients),
                subject=subject,
                body=text if text is not None else strip_tags(html or ""),
                outbox_key=key,
                process=self.process,
            )

    def _about(self, value: Any) -> tuple[str | None, int | None]:
        """The entity and id of a record (a model object, a ``Record``), else (None, None)."""
        if isinstance(value, Record):
            return value.resource.name, value.value("id") or getattr(value, "id", None)
        resource = self.catalog.by_name.get(type(value).__name__)
        if resource is not None and isinstance(value, resource.model):
            return resource.name, int(value.id)
        return None, None

    def _user_ids(self, value: Any) -> list[int]:
        listed = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
        found: list[int] = []
        for item in listed:
            if item is None or isinstance(item, bool):
                continue
            if isinstance(item, int):
                found.append(item)
            elif isinstance(getattr(item, "id", None), int):
                found.append(item.id)
        return found

    def notify(self, *, to: Any, owner: Any, role: str | None, message: str, link: Any) -> None:
        """Tell users in the app (``notifications``, kind ``process``): ``to`` (users or
        ids), the owner of the record ``owner``, or the active users with ``role``; the
        notification links to the record ``link``."""
        users = self._user_ids(to)
        if owner is not None:
            entity, _ = self._about(owner)
            resource = self.catalog.by_name.get(entity or "")
            if resource is not None and resource.owner is not None:
                if isinstance(owner, Record):
                    users += self._user_ids(owner.value(resource.owner))
                else:
                    users += self._user_ids(getattr(owner, resource.fields[resource.owner].column))
        if role is not None:
            users += notifications.role_members(self.session, self.catalog, role)
        entity, record_id = self._about(link)
        if not users:
            self.processes.log.info("%s: notify has nobody to tell", self.process)
            return
        notifications.notify(
            self.session,
            self.catalog,
            users=users,
            kind="process",
            message=message,
            entity=entity,
            record_id=record_id,
            actor_id=self.current.id if self.current is not None else None,
        )

    def telegram(self, *, chat: Any, text: str, integration: str | None) -> None:
        chat = None if chat is None or chat == "" else str(chat)
        self.enqueue("telegram", {"chat": chat, "text": text, "integration": integration})

    def sms(self, *, to: Any, text: str, integration: str | None) -> None:
        if not to:
            self.processes.log.warning(
                "%s: text message has no phone number; not sent", self.process
            )
            return
        self.enqueue("sms", {"to": str(to), "text": text, "integration": integration})

    def webhook(self, event: str, payload: Any, *, integration: str | None) -> None:
        message = {"integration": integration, "event": event, "payload": self.plain(payload)}
        self.enqueue("webhook", message)

    def http(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        json: Any,
        timeout: float,
        integration: str | None,
        wait: bool = False,
    ) -> Any:
        """Without ``wait``: an outbox message. With it (a step with ``into``): the call is made
        now, within ``timeout`` seconds, and gives the decoded JSON answer (or its text);
        a failed call (network, timeout, a status >= 400) gives None and a warning."""
        body = self.plain(json)
        if not wait:
            message = {"method": method, "url": url, "headers": headers, "json": body}
            self.enqueue("http", {**message, "integration": integration, "timeout": timeout})
            return None
        return self.processes.call_http(
            method, url, headers, body, timeout, integration, self.process
        )

    def error(self, status: int, message: str) -> ApiError:
        return ApiError(status, "process_error", message)

    def log(self, level: str, message: str) -> None:
        self.processes.log.log(logging.getLevelName(level.upper()), "%s: %s", self.process, message)

    def attach_document(
        self, entity: str, record: Any, document: str, fmt: str, *, field: str | None = None
    ) -> None:
        """Save ``document`` of ``record`` (a record, or its id) on it after the commit: an
        outbox message the worker delivers (``crmgen_runtime.document_files``)."""
        from crmgen_runtime import document_files

        found = record.get("id") if isinstance(record, Mapping) else getattr(record, "id", record)
        if found is None or isinstance(found, bool) or not str(found).isdigit():
            self.processes.log.warning(
                "%s: attach_document %s has no record; nothing saved", self.process, document
            )
            return
        payload = document_files.message(entity, int(found), document, fmt, field)
        self.enqueue(document_files.KIND, payload)

    def backup(self, folder: str, keep: int) -> Path:
        """A backup file in ``folder`` (``APP-YYYYmmdd-HHMMSS.jsonl.gz``); older ones beyond
        the last ``keep`` are removed."""
        backups = self.processes.backups
        if backups is None:
            raise LookupError("this app makes no backups")
        bind: Any = self.session.get_bind()
        url = bind.url.render_as_string(hide_password=False)
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S-%f")
        path = target / f"{backups.app}-{stamp}.jsonl.gz"
        backups.dump(url, path)
        files = sorted(target.glob(f"{backups.app}-*.jsonl.gz"))
        for old in files[: max(0, len(files) - keep)]:
            old.unlink()
        self.processes.log.info("%s: backup written to %s", self.process, path)
        return path


def setting(settings: HttpSettings, name: str) -> Any:
    """The integration setting ``name``: its environment variable, else its value."""
    env, value = settings.get(name, (None, None))
    if env is not None:
        return os.environ.get(env, value)
    return value


def call_http(
    method: str,
    url: str,
    headers: dict[str, str],
    body: Any,
    timeout: float,
    settings: HttpSettings,
    process: str,
    log: logging.Logger = LOG,
    egress: Egress = DEFAULT_EGRESS,
) -> Reply | None:
    """One synchronous HTTP call (standard library) through ``egress`` (a private or loopback
    address not allowed by name is refused before anything is sent); its ``Reply``, or None
    when it fails (a warning on ``log``). ``settings``: the integration's (``base_url``
    prefixes a relative ``url``, ``token`` is a bearer token)."""
    base = setting(settings, "base_url")
    if base and not url.startswith(("http://", "https://")):
        url = str(base).rstrip("/") + "/" + url.lstrip("/")
    if not url.startswith(("http://", "https://")):
        log.warning("%s: %r is not an http(s) URL; not called", process, url)
        return None
    headers = dict(headers)
    token = setting(settings, "token")
    if token and "Authorization" not in headers:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    allowed = settings.get("allow_hosts", (None, ()))[1]  # the integration's own hosts
    if isinstance(allowed, (list, tuple)):
        egress = egress.with_hosts(str(h) for h in allowed)
    try:
        # http(s) only: checked above
        with egress.open(request, timeout) as answer:
            raw = answer.read(HTTP_READ_LIMIT)
            return Reply(int(answer.status), dict(answer.headers.items()), raw)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        why = refused(exc)
        if why is not None:
            log.warning("%s: %s %s not sent: %s", process, method, url_place(url), why)
        else:
            log.warning("%s: %s %s failed: %s", process, method, url_place(url), exc)
        return None


# --- how a process sees an event -----------------------------------------------------------


def before_create(processes: Processes, process: Process, event: Event) -> None:
    """Before the INSERT: ``record`` is the draft; ``set`` changes ``event.values``."""
    record = Record(event.session, event.resource, {}, event.values)
    processes.run(event.session, event.user, process, record=record)


def after_create(processes: Processes, process: Process, event: Event) -> None:
    """After the INSERT, before the commit: ``record`` is the stored record."""
    processes.run(event.session, event.user, process, record=event.record())


def before_update(processes: Processes, process: Process, event: Event) -> None:
    """Before the UPDATE: ``record`` is the stored record with ``event.values`` on top,
    ``old`` the stored record."""
    record = Record(event.session, event.resource, event.stored, event.values)
    old = Record(event.session, event.resource, event.stored)
    processes.run(event.session, event.user, process, record=record, old=old)


def after_update(processes: Processes, process: Process, event: Event) -> None:
    """After the UPDATE, before the commit (``event.changed``: the fields whose value changed)."""
    old = Record(event.session, event.resource, event.stored)
    processes.run(event.session, event.user, process, record=event.record(), old=old)


def on_delete(processes: Processes, process: Process, event: Event) -> None:
    """Before or after the DELETE: ``record`` holds the record's values."""
    record = Record(event.session, event.resource, event.stored)
    processes.run(event.session, event.user, process, record=record)


# moment -> how a process sees that moment's event
ADAPTERS: dict[str, Callable[[Processes, Process, Event], None]] = {
    "before_create": before_create,
    "after_create": after_create,
    "before_update": before_update,
    "after_update": after_update,
    "before_delete": on_delete,
    "after_delete": on_delete,
}

# moment -> entity -> the processes it runs, each with the fields whose change it watches
Triggers = Mapping[str, Mapping[str, Iterable[tuple[Process, frozenset[str]]]]]


# --- one app's processes -------------------------------------------------------------------


class Processes:
    """The process machinery of one app: its catalog, where messages go (``outbox``), what
    backup steps write with (``backups``) and the HTTP integrations steps with ``into`` call
    directly (name -> settings)."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        outbox: Enqueuer,
        backups: Dumper | None = None,
        http_integrations: Mapping[str, HttpSettings] | None = None,
        mail: Any = None,
        allow_hosts: Iterable[str] = (),
        bypass_workflow: Iterable[str] = (),
    ) -> None:
        self.catalog = catalog
        # the processes (by name) whose writes skip the workflows (the spec's workflow: bypass)
        self.bypass_workflow = frozenset(bypass_workflow)
        self.outbox = outbox
        # the app's ``crmgen_runtime.mail.RecordMail``: e-mails steps send are logged with it
        self.mail = mail
        self.backups = backups
        self.http_integrations: Mapping[str, HttpSettings] = http_integrations or {}
        # ``http`` steps reach non-public addresses only on these hosts (``app.allow_hosts``)
        self.egress = Egress(allow_hosts)
        # the steps' log, named as the app's processes module: ``PKG.processes``
        self.log = logging.getLogger(f"{catalog.config.name}.processes")

    def run(
        self,
        session: Session,
        current: CurrentUser | None,
        process: Process,
        *,
        user: bool = True,
        **names: Any,
    ) -> None:
        """Run one process (processes that write may trigger others: at most MAX_DEPTH deep)."""
        depth = session.info.get(DEPTH_KEY, 0)
        name = process.__name__.removeprefix("process_")
        if depth >= MAX_DEPTH:
            raise ApiError(
                500,
                "process_loop",
                f"Processes triggered each other more than {MAX_DEPTH} levels deep (at {name}).",
            )
        session.info[DEPTH_KEY] = depth + 1
        try:
            run = Run(self, session, current, name)
            run.about = names.get("record")
            if user:
                names["user"] = run.user
            process(run, **names)
        finally:
            session.info[DEPTH_KEY] = depth

    def call_http(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Any,
        timeout: float,
        integration: str | None,
        process: str,
    ) -> Reply | None:
        """``call_http`` with the settings of the HTTP integration ``integration`` (if any)."""
        settings = self.http_integrations.get(integration or "", {})
        return call_http(
            method, url, headers, body, timeout, settings, process, self.log, self.egress
        )

    def scheduled(self, process: Process) -> Callable[[Any], None]:
        """``run(database)``: ``process`` in one transaction of ``database``, with no user."""

        def run(database: Any) -> None:
            with database.session() as session:
                self.run(session, None, process, user=False)

        return run

    def endpoint(
        self,
        name: str,
        method: str,
        path: str,
        process: Process,
        *,
        roles: tuple[str, ...],
        entity: str | None,
        inputs: Resource | None,
    ) -> Endpoint:
        """A custom endpoint (or, with ``entity``, a record action) that runs ``process``."""
        return Endpoint(self, name, method, path, process, roles, entity, inputs)

    def register(
        self,
        events: Events,
        triggers: Triggers,
        endpoints: Iterable[Endpoint] = (),
        schedules: Mapping[str, tuple[str, Process]] | None = None,
    ) -> None:
        """Put the processes on ``events``: those of ``triggers`` run inside the write's
        transaction (an update process with fields only when one of them changed), the
        ``endpoints`` are served, the ``schedules`` (name -> (cron, process)) run on their cron."""
        for moment, by_entity in triggers.items():
            adapter = ADAPTERS[moment]
            for entity, processes in by_entity.items():
                for process, fields in processes:
                    hook = functools.partial(adapter, self, process)
                    events.on(moment, entity, hook, fields=fields)
        for endpoint in endpoints:
            events.endpoint(endpoint)
        for name, (cron, process) in (schedules or {}).items():
            events.schedule(name, cron, self.scheduled(process))


# --- custom endpoints and actions ----------------------------------------------------------


class Endpoint:
    """A custom endpoint or an action: who may call it, its input, the process it runs."""

    def __init__(
        self,
        processes: Processes,
        name: str,
        method: str,
        path: str,
        process: Process,
        roles: tuple[str, ...],
        entity: str | None,
        inputs: Resource | None,
    ) -> None:
        self.processes = processes
        self.name, self.method, self.path, self.process = name, method, path, process
        self.roles, self.entity, self.inputs = roles, entity, inputs

    async def endpoint(self, request: Request) -> Response:
        body = b""
        if self.method in BODY_METHODS:
            body = await request.body()
        params = request.query_params.multi_items()
        result = await run_in_threadpool(self.handle, request, body, params)
        return JSONResponse(result)

    def handle(
        self, request: Request, body: bytes, params: list[tuple[str, str]]
    ) -> dict[str, Any]:
        """The HTTP side: the user and the record id of ``request``, then ``run``."""
        user = user_of(request)
        record_id = record_id_of(request) if self.entity else None
        return self.run(request.app.state.db, user, record_id, body, params)

    def run(
        self,
        database: Any,
        user: Any,
        record_id: int | None,
        body: bytes = b"",
        params: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        """Check who calls, validate the input, run the process in one transaction (blocking).

        The API's route and the web UI's action buttons both call this.
        """
        catalog = self.processes.catalog
        if user is None:
            raise ApiError(401, "not_authenticated", "Sign in first.")
        if not (catalog.is_superuser(user) or user.has_role(*self.roles)):
            raise ApiError(403, "forbidden", f"Your role may not call {self.name}.")
        values = self.input(body, params or [])
        resource = catalog.by_name[self.entity] if self.entity else None
        checked = resource or next(iter(catalog.resources.values()))
        with integrity(checked, "update"), database.session() as session:
            names: dict[str, Any] = {}
            if resource is not None:
                names["record"] = self.record(session, resource, user, record_id)
            if self.inputs is not None:
                # 422 for a linked record that does not exist or that the caller may not read
                asked = links.ids_of(self.inputs, values)
                links.check(session, self.inputs, values, reader=user, asked=asked)
                names["input"] = Input(session, self.inputs, values, None)
            elif self.method in BODY_METHODS and body.strip():
                parse_json(body)  # an action takes no input, but malformed JSON is still a 400
            self.processes.run(session, user, self.process, **names)
            if resource is not None:
                assert record_id is not None
                connection = session.connection()
                record = fetch_one(connection, resource, user, record_id, action=None)
                return {"ok": True, "record": record}
        return {"ok": True}

    def record(self, session: Session, resource: Resource, user: Any, record_id: int | None) -> Any:
        """The action's record, fresh; 404 when it is gone or the caller may not read it."""
        rule = permissions.condition(resource, user, "read")
        model = resource.model
        stmt = sa.select(model.id).where(model.id == record_id, *links.live(resource))
        if rule is not None:
            stmt = stmt.where(rule)
        if session.execute(stmt).first() is None:
            raise not_found(resource.label)
        return session.get(model, record_id, populate_existing=True)

    def input(self, body: bytes, params: list[tuple[str, str]]) -> dict[str, Any]:
        """The endpoint's input, validated: the JSON body, or the query of a GET."""
        if self.inputs is None:
            return {}
        if self.method in BODY_METHODS:
            payload = parse_json(body) if body.strip() else {}
        else:
            payload = {}
            for key, raw in params:
                info = self.inputs.fields.get(key)
                try:
                    payload[key] = (
                        validation.parse_query_value(info.type, info, raw) if info else raw
                    )
                except validation.Invalid as exc:
                    fields = {key: str(exc)}
                    raise ApiError(
                        422, "validation_error", "Some fields are invalid.", fields
                    ) from None
        values = validation.validate(self.inputs, payload, partial=False)
        for info in self.inputs.fields.values():
            values.setdefault(info.name, None)
        return values
