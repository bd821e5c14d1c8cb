"""Encrypted fields: what ``encrypted:`` accepts, and what an encrypted field cannot do.

An encrypted field (``encrypted: true``, or ``encrypted: {search: exact}`` with a keyed blind
index for equality search) is stored as AES-256-GCM ciphertext (``crmgen_runtime.crypto``): the
database sees neither its value nor its order. So nothing may sort it, compare it in SQL beyond
emptiness, search it as text, index or constrain it, show it as a record's name (which is copied
into notifications and the timeline) or copy it into another stored field (a rollup). The checks
here say so where the spec asks for one of these; ``Field.encrypted`` tells other checks (the
duplicate rules, say) that a field is encrypted.
"""

from __future__ import annotations

import re
from typing import Any

from crmgen.language.context import Context
from crmgen.language.model import Field, Index
from crmgen.language.yaml_loader import Path

# The field types whose values can be stored encrypted: text, and JSON (stored as its text).
ENCRYPTABLE = ("string", "text", "email", "phone", "url", "json")


WHAT = {"unique": "unique", "index": "indexed", "computed": "computed", "rollup": "a rollup"}


def article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def check_encrypted_field(ctx: Context, f: Field, raw: dict[str, Any], path: Path) -> None:
    """The field's own keys: its type, and none of the keys that need its plain value."""
    at = path + ("encrypted",)
    if f.type not in ENCRYPTABLE:
        ctx.error(
            at,
            "encrypted",
            f"{article(f.type)} {f.type} field cannot be encrypted; encrypted fields are of type "
            f"{', '.join(ENCRYPTABLE)}",
        )
        return
    if f.blind_index and f.type == "json":
        ctx.error(
            at + ("search",),
            "encrypted",
            "a json field has no exact search; search: exact applies to text fields",
        )
    refused = {
        "unique": "the database cannot compare encrypted values; with encrypted: "
        "{search: exact} the API finds equal values",
        "index": "the database cannot order encrypted values; encrypted: {search: exact} "
        "keeps an index for equality search",
        "computed": "a computed field is derived from other fields; encrypt the fields it reads",
        "rollup": "a rollup is kept from related records; it cannot be encrypted",
    }
    for key, why in refused.items():
        if raw.get(key) not in (None, False):
            ctx.error(
                path + (key,), "encrypted", f"an encrypted field cannot be {WHAT[key]}: {why}"
            )
    if raw.get("searchable"):
        ctx.error(
            path + ("searchable",),
            "encrypted",
            "an encrypted field cannot be searched as text (its words would be kept in a search "
            "index); use encrypted: {search: exact} for equality search",
        )


