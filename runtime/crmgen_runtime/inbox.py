"""Incoming mail: the ``imap`` integration's job reads a mailbox and logs each message on the
timeline of the contacts it comes from.

A ``Mailbox`` is one ``imap`` integration of the spec: its ``url`` (a secret, from the
environment: ``imaps://user:password@host:993/INBOX``, see ``imap_target``) and its cron. ``poll``
reads the messages after the last UID logged (``MailboxTable``), with ``BODY.PEEK[]`` so
nothing is marked read, and logs each one from a contact's address (matched
case-insensitively, ``RecordMail.matching``) in the contact's e-mails, keyed by its
``Message-ID``: reading a message twice logs it once. The last UID moves on in the same
transaction as the log rows, so a failure (the server gone, the database down) leaves it where
it was and the next run reads the same messages again; nothing is lost and nothing is doubled.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import imaplib
import logging
import re
import ssl
import urllib.parse
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from crmgen_runtime.db import Database
from crmgen_runtime.delivery import Integration
from crmgen_runtime.mail import BODY_MAX, SUBJECT_MAX, TEXT_MAX, RecordMail
from crmgen_runtime.tables import MailboxTable, utcnow

LOG = logging.getLogger(__name__)
DEFAULT_SCHEDULE = "*/5 * * * *"
BATCH = 200  # messages read per run at most
TIMEOUT = 30.0
_UID = re.compile(rb"UID (\d+)")


class MailboxError(Exception):
    """The mailbox could not be read (its settings, the server); the next run tries again."""


@dataclass(frozen=True)
class Mailbox:
    """An ``imap`` integration: where the mailbox is and when its job runs."""

    integration: Integration
    schedule: str = DEFAULT_SCHEDULE

    @property
    def name(self) -> str:
        return self.integration.name

    @property
    def job(self) -> str:
        """The name of its scheduled job (``imap.NAME``: no process is named with a dot)."""
        return f"imap.{self.name}"


def imap_target(url: str) -> tuple[str, str, int, str, str, str]:
    """(mode, host, port, user, password, mailbox) of an IMAP URL: ``imaps://`` is TLS from
    the start (port 993), ``imap+starttls://`` STARTTLS (143), ``imap://`` plain (143; for a
    server on the same host)."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    modes = {"imaps": "ssl", "imap+ssl": "ssl", "imap+starttls": "starttls", "imap": "plain"}
    if scheme not in modes or not parts.hostname or not parts.username:
        raise MailboxError("the IMAP URL must look like imaps://user:password@host:993/INBOX")
    mode = modes[scheme]
    port = parts.port or (993 if mode == "ssl" else 143)
    user = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    folder = urllib.parse.unquote(parts.path.strip("/")) or "INBOX"
    return mode, parts.hostname, port, user, password, folder


def connect(url: str, timeout: float = TIMEOUT) -> tuple[imaplib.IMAP4, str]:
    """A signed-in IMAP connection and the mailbox to read."""
    mode, host, port, user, password, folder = imap_target(url)
    try:
        if mode == "ssl":
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                host, port, ssl_context=ssl.create_default_context(), timeout=timeout
            )
        else:
            client = imaplib.IMAP4(host, port, timeout=timeout)
            if mode == "starttls":
                client.starttls(ssl.create_default_context())
        client.login(user, password)
    except (imaplib.IMAP4.error, OSError) as exc:
        raise MailboxError(f"IMAP {host}:{port}: {type(exc).__name__}: {exc}") from exc
    return client, folder


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def text_of(message: EmailMessage) -> str:
    """The plain text of a message (its HTML part's text when it has no plain one)."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    text = str(content)
    if part.get_content_type() == "text/html":
        text = re.sub(r"<[^>]+>", " ", text)
    return text.strip()


def message_key(message: EmailMessage, raw: bytes) -> str:
    """The message's ``Message-ID``, or a digest of it when it has none."""
    found = str(message.get("Message-ID") or "").strip()
    return found[:255] if found else "sha256:" + hashlib.sha256(raw).hexdigest()


def _header(message: EmailMessage, name: str) -> str:
    try:
        return str(message.get(name) or "")
    except (ValueError, IndexError):  # a header the parser could not read
        return ""


