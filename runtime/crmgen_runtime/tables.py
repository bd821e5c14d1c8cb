"""The app's own tables, as mixins of its declarative models.

Every app has the same system tables: users' roles, sessions, the sign-in log, password resets, e-mail
changes, rate limits, the audit log, the outbox, the scheduler's runs, the uploads being
imported, the running workers' heartbeats, the users' saved views of lists and the API keys. Their columns live here; the app declares one small class per table on its own
``Base`` (so each app has its own metadata, and several apps can live in one process)::

    class CrmAuditEntry(tables.AuditEntryTable, Base):
        \"\"\"One change of one record.\"\"\"

Their tables carry the ``crm_`` prefix (``crm_sessions``, ``crm_audit_log``...), and the app's
classes the ``Crm`` prefix, so a spec may name its own entities ``Session``, ``Job`` or
``AuditEntry``. Releases before 0.5.0 named the tables without the prefix (``RENAMED_FROM``;
``ADDED_IN_0_5`` are new): the migration generator renames them, so an upgraded app keeps its
rows. ``SYSTEM_NAMES`` are all their names.

Runtime code finds an app's class for a mixin with ``Catalog.table(AuditEntryTable)``. The
user table is the spec's ``User`` entity; a table pointing at it names it in ``users_table``
(``"users"`` unless the spec renames it). No ``relationship()`` here, so nothing is added to
``User`` that could clash with the spec's back-references.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


def utcnow() -> dt.datetime:
    """The current time, time-zone aware, in UTC (the default of every timestamp column)."""
    return dt.datetime.now(dt.UTC)


def _timestamp(*, index: bool = False, comment: str | None = None) -> Mapped[dt.datetime]:
    return mapped_column(
        sa.DateTime(timezone=True),
        default=utcnow,
        server_default=sa.func.now(),
        index=index,
        comment=comment,
    )


def _moment(comment: str | None = None) -> Mapped[dt.datetime | None]:
    return mapped_column(sa.DateTime(timezone=True), comment=comment)


def _user(on_delete: str) -> Any:
    """A ``user_id`` pointing at the users table (``"users"``; an app whose spec renames it
    declares ``user_id`` itself, with this same call and its table's name)."""
    return user_column("users", on_delete)


def user_column(table: str, on_delete: str) -> Any:
    """The ``user_id`` column of a system table, pointing at the user table ``table``."""
    return mapped_column(
        sa.ForeignKey(f"{table}.id", ondelete=on_delete),
        index=True,
        nullable=on_delete == "SET NULL",
    )


def user_ref(table: str, on_delete: str, **options: Any) -> Any:
    """A column pointing at the user table ``table`` (the notifications' and comments' users:
    an app whose spec renames the user table declares them itself with this call)."""
    return mapped_column(sa.ForeignKey(f"{table}.id", ondelete=on_delete), **options)


def user_key(table: str) -> Any:
    """The ``user_id`` of ``UserRoleTable`` (part of its primary key), pointing at the user
    table ``table``; deleting the user deletes its roles."""
    return mapped_column(sa.ForeignKey(f"{table}.id", ondelete="CASCADE"), primary_key=True)


class UserRoleTable:
    """One role of a user (a user may have several). The app's class adds the ``user``
    relationship its ``User`` model's ``roles`` go through."""

    __tablename__ = "crm_user_roles"

    user_id: Mapped[int] = user_key("users")
    role: Mapped[str] = mapped_column(sa.String(48), primary_key=True, index=True)


class UserSessionTable:
    """A signed-in session; only the SHA-256 of its random token is stored."""

    __tablename__ = "crm_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(
        sa.String(64), unique=True, comment="SHA-256 of the session token (hex)"
    )
    user_id: Mapped[int] = _user("CASCADE")
    created_at: Mapped[dt.datetime] = _timestamp()
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = _moment()
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))


class LoginAttemptTable:
    """One sign-in attempt, successful or not, with where it came from."""

    __tablename__ = "crm_login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = _timestamp(index=True)
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    user_id: Mapped[int | None] = _user("SET NULL")
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    success: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str] = mapped_column(
        sa.String(32),
        comment="ok, unknown_email, bad_password, no_password, locked, inactive",
    )


class PasswordResetTable:
    """A one-time password reset token (only its SHA-256 is stored)."""

    __tablename__ = "crm_password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = _user("CASCADE")
    created_at: Mapped[dt.datetime] = _timestamp()
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = _moment()


