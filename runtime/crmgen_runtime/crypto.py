"""Encrypted fields: AES-256-GCM values under keys from the environment, and blind indexes.

A field the spec marks ``encrypted`` is stored as a token (``EncryptedText``, ``EncryptedJSON``:
SQLAlchemy types that encrypt on write and decrypt on read)::

    enc1:<key id>:<base64url(nonce of 12 bytes + ciphertext + tag of 16 bytes)>

The token names its format version and the key that encrypted it, so keys can be rotated
(``rotate``: rows are re-encrypted under the active key in short batches while the app runs). The
associated data binds each value to its entity and field (``Contact.tax_id``): a token copied
into another column, or another entity, does not decrypt.

Keys come from the environment (``keyring_from``)::

    ENCRYPTION_KEYS=k2:<base64 of 32 random bytes>,k1:<...>   # the first one encrypts
    BLIND_INDEX_KEY=<base64 of 32 random bytes>                # keys the blind indexes

A field with ``search: exact`` keeps a blind index beside its token (``<column>__bidx``): an
HMAC-SHA256 of its value (trimmed, case-folded) under ``BLIND_INDEX_KEY``, bound to the entity
and field, so the API can find equal values without the database seeing any.

``keyring()`` is the process's keys: those ``install``ed at startup (``settings.check``), else
read from ``os.environ`` on first use (the app's command line). A missing or malformed key is an
``EncryptionKeyError`` naming the variable; a token whose key is not configured, or that does
not decrypt, is a ``DecryptionError`` (an ``ApiError`` 503: the request fails clearly, and no
value is guessed).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from crmgen_runtime.errors import ApiError

KEYS_VARIABLE = "ENCRYPTION_KEYS"
BLIND_VARIABLE = "BLIND_INDEX_KEY"
FORMAT = "enc1"  # the token's version: enc1:<key id>:<base64url(nonce + ciphertext + tag)>
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
BLIND_SUFFIX = "__bidx"  # the blind index's column: <column>__bidx
BLIND_LENGTH = 64  # hex of an HMAC-SHA256
MASK = "[encrypted]"  # what the audit log keeps of an encrypted field's old and new values
KEY_ADVICE = (
    "generate one with python -c 'import base64, os; "
    "print(base64.b64encode(os.urandom(32)).decode())'"
)


class EncryptionKeyError(ValueError):
    """A key is missing or malformed: the message names the variable and what is wrong."""


class DecryptionError(ApiError):
    """A stored value cannot be decrypted (its key is not configured, or it was altered)."""

    def __init__(self, message: str) -> None:
        super().__init__(503, "encryption_key", message)


def _decode_key(text: str, what: str) -> bytes:
    """The 32 bytes of a base64 key (standard or URL-safe alphabet, padding optional)."""
    stripped = text.strip()
    padded = stripped + "=" * (-len(stripped) % 4)
    raw = b""
    for alphabet in (b"+/", b"-_"):
        try:
            raw = base64.b64decode(padded, altchars=alphabet, validate=True)
            break
        except (binascii.Error, ValueError):
            continue
    if len(raw) != KEY_BYTES:
        raise EncryptionKeyError(
            f"{what} must be the base64 of {KEY_BYTES} random bytes: {KEY_ADVICE}"
        )
    return raw


def _urlsafe(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return b""


def parse_keys(raw: str) -> dict[str, bytes]:
    """``k2:<base64>,k1:<base64>`` as key id -> key, in order (the first one is active)."""
    keys: dict[str, bytes] = {}
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        kid, sep, text = item.partition(":")
        kid = kid.strip()
        if not sep or not KEY_ID.fullmatch(kid):
            raise EncryptionKeyError(
                f"{KEYS_VARIABLE} lists keys as <id>:<base64 key>, separated by commas "
                "(ids of letters, digits, - and _), such as k2:...,k1:...; the first encrypts"
            )
        if kid in keys:
            raise EncryptionKeyError(f"{KEYS_VARIABLE} names the key id {kid!r} twice")
        keys[kid] = _decode_key(text, f"{KEYS_VARIABLE}'s key {kid!r}")
    if not keys:
        raise EncryptionKeyError(
            f"{KEYS_VARIABLE} is not set: the app has encrypted fields; set it to "
            f"k1:<base64 of {KEY_BYTES} random bytes> ({KEY_ADVICE})"
        )
    return keys


def context_of(entity: str, field: str) -> str:
    """What a value is bound to: ``Contact.tax_id``."""
    return f"{entity}.{field}"


def _aad(context: str) -> bytes:
    return f"crmgen/{FORMAT}/{context}".encode()


def normalized(value: str) -> str:
    """What a blind index keys: the value trimmed and case-folded."""
    return value.strip().casefold()


@dataclass(frozen=True)
class Keyring:
    """The keys of encrypted fields: ``keys`` by id (the first encrypts), and the blind
    index's key."""

    keys: Mapping[str, bytes]
    blind_key: bytes

    def __post_init__(self) -> None:
        if not self.keys:
            raise EncryptionKeyError(f"{KEYS_VARIABLE} names no key")

    def __repr__(self) -> str:  # never the keys themselves
        return f"Keyring(active={self.active_id!r}, ids={list(self.keys)!r})"

    @property
    def active_id(self) -> str:
        return next(iter(self.keys))

    def encrypt(self, plaintext: str, context: str) -> str:
        """The token of ``plaintext`` under the active key, bound to ``context``."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.active_id]).encrypt(
            nonce, plaintext.encode("utf-8"), _aad(context)
        )
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{FORMAT}:{self.active_id}:{body}"

    def decrypt(self, token: str, context: str) -> str:
        """The plaintext of ``token`` (``DecryptionError`` when it cannot be had)."""
        version, kid, body = split(token)
        if version != FORMAT:
            raise DecryptionError(f"{context} holds a value in an unknown format ({version!r}).")
        key = self.keys.get(kid)
        if key is None:
            raise DecryptionError(
                f"{context} was encrypted with the key {kid!r}, which {KEYS_VARIABLE} does not "
                "list: add it back (after the active key) to read the value."
            )
        raw = _urlsafe(body)
        try:
            plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(context))
        except (InvalidTag, ValueError):
            raise DecryptionError(
                f"{context} does not decrypt with the key {kid!r}: the key is not the one that "
                "encrypted it, or the stored value was altered."
            ) from None
        return plain.decode("utf-8")

    def blind(self, value: str, context: str) -> str:
        """The blind index of ``value`` in ``context`` (hex HMAC-SHA256, 64 characters)."""
        message = _aad(context) + b"\x00" + normalized(value).encode("utf-8")
        return hmac.new(self.blind_key, message, hashlib.sha256).hexdigest()


def split(token: str) -> tuple[str, str, str]:
    """A token's version, key id and body ("", "", "" for what is no token)."""
    parts = token.split(":", 2)
    if len(parts) != 3:
        return "", "", ""
    return parts[0], parts[1], parts[2]