def rows_of(mail: RecordMail, session: Any, raw: bytes) -> list[dict[str, Any]]:
    """The log rows of one incoming message: one per contact its sender is."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    sender = _header(message, "From")
    found = [address for _, address in getaddresses([sender]) if address]
    if not found:
        return []
    targets = mail.matching(session, found[0])
    if not targets:
        return []
    try:
        at = parsedate_to_datetime(_header(message, "Date"))
        at = at if at.tzinfo else at.replace(tzinfo=utcnow().tzinfo)
    except (TypeError, ValueError, IndexError):
        at = utcnow()
    base = {
        "direction": "in",
        "at": at,
        "sender": sender[:TEXT_MAX],
        "recipients": _header(message, "To")[:TEXT_MAX],
        "subject": " ".join(_header(message, "Subject").split())[:SUBJECT_MAX],
        "body": text_of(message)[:BODY_MAX],
        "message_id": message_key(message, raw),
    }
    return [{**base, "entity": entity, "record_id": record_id} for entity, record_id in targets]


def _fetch(client: imaplib.IMAP4, uid: int) -> bytes | None:
    status, data = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
    if status != "OK":
        raise MailboxError(f"FETCH {uid}: {status}")
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            return bytes(item[1])
    return None


_UNSET_TOLD: set[str] = set()  # the mailboxes whose missing url this process has warned about


def poll(mail: RecordMail, database: Database, mailbox: Mailbox) -> dict[str, int]:
    """Read the messages after the last one logged and log them; {read, logged}.

    A mailbox whose url is not set (a deployment that does not read mail) is skipped, with one
    warning per process: not a failure every few minutes."""
    url = mailbox.integration.get("url")
    if not url:
        if mailbox.name not in _UNSET_TOLD:
            _UNSET_TOLD.add(mailbox.name)
            variable = mailbox.integration.settings.get("url", (None, None))[0] or "its url"
            LOG.warning(
                "integration %r: url is not set (set %s): its mailbox is not read",
                mailbox.name,
                variable,
            )
        return {"read": 0, "logged": 0}
    client, folder = connect(str(url))
    try:
        status, _ = client.select(_quote(folder), readonly=True)
        if status != "OK":
            raise MailboxError(f"IMAP: no mailbox {folder!r}")
        answer = client.response("UIDVALIDITY")[1]
        validity = int(answer[0]) if answer and answer[0] else 0
        model = mail.catalog.table(MailboxTable)
        with database.session() as session:
            state = session.get(model, mailbox.name)
            last = state.last_uid if state is not None and state.uidvalidity == validity else 0
            status, data = client.uid("SEARCH", "UID", f"{last + 1}:*")
            if status != "OK":
                raise MailboxError(f"SEARCH: {status}")
            uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > last)[:BATCH]
            logged = 0
            for uid in uids:
                raw = _fetch(client, uid)
                if raw is not None:
                    logged += mail.insert(session, rows_of(mail, session, raw))
            if state is None:
                state = model()
                state.name = mailbox.name
                session.add(state)
            state.uidvalidity = validity
            state.last_uid = max([last, *uids])
            state.checked_at = utcnow()
        return {"read": len(uids), "logged": logged}
    except (imaplib.IMAP4.error, OSError) as exc:
        raise MailboxError(f"IMAP: {type(exc).__name__}: {exc}") from exc
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def job(mail: RecordMail, mailbox: Mailbox) -> Any:
    """``run(database)``: the scheduled job of ``mailbox``."""

    def run(database: Database) -> None:
        counts = poll(mail, database, mailbox)
        LOG.info("mailbox %s: %d read, %d logged", mailbox.name, counts["read"], counts["logged"])

    run.__name__ = mailbox.job
    return run


def register(mail: RecordMail, mailboxes: tuple[Mailbox, ...], events: Any) -> None:
    """Put each mailbox's job on the app's ``events`` (the scheduler runs it on its cron)."""
    for mailbox in mailboxes:
        events.schedule(mailbox.job, mailbox.schedule, job(mail, mailbox))