class EmailChangeTable:
    """A pending change of a user's e-mail, confirmed by a one-time link mailed to the new
    address (only the token's SHA-256 is stored)."""

    __tablename__ = "crm_email_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = _user("CASCADE")
    new_email: Mapped[str] = mapped_column(sa.String(254))
    created_at: Mapped[dt.datetime] = _timestamp()
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = _moment()


class TwoFactorTable:
    """A user's second sign-in factor (``twofactor``): the TOTP secret, the last time step used,
    the SHA-256 of each unused recovery code, and the token of a sign-in half done."""

    __tablename__ = "crm_two_factor"

    user_id: Mapped[int] = user_key("users")
    secret: Mapped[str | None] = mapped_column(sa.String(64), comment="base32 TOTP secret")
    confirmed_at: Mapped[dt.datetime | None] = _moment("when the first code confirmed it")
    last_step: Mapped[int | None] = mapped_column(
        sa.BigInteger(), comment="the last 30-second step whose code was used"
    )
    recovery: Mapped[list[str]] = mapped_column(
        sa.JSON(), default=list, comment="SHA-256 (hex) of each unused recovery code"
    )
    token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    token_expires_at: Mapped[dt.datetime | None] = _moment()
    updated_at: Mapped[dt.datetime] = _timestamp()


class RateLimitTable:
    """The recent hits of one rate-limited key; the row is also the lock that makes
    concurrent requests on that key, from any process, take turns."""

    __tablename__ = "crm_rate_limits"

    key: Mapped[str] = mapped_column(
        sa.String(100), primary_key=True, comment="scope:SHA-256 of what is counted (hex)"
    )
    hits: Mapped[list[str]] = mapped_column(
        sa.JSON(), default=list, comment="ISO times of the hits still in the window"
    )
    updated_at: Mapped[dt.datetime] = _timestamp(index=True)


class AuditEntryTable:
    """One change of one record: who, when, from where, and each field's [old, new] value."""

    __tablename__ = "crm_audit_log"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (
            sa.CheckConstraint(
                sa.column("action").in_(["create", "update", "delete"]), name="action_values"
            ),
            sa.Index("ix_crm_audit_log_entity_record_id", "entity", "record_id"),
        )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = _timestamp(index=True)
    user_id: Mapped[int | None] = _user("SET NULL")
    user_email: Mapped[str | None] = mapped_column(
        sa.String(254), comment="The user's e-mail then (kept when the user is deleted)"
    )
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    entity: Mapped[str] = mapped_column(sa.String(64))
    record_id: Mapped[int] = mapped_column(sa.BigInteger())
    action: Mapped[str] = mapped_column(sa.String(8))
    changes: Mapped[dict[str, list[object]]] = mapped_column(
        sa.JSON(), comment="field -> [old, new]"
    )