def key_id(token: str | None) -> str | None:
    """The id of the key that encrypted ``token`` (None for an empty value)."""
    if token is None:
        return None
    return split(token)[1] or None


def is_token(value: Any) -> bool:
    """Whether ``value`` is a stored token (not a plaintext)."""
    return isinstance(value, str) and value.startswith(f"{FORMAT}:") and bool(split(value)[2])


def keyring_from(env: Mapping[str, str]) -> Keyring:
    """The keys in ``env`` (``EncryptionKeyError`` when missing or malformed)."""
    keys = parse_keys(env.get(KEYS_VARIABLE, ""))
    raw_blind = env.get(BLIND_VARIABLE, "").strip()
    if not raw_blind:
        raise EncryptionKeyError(
            f"{BLIND_VARIABLE} is not set: the app has encrypted fields; set it to the base64 "
            f"of {KEY_BYTES} random bytes, another key than {KEYS_VARIABLE}'s ({KEY_ADVICE})"
        )
    blind = _decode_key(raw_blind, BLIND_VARIABLE)
    if blind in keys.values():
        raise EncryptionKeyError(f"{BLIND_VARIABLE} must differ from the keys of {KEYS_VARIABLE}")
    return Keyring(keys, blind)


def new_key_bytes() -> bytes:
    """A fresh key: 32 random bytes."""
    return secrets.token_bytes(KEY_BYTES)


def new_key() -> str:
    """A fresh key, as the environment holds it (base64 of 32 random bytes)."""
    return base64.b64encode(new_key_bytes()).decode("ascii")