def check_encrypted_entity(
    ctx: Context,
    raw: dict[str, Any],
    fields: tuple[Field, ...],
    display: str,
    indexes: tuple[Index, ...],
    path: Path,
) -> None:
    """The entity's keys that would need an encrypted field's plain value or order."""
    encrypted = {f.name for f in fields if f.encrypted}
    if not encrypted:
        return
    if raw.get("display") in encrypted:
        ctx.error(
            path + ("display",),
            "encrypted",
            f"'{display}' is encrypted: a record's name is shown in links, notifications and "
            "the timeline; choose another display field",
        )
    for i, name in enumerate(raw.get("search") or ()):
        if name in encrypted:
            ctx.error(
                path + ("search", i),
                "encrypted",
                f"'{name}' is encrypted and cannot be searched as text; use encrypted: "
                "{search: exact} and filter the API by equality (?" + name + "=...)",
            )
    for i, (index, raw_index) in enumerate(zip(indexes, raw.get("indexes") or (), strict=False)):
        names = raw_index["fields"] if isinstance(raw_index, dict) else raw_index
        sub = path + ("indexes", i) + (("fields",) if isinstance(raw_index, dict) else ())
        for j, name in enumerate(names):
            if name in encrypted:
                what = "a unique index" if index.unique else "an index"
                ctx.error(
                    sub + (j,),
                    "encrypted",
                    f"'{name}' is encrypted: {what} needs its plain value; use encrypted: "
                    "{search: exact} for equality search",
                )
    own = re.compile(r"\brecord\.(" + "|".join(sorted(map(re.escape, encrypted))) + r")\b")
    for name, raw_field in (raw.get("fields") or {}).items():
        computed = raw_field.get("computed") if isinstance(raw_field, dict) else None
        found = own.search(computed) if isinstance(computed, str) else None
        if found:
            ctx.error(
                path + ("fields", name, "computed"),
                "encrypted",
                f"'{found.group(1)}' is encrypted: a computed field would store what it derives "
                "from it in plain text",
            )
    for role, rule in (raw.get("permissions") or {}).items():
        for action, access in rule.items() if isinstance(rule, dict) else ():
            where = access.get("where") if isinstance(access, dict) else None
            found = own.search(where) if isinstance(where, str) else None
            if found:
                ctx.error(
                    path + ("permissions", role, action, "where"),
                    "encrypted",
                    f"'{found.group(1)}' is encrypted: a record rule runs in the database, "
                    "which cannot compare its value; use another field",
                )
    raw_list = (raw.get("ui") or {}).get("list") or {}
    for i, item in enumerate(raw_list.get("sort") or ()):
        name = str(item).lstrip("-+")
        if name in encrypted:
            ctx.error(
                path + ("ui", "list", "sort", i),
                "encrypted",
                f"'{name}' is encrypted and has no order to sort by; sort by another field",
            )
    for i, name in enumerate(raw_list.get("filters") or ()):
        if name in encrypted:
            ctx.error(
                path + ("ui", "list", "filters", i),
                "encrypted",
                f"'{name}' is encrypted: a list filter needs its plain value (ranges, words); "
                "with encrypted: {search: exact} the API filters by equality (?" + name + "=...)",
            )


# Process steps whose text leaves the record: messages (through the outbox, or to the client),
# log lines, and values written into other records.
OUTBOUND_STEPS = (
    "email",
    "telegram",
    "sms",
    "notify",
    "http",
    "webhook",
    "error",
    "log",
    "create",
    "update",
    "set",
)


def check_encrypted_reads(ctx: Context, entities: list[Any]) -> None:
    """No process step that sends, logs or copies text, and no e-mail template, reads an
    encrypted field (``record.passport_number``): its plaintext would land in the outbox, the
    logs, a notification or another record. Read by name: a field of another entity with the
    same name is refused too (the message says which entity encrypts it)."""
    owners: dict[str, str] = {}
    for entity in entities:
        for f in entity.fields:
            if f.encrypted:
                owners.setdefault(f.name, entity.name)
    if not owners:
        return
    pattern = re.compile(r"\.(" + "|".join(sorted(map(re.escape, owners))) + r")\b")

    def scan(value: Any, path: Path, what: str) -> None:
        if isinstance(value, str):
            found = pattern.search(value)
            if found:
                name = found.group(1)
                ctx.error(
                    path,
                    "encrypted",
                    f"{what} reads '{name}', which {owners[name]} stores encrypted: its "
                    "plaintext would be sent, logged or copied in the clear; leave it out",
                )
        elif isinstance(value, dict):
            for key, item in value.items():
                scan(item, path + (key,), what)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                scan(item, path + (i,), what)

    def walk(value: Any, path: Path) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in OUTBOUND_STEPS:
                    scan(item, path + (key,), f"the {key} step")
                else:
                    walk(item, path + (key,))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, path + (i,))

    for name, process in (ctx.data.get("processes") or {}).items():
        if isinstance(process, dict):
            walk(process.get("steps"), ("processes", name, "steps"))
    for name, template in (ctx.data.get("email_templates") or {}).items():
        scan(template, ("email_templates", name), "the e-mail template")