class OutboxMessageTable:
    """A message to deliver (e-mail, ...), written in the transaction that decided to send it.

    The worker claims due rows with a lease (``locked_until`` and its ``claim_token``); a
    lease that runs out (a worker that died) makes the row claimable again.
    """

    __tablename__ = "crm_outbox"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (
            sa.CheckConstraint(
                sa.column("status").in_(["pending", "sent", "dead"]), name="status_values"
            ),
            sa.Index("ix_crm_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32), comment="email, telegram, sms, webhook, ...")
    payload: Mapped[dict[str, object]] = mapped_column(sa.JSON())
    status: Mapped[str] = mapped_column(sa.String(8), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))
    next_attempt_at: Mapped[dt.datetime] = _timestamp()
    idempotency_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    created_at: Mapped[dt.datetime] = _timestamp()
    last_error: Mapped[str | None] = mapped_column(sa.Text())
    locked_until: Mapped[dt.datetime | None] = _moment("lease of the worker delivering it")
    claim_token: Mapped[str | None] = mapped_column(
        sa.String(32), index=True, comment="which claim holds the lease"
    )
    sent_at: Mapped[dt.datetime | None] = _moment()


class ScheduleRunTable:
    """One run of a scheduled process for one tick; the unique (process, tick) makes the
    scheduler that inserts it first the only one that runs it."""

    __tablename__ = "crm_schedule_runs"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (sa.UniqueConstraint("process", "tick", name="uq_crm_schedule_runs_process_tick"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process: Mapped[str] = mapped_column(sa.String(64))
    tick: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), comment="the cron tick (UTC)"
    )
    started_at: Mapped[dt.datetime] = _timestamp()
    finished_at: Mapped[dt.datetime | None] = _moment()
    status: Mapped[str] = mapped_column(
        sa.String(8),
        default="running",
        server_default="running",
        comment="running, ok, failed",
    )
    worker: Mapped[str | None] = mapped_column(
        sa.String(128), comment="host:pid of the scheduler that ran it"
    )
    error: Mapped[str | None] = mapped_column(sa.Text())


class ImportUploadTable:
    """A file uploaded to the web UI's import, kept between its steps (map, preview, import).

    In the database, not on disk, so every replica of the app sees it. The random ``id`` is the
    only name pages show; ``owner`` ties it to the session that uploaded it. The status moves
    ``uploaded`` -> ``importing`` (one atomic UPDATE: an upload is imported once) -> ``done``,
    when the table is dropped and the result kept; rows untouched for an hour are deleted
    (never one being imported).

    While ``importing``, a worker holding the lease (``claim_token`` until ``locked_until``)
    imports the rows in batches (``crmgen_runtime.import_jobs``): each batch's records, its
    failed rows (``crm_import_failures``) and the progress (``position``: data rows handled,
    ``rows_done``, ``rows_updated``, ``rows_failed``) commit in one transaction, so a worker
    that dies is followed by another from the last committed batch.
    """

    __tablename__ = "crm_import_uploads"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (
            sa.CheckConstraint(
                sa.column("status").in_(["uploaded", "importing", "done"]),
                name="status_values",
            ),
        )

    id: Mapped[str] = mapped_column(
        sa.String(32), primary_key=True, comment="random URL-safe token"
    )
    owner: Mapped[str] = mapped_column(
        sa.String(64), comment="SHA-256 of the session's CSRF token (hex)"
    )
    entity: Mapped[str] = mapped_column(
        sa.String(64), comment="API path of the entity imported into"
    )
    file_name: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = _timestamp(index=True)
    status: Mapped[str] = mapped_column(
        sa.String(16), default="uploaded", server_default="uploaded"
    )
    table_json: Mapped[str | None] = mapped_column(
        sa.Text(), comment="the parsed file: {headers, rows}; dropped once imported"
    )
    result_json: Mapped[str | None] = mapped_column(
        sa.Text(), comment="{created, updated, matched, headers}, once imported"
    )
    job_json: Mapped[str | None] = mapped_column(
        sa.Text(), comment="{mapping, match, locale, user_id, ip}: what to import, as whom"
    )
    rows_total: Mapped[int] = mapped_column(default=0, server_default="0")
    position: Mapped[int] = mapped_column(
        default=0, server_default="0", comment="data rows handled (committed batches)"
    )
    rows_done: Mapped[int] = mapped_column(default=0, server_default="0")
    rows_updated: Mapped[int] = mapped_column(default=0, server_default="0")
    rows_failed: Mapped[int] = mapped_column(default=0, server_default="0")
    started_at: Mapped[dt.datetime | None] = _moment("when the import was queued")
    updated_at: Mapped[dt.datetime | None] = _moment("the last change: expiry counts from it")
    locked_until: Mapped[dt.datetime | None] = _moment("the importing worker's lease")
    claim_token: Mapped[str | None] = mapped_column(sa.String(32))


class ImportFailureTable:
    """A row of an import that was not imported, with what is wrong with it (the failed-rows
    file), written in the transaction of its batch; deleted with its upload."""

    __tablename__ = "crm_import_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    upload_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    line: Mapped[int] = mapped_column(comment="the row's line in the file (the header is 1)")
    cells_json: Mapped[str] = mapped_column(sa.Text(), comment="the row's cells as text")
    errors_json: Mapped[str] = mapped_column(sa.Text(), comment="{field: message}")


class WorkerHeartbeatTable:
    """A running ``worker`` process, or a web process running the scheduler
    (``RUN_SCHEDULER=1``), as it last reported itself (``crmgen_runtime.heartbeats``): written
    every few seconds while its loops turn, deleted when it stops cleanly, deleted by any other
    once not seen for ten minutes (it died). ``/metrics`` counts the ones seen lately."""

    __tablename__ = "crm_worker_heartbeats"

    id: Mapped[str] = mapped_column(sa.String(300), primary_key=True, comment="host:pid:random")
    role: Mapped[str] = mapped_column(
        sa.String(16), comment="worker, or web (a web process with RUN_SCHEDULER=1)"
    )
    scheduler: Mapped[bool] = mapped_column(
        default=False, server_default=sa.false(), comment="runs the scheduled processes"
    )
    host: Mapped[str] = mapped_column(sa.String(255))
    pid: Mapped[int] = mapped_column()
    started_at: Mapped[dt.datetime] = _timestamp()
    last_seen_at: Mapped[dt.datetime] = _timestamp(index=True)
    job: Mapped[str | None] = mapped_column(
        sa.String(200), comment="what it was doing then: outbox:KIND, import, schedule:NAME"
    )


class StoredFileTable:
    """An uploaded file (``crmgen_runtime.files``): its bytes are in the app's storage under
    ``id`` (and its thumbnail under ``<id>.thumb``), its type is what its content is. It
    belongs to nothing yet (``kind`` ``upload``, only its uploader may use it), to a record's
    ``file`` or ``image`` field (``field``) or to a record's attachments."""

    __tablename__ = "crm_files"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (
            sa.CheckConstraint(
                sa.column("kind").in_(["upload", "field", "attachment"]), name="kind_values"
            ),
            sa.Index("ix_crm_files_entity_record_id", "entity", "record_id"),
        )

    id: Mapped[str] = mapped_column(
        sa.String(32), primary_key=True, comment="random URL-safe token, its storage key"
    )
    name: Mapped[str] = mapped_column(sa.String(255), comment="the file name it was uploaded as")
    content_type: Mapped[str] = mapped_column(sa.String(100), comment="sniffed from its bytes")
    size: Mapped[int] = mapped_column(sa.BigInteger())
    sha256: Mapped[str] = mapped_column(sa.String(64))
    thumbnail: Mapped[bool] = mapped_column(
        default=False, server_default=sa.false(), comment="a thumbnail is stored (<id>.thumb)"
    )
    kind: Mapped[str] = mapped_column(sa.String(10), default="upload", server_default="upload")
    entity: Mapped[str | None] = mapped_column(sa.String(64))
    record_id: Mapped[int | None] = mapped_column(sa.BigInteger())
    field: Mapped[str | None] = mapped_column(sa.String(64), comment="its field; none: attachment")
    user_id: Mapped[int | None] = _user("SET NULL")
    created_at: Mapped[dt.datetime] = _timestamp(index=True)


class NotificationTable:
    """One notification for one user (``crmgen_runtime.notifications``): a record assigned to
    them, a mention, a process's ``notify`` step. Only apps whose spec uses notifications (a
    ``notify`` step or an entity with ``comments: true``) have this table."""

    __tablename__ = "crm_notifications"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (sa.Index("ix_crm_notifications_user_id_read_at", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = user_ref("users", "CASCADE", comment="who is told")
    kind: Mapped[str] = mapped_column(sa.String(16), comment="assignment, mention or process")
    message: Mapped[str] = mapped_column(sa.Text())
    entity: Mapped[str | None] = mapped_column(sa.String(64), comment="the record's entity")
    record_id: Mapped[int | None] = mapped_column(comment="the record it is about")
    actor_id: Mapped[int | None] = user_ref("users", "SET NULL", comment="who caused it")
    created_at: Mapped[dt.datetime] = _timestamp(index=True)
    read_at: Mapped[dt.datetime | None] = _moment()


class NotificationSettingTable:
    """How one user wants one kind of notification: ``app`` (in the app), ``digest`` (in the
    app and in a periodic e-mail digest) or ``off``. No row: in the app. A ``digest`` row keeps
    when the last digest went out and the newest notification it held."""

    __tablename__ = "crm_notification_settings"

    user_id: Mapped[int] = user_ref("users", "CASCADE", primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(8), comment="app, digest or off")
    digest_at: Mapped[dt.datetime | None] = _moment("when the last digest mail was queued")
    digested_id: Mapped[int | None] = mapped_column(
        comment="the newest notification the last digest held"
    )


class CommentTable:
    """A comment on a record of an entity with ``comments: true`` (``crmgen_runtime.comments``).
    A deleted comment keeps its row (its text emptied) as the trace of who deleted it, when."""

    __tablename__ = "crm_comments"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (sa.Index("ix_crm_comments_entity_record_id", "entity", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(sa.String(64))
    record_id: Mapped[int] = mapped_column()
    author_id: Mapped[int | None] = user_ref("users", "SET NULL", index=True)
    body: Mapped[str] = mapped_column(sa.Text())
    mentions: Mapped[list[int]] = mapped_column(sa.JSON(), comment="ids of the users mentioned")
    created_at: Mapped[dt.datetime] = _timestamp()
    edited_at: Mapped[dt.datetime | None] = _moment()
    deleted_at: Mapped[dt.datetime | None] = _moment()
    deleted_by_id: Mapped[int | None] = user_ref("users", "SET NULL")


class SavedViewTable:
    """A list's filters, sort and columns saved by a user under a name (``crmgen_runtime.views``),
    shared with the users holding one of ``roles``. Only a query: applying it re-checks every
    field against the reader's rules. Apps whose spec turns ``ui.saved_views`` off have no such
    table."""

    __tablename__ = "crm_saved_views"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (sa.UniqueConstraint("user_id", "entity", "name", name="uq_crm_saved_views_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = _user("CASCADE")
    entity: Mapped[str] = mapped_column(sa.String(64), index=True, comment="API path of its entity")
    name: Mapped[str] = mapped_column(sa.String(100))
    query: Mapped[dict[str, Any]] = mapped_column(
        sa.JSON(), comment="{q, sort, filters: [[key, value], ...]} as the list API takes them"
    )
    columns: Mapped[list[str]] = mapped_column(sa.JSON(), default=list)
    roles: Mapped[list[str]] = mapped_column(
        sa.JSON(), default=list, comment="the roles it is shared with"
    )
    created_at: Mapped[dt.datetime] = _timestamp()
    updated_at: Mapped[dt.datetime] = _timestamp()


class EmailLogTable:
    """One e-mail on one record's timeline (``crmgen_runtime.mail``): sent from the record or by
    a process (``out``, its outbox message's key in ``outbox_key``), or read from a mailbox
    (``in``, by its ``Message-ID``). An e-mail about several records (a deal and its contact)
    has a row on each; the unique (entity, record_id, message_id) logs a message read twice
    once. Only apps whose spec has ``email_templates`` or an ``imap`` integration have it."""

    __tablename__ = "crm_emails"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (
            sa.UniqueConstraint("entity", "record_id", "message_id", name="uq_crm_emails_message"),
            sa.Index("ix_crm_emails_record", "entity", "record_id", "at"),
        )

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(sa.String(64))
    record_id: Mapped[int] = mapped_column(sa.BigInteger())
    direction: Mapped[str] = mapped_column(sa.String(3), comment="out or in")
    at: Mapped[dt.datetime] = _timestamp()
    sender: Mapped[str] = mapped_column(sa.String(320), default="", server_default="")
    recipients: Mapped[str] = mapped_column(sa.String(2000), default="", server_default="")
    subject: Mapped[str] = mapped_column(sa.String(998), default="", server_default="")
    body: Mapped[str] = mapped_column(sa.Text(), default="", server_default="")
    template: Mapped[str | None] = mapped_column(sa.String(64))
    process: Mapped[str | None] = mapped_column(sa.String(64))
    user_id: Mapped[int | None] = mapped_column(comment="who sent it from the record")
    user_email: Mapped[str | None] = mapped_column(sa.String(320))
    outbox_key: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    message_id: Mapped[str | None] = mapped_column(sa.String(255))


class MailboxTable:
    """How far the ``imap`` integration ``name`` has read its mailbox: the last UID logged (in
    the mailbox's UIDVALIDITY), advanced in the transaction that logs the messages."""

    __tablename__ = "crm_mailboxes"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(sa.BigInteger(), default=0, server_default="0")
    last_uid: Mapped[int] = mapped_column(sa.BigInteger(), default=0, server_default="0")
    checked_at: Mapped[dt.datetime | None] = _moment()


class ApiKeyTable:
    """An API key (``crmgen_runtime.api_keys``): only the SHA-256 of the random key is stored
    (``key_hash``, unique: one indexed lookup per request) beside its first characters
    (``prefix``) to tell keys apart. The key acts as its own service user (``user_id``: an
    inactive user without a password holding the key's role), so what it writes is owned and
    audited as that user. ``last_used_at`` moves at most once a minute."""

    __tablename__ = "crm_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    prefix: Mapped[str] = mapped_column(sa.String(16), comment="the key's first characters")
    key_hash: Mapped[str] = mapped_column(
        sa.String(64), unique=True, comment="SHA-256 of the key (hex)"
    )
    role: Mapped[str] = mapped_column(sa.String(48), comment="the role it was created with")
    user_id: Mapped[int] = _user("CASCADE")
    created_by_id: Mapped[int | None] = user_ref("users", "SET NULL")
    created_at: Mapped[dt.datetime] = _timestamp()
    expires_at: Mapped[dt.datetime | None] = _moment("none: does not expire")
    revoked_at: Mapped[dt.datetime | None] = _moment()
    last_used_at: Mapped[dt.datetime | None] = _moment("moved at most once a minute")


class InboundEventTable:
    """An event an inbound webhook took (``crmgen_runtime.inbound``): its hook and idempotency
    key, unique together, written in the transaction of the process the event ran, so a failed
    run leaves no row (the sender may retry) and a replayed key changes nothing."""

    __tablename__ = "crm_inbound_events"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (sa.UniqueConstraint("hook", "key", name="uq_crm_inbound_events_hook_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hook: Mapped[str] = mapped_column(sa.String(64))
    key: Mapped[str] = mapped_column(sa.String(255), comment="the event's idempotency key")
    received_at: Mapped[dt.datetime] = _timestamp(index=True)
    user_email: Mapped[str | None] = mapped_column(sa.String(320), comment="whom it ran as")
    result: Mapped[str] = mapped_column(sa.String(32), default="ok", server_default="ok")


class GdprLogTable:
    """One export or erasure of a person's data (``crmgen_runtime.gdpr``): who, when, why, which
    record, which fields were erased and how many copies elsewhere were scrubbed. It never holds
    an erased value (the reason is scrubbed of them too). Only apps whose spec declares
    ``personal_data`` or ``retention`` have it."""

    __tablename__ = "crm_gdpr_log"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (
            sa.CheckConstraint(
                sa.column("kind").in_(["export", "erase", "retention"]), name="kind_values"
            ),
            sa.Index("ix_crm_gdpr_log_entity_record_id", "entity", "record_id"),
        )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = _timestamp(index=True)
    kind: Mapped[str] = mapped_column(sa.String(10), comment="export, erase or retention")
    entity: Mapped[str] = mapped_column(sa.String(64))
    record_id: Mapped[int] = mapped_column(sa.BigInteger())
    user_id: Mapped[int | None] = _user("SET NULL")
    user_email: Mapped[str | None] = mapped_column(
        sa.String(254), comment="who did it (none: the retention rule)"
    )
    reason: Mapped[str] = mapped_column(sa.Text(), default="", server_default="")
    fields: Mapped[list[str]] = mapped_column(sa.JSON(), default=list, comment="fields erased")
    scrubbed: Mapped[int] = mapped_column(
        default=0, server_default=sa.text("0"), comment="rows elsewhere scrubbed of the values"
    )


SYSTEM_TABLES: tuple[type, ...] = (
    UserRoleTable,
    UserSessionTable,
    LoginAttemptTable,
    PasswordResetTable,
    EmailChangeTable,
    RateLimitTable,
    AuditEntryTable,
    OutboxMessageTable,
    ScheduleRunTable,
    ImportUploadTable,
    ImportFailureTable,
    WorkerHeartbeatTable,
    TwoFactorTable,
    SavedViewTable,
    StoredFileTable,  # only in apps with files (a file or image field, attachments)
    ApiKeyTable,
)

# The tables only apps that use notifications or comments have, and those only apps that log
# e-mail have (the spec's ``email_templates`` or an ``imap`` integration).
OPTIONAL_TABLES: tuple[type, ...] = (NotificationTable, NotificationSettingTable, CommentTable)
MAIL_TABLES: tuple[type, ...] = (EmailLogTable, MailboxTable)
# The table only apps with inbound webhooks (the spec's ``inbound:``) have.
INBOUND_TABLES: tuple[type, ...] = (InboundEventTable,)
# The table only apps that handle personal data (``personal_data``, ``retention``) have.
GDPR_TABLES: tuple[type, ...] = (GdprLogTable,)

SYSTEM_NAMES: tuple[str, ...] = tuple(
    t.__tablename__  # type: ignore[attr-defined]
    for t in SYSTEM_TABLES + OPTIONAL_TABLES + MAIL_TABLES + INBOUND_TABLES + GDPR_TABLES
)
ADDED_IN_0_5: tuple[type, ...] = (
    ImportFailureTable,
    WorkerHeartbeatTable,
    TwoFactorTable,
    SavedViewTable,
    StoredFileTable,
    ApiKeyTable,
)  # no table of 0.4 to rename

# Each system table's name in releases before 0.5.0 (``migrate`` renames them; see
# crmgen/render/migrations.py).
PREFIX = "crm_"
RENAMED_FROM: dict[str, str] = {
    table.__tablename__: table.__tablename__.removeprefix(PREFIX)  # type: ignore[attr-defined]
    for table in SYSTEM_TABLES
    if table not in ADDED_IN_0_5
}