def new_environ(key_id: str = "k1") -> dict[str, str]:
    """Fresh ``ENCRYPTION_KEYS`` and ``BLIND_INDEX_KEY`` (tests, local development)."""
    return {KEYS_VARIABLE: f"{key_id}:{new_key()}", BLIND_VARIABLE: new_key()}


DEVELOPMENT_KEYS_FILE = ".encryption_keys"  # local development only: APP_ENV=development


def development_keys(path: Path) -> dict[str, str]:
    """``ENCRYPTION_KEYS`` and ``BLIND_INDEX_KEY`` kept in ``path`` (0600, ``NAME=value`` a
    line), made on first use, so a development database stays readable across restarts.
    Local development only: never the keys of a deployed app."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        lines = path.read_text(encoding="utf-8").splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)
    keys = new_environ("dev1")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("".join(f"{name}={value}\n" for name, value in keys.items()))
    return keys


_lock = threading.Lock()
_installed: Keyring | None = None


def install(keys: Keyring | None) -> None:
    """Make ``keys`` the process's keys (None: read ``os.environ`` again on next use)."""
    global _installed
    with _lock:
        _installed = keys


def keyring() -> Keyring:
    """The process's keys: the installed ones, else those of ``os.environ``."""
    global _installed
    found = _installed
    if found is None:
        with _lock:
            if _installed is None:
                _installed = keyring_from(os.environ)
            found = _installed
    return found


