"""Personal data and retention: ``personal_data: {fields, roles}`` and ``retention: {after_days,
where, action}`` on an entity, checked into ``model.PersonalData`` and ``model.Retention``.

``personal_data.fields`` names the fields that hold a person's data and how erasure treats each:
``blank`` (emptied; not for a required field), ``pseudonym`` (a stable ``erased-<hash>`` text made
from the record's id, never from the value; for text-like fields) or ``{replace: VALUE}`` (a
fixed value that must fit the field). ``roles`` may export and erase (superusers always may).
``retention`` anonymises (as declared) or deletes the records that match ``where`` once they
have not changed for ``after_days`` days; the scheduler runs it (``crmgen_runtime.gdpr``).
"""

from __future__ import annotations

from typing import Any

from crmgen.language.context import Context
from crmgen.language.model import Erasure, Field, PersonalData, Retention
from crmgen.language.yaml_loader import Path

ERASE_MODES = ("blank", "pseudonym", "replace")
# the field types a pseudonym (``erased-1a2b3c4d5e``) fits
PSEUDONYM_TYPES = frozenset({"string", "text", "email"})
# what a fixed replacement may be, by field type
REPLACE_TYPES = frozenset(
    {"string", "text", "email", "phone", "url", "integer", "decimal", "money"}
)


def build_personal_data(
    ctx: Context, entity: str, raw: Any, path: Path, fields: tuple[Field, ...]
) -> PersonalData | None:
    """The checked ``personal_data:`` of ``entity`` (None when it declares none)."""
    if not isinstance(raw, dict):
        return None
    by_name = {f.name: f for f in fields}
    erasures = []
    for name, how in (raw.get("fields") or {}).items():
        at = path + ("fields", name)
        f = ctx.known_field(entity, name, at, at_key=True)
        if f is None:
            continue
        f = by_name.get(name, f)
        erasure = _erasure(ctx, entity, f, how, at)
        if erasure is not None:
            erasures.append(erasure)
    roles = tuple(raw.get("roles") or ())
    for i, role in enumerate(roles):
        ctx.known_role(role, path + ("roles", i))
    return PersonalData(tuple(erasures), roles, ctx.pos(path, at_key=True))


def _erasure(ctx: Context, entity: str, f: Field, how: Any, at: Path) -> Erasure | None:
    mode = how if isinstance(how, str) else "replace"
    if f.computed is not None or f.rollup is not None:
        ctx.error(
            at,
            "personal-data",
            f"'{f.name}' is computed by the app from other fields; declare those fields instead",
            at_key=True,
        )
        return None
    if mode == "blank":
        if f.required:
            ctx.error(
                at,
                "personal-data",
                f"'{f.name}' is required and cannot be blanked; use pseudonym or "
                "{replace: VALUE}",
            )
            return None
        return Erasure(f.name, "blank")
    if mode == "pseudonym":
        if f.type not in PSEUDONYM_TYPES:
            kinds = ", ".join(sorted(PSEUDONYM_TYPES))
            ctx.error(
                at,
                "personal-data",
                f"a pseudonym is text; '{f.name}' is a {f.type} field (pseudonyms fit {kinds}); "
                "use blank or {replace: VALUE}",
            )
            return None
        return Erasure(f.name, "pseudonym")
    value = how.get("replace") if isinstance(how, dict) else None
    if f.type not in REPLACE_TYPES or f.relation is not None:
        ctx.error(
            at,
            "personal-data",
            f"'{f.name}' is a {f.type} field: it is erased by blank, not by a fixed replacement",
        )
        return None
    if f.unique:
        ctx.error(
            at,
            "personal-data",
            f"'{f.name}' is unique: one fixed replacement would clash between erased records; "
            "use blank or pseudonym",
        )
        return None
    numeric = f.type in ("integer", "decimal", "money")
    if isinstance(value, bool) or not isinstance(value, (int, float) if numeric else str):
        ctx.error(
            at + ("replace",),
            "personal-data",
            f"the replacement of '{f.name}' must be a {'number' if numeric else 'text'}",
        )
        return None
    if not numeric:
        ctx.check_literal(f, value, at + ("replace",))
    return Erasure(f.name, "replace", value)


def build_retention(
    ctx: Context,
    entity: str,
    raw: Any,
    path: Path,
    personal: PersonalData | None,
    timestamps: bool = True,
) -> Retention | None:
    """The checked ``retention:`` of ``entity`` (None when it has none)."""
    if not isinstance(raw, dict):
        return None
    if not timestamps:
        ctx.error(
            path,
            "retention",
            f"retention counts days from each record's last change, and {entity} keeps no "
            "timestamps (timestamps: false)",
            at_key=True,
        )
    action = raw.get("action", "anonymize")
    if action == "anonymize" and personal is None:
        ctx.error(
            path + ("action",),
            "retention",
            f"anonymize erases the personal data {entity} declares, and it declares none: "
            "add personal_data: {fields: ...}, or use action: delete",
        )
    where = ctx.where(raw.get("where"), path + ("where",), entity, ctx.scope())
    return Retention(int(raw["after_days"]), action, where, ctx.pos(path, at_key=True))