class EncryptedText(TypeDecorator[str]):
    """A text value stored as a token bound to ``context`` (``Entity.field``)."""

    impl = sa.Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring().encrypt(str(value), self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring().decrypt(value, self.context)

    def __repr__(self) -> str:
        return f"EncryptedText({self.context!r})"


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON value stored as the token of its text, bound to ``context``. SQL NULL is empty;
    JSON ``null`` is stored as SQL NULL too."""

    impl = sa.Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return keyring().encrypt(text, self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(keyring().decrypt(value, self.context))

    def __repr__(self) -> str:
        return f"EncryptedJSON({self.context!r})"


def blind_column(column: str) -> str:
    """The blind index column of the field stored in ``column``."""
    return f"{column}{BLIND_SUFFIX}"


def blind_value(value: Any, context: str) -> str | None:
    """The blind index of a field's value (None for an empty one)."""
    if value is None:
        return None
    return keyring().blind(str(value), context)


# --- rotation and migrations: rows rewritten in batches, on raw tokens ------------------------

ROTATE_BATCH = 500


@dataclass(frozen=True)
class Column:
    """An encrypted column: its table, its name, what it is bound to and its blind index."""

    table: str
    name: str
    context: str
    blind: str = ""  # the blind index's column, or ""


def _raw_table(column: Column) -> sa.TableClause:
    """The table as text columns (no type of the app: tokens are read and written as they are)."""
    names = [column.name] + ([column.blind] if column.blind else [])
    return sa.table(column.table, sa.column("id"), *(sa.column(n, sa.Text()) for n in names))


def rotate_column(
    engine: sa.Engine,
    column: Column,
    *,
    keys: Keyring | None = None,
    batch: int = ROTATE_BATCH,
    everything: bool = False,
    progress: Any = None,
) -> tuple[int, int]:
    """Re-encrypt the values of ``column`` not under the active key (``everything``: all of
    them, and their blind indexes recomputed: after a new ``BLIND_INDEX_KEY``), ``batch`` rows
    per short transaction. A row the app changed meanwhile is left alone (its new value is under
    the active key already): each UPDATE names the token it replaces. ``progress(done, total,
    changed)`` is called after each batch. Returns (rows read, values re-encrypted)."""
    keys = keys or keyring()
    table = _raw_table(column)
    value = table.c[column.name]
    with engine.connect() as connection:
        total = connection.execute(
            sa.select(sa.func.count()).select_from(table).where(value.is_not(None))
        ).scalar_one()
    done = changed = 0
    after: Any = 0
    read = (
        sa.select(table.c.id, value)
        .where(value.is_not(None), table.c.id > sa.bindparam("after"))
        .order_by(table.c.id)
        .limit(batch)
    )
    while True:
        with engine.begin() as connection:
            rows = connection.execute(read, {"after": after}).all()
            if not rows:
                break
            updates = []
            for row_id, token in rows:
                if not everything and key_id(token) == keys.active_id:
                    continue
                plain = keys.decrypt(token, column.context)
                update = {
                    "_row": row_id,
                    "_old": token,
                    "_new": keys.encrypt(plain, column.context),
                }
                if column.blind:
                    update["_blind"] = keys.blind(plain, column.context)
                updates.append(update)
            if updates:
                values: dict[str, Any] = {column.name: sa.bindparam("_new")}
                if column.blind:
                    values[column.blind] = sa.bindparam("_blind")
                statement = (
                    table.update()
                    .where(table.c.id == sa.bindparam("_row"), value == sa.bindparam("_old"))
                    .values(values)
                )
                connection.execute(statement, updates)
                changed += len(updates)
            done += len(rows)
            after = rows[-1][0]
        if progress is not None:
            progress(done, total, changed)
    if progress is not None and done == 0:  # nothing to read: said all the same
        progress(0, total, 0)
    return done, changed


def encrypt_column(
    connection: sa.Connection, table: str, column: str, context: str, blind: str = ""
) -> int:
    """A migration's step: encrypt every plain value of ``table.column`` (and fill its blind
    index), in batches, on the migration's connection. Values that are tokens already are
    left as they are. Returns the values encrypted."""
    return _rewrite(connection, Column(table, column, context, blind), encrypt=True)


def decrypt_column(connection: sa.Connection, table: str, column: str, context: str) -> int:
    """A migration's step: decrypt every token of ``table.column`` back to its plain value."""
    return _rewrite(connection, Column(table, column, context), encrypt=False)


def _rewrite(connection: sa.Connection, column: Column, *, encrypt: bool) -> int:
    keys = keyring()
    table = _raw_table(column)
    value = table.c[column.name]
    read = (
        sa.select(table.c.id, sa.cast(value, sa.Text()))
        .where(value.is_not(None), table.c.id > sa.bindparam("after"))
        .order_by(table.c.id)
        .limit(ROTATE_BATCH)
    )
    count = 0
    after: Any = 0
    while rows := connection.execute(read, {"after": after}).all():
        updates = []
        for row_id, text in rows:
            if encrypt and not is_token(text):
                update = {"_row": row_id, "_new": keys.encrypt(text, column.context)}
                if column.blind:
                    update["_blind"] = keys.blind(text, column.context)
                updates.append(update)
            elif not encrypt and is_token(text):
                updates.append({"_row": row_id, "_new": keys.decrypt(text, column.context)})
        if updates:
            values: dict[str, Any] = {column.name: sa.bindparam("_new")}
            if column.blind:
                values[column.blind] = sa.bindparam("_blind")
            connection.execute(
                table.update().where(table.c.id == sa.bindparam("_row")).values(values), updates
            )
            count += len(updates)
        after = rows[-1][0]
    return count


# --- working copies: text the app keeps for a while (an import's uploaded table) --------------


def seal(text: str, context: str) -> str:
    """``text`` as a token when this process has keys installed (an app with encrypted fields:
    an uploaded table holds their values until imported), else as it is."""
    keys = _installed
    return text if keys is None else keys.encrypt(text, context)


def unseal(text: str, context: str) -> str:
    """The text ``seal`` kept: decrypted when it is a token."""
    return keyring().decrypt(text, context) if is_token(text) else text


# --- blind indexes of records written through the ORM (seed data, process steps) --------------

_WATCHED: set[type[Any]] = set()


def keep_blind_indexes(model: type[Any], fields: list[tuple[str, str, str]]) -> None:
    """Keep the blind indexes of ``model``'s encrypted fields on every ORM insert and update:
    ``fields`` holds (attribute, blind index attribute, context). Writes through
    ``crmgen_runtime.writes`` set them themselves (Core statements)."""
    if not fields or model in _WATCHED:
        return
    _WATCHED.add(model)

    def refresh(mapper: Any, connection: Any, target: Any) -> None:
        state = sa.inspect(target)
        for attr, blind, context in fields:
            history = state.attrs[attr].history
            if history.has_changes() or getattr(target, blind) is None:
                setattr(target, blind, blind_value(getattr(target, attr), context))

    sa.event.listen(model, "before_insert", refresh)
    sa.event.listen(model, "before_update", refresh)
