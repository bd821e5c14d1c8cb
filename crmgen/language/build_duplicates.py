"""Duplicate rules: ``duplicates: [{email: email}, {phone: phone}, {fuzzy: [name], threshold}]``
on an entity, checked into ``model.DuplicateRule``.

An ``email`` rule names one e-mail (or string) field, compared trimmed and lower-cased; a
``phone`` rule one phone (or string) field, compared in E.164; a ``fuzzy`` rule one or more
text fields, joined by spaces and compared by trigram similarity (PostgreSQL's pg_trgm, the
rapidfuzz library on SQLite), at least ``threshold`` (above 0, at most 1; 0.6 when left out).
The app warns on creating a record that matches a rule, lists the pairs that do and merges two
records (``crmgen_runtime.duplicates``).
"""

from __future__ import annotations

from typing import Any

from crmgen.language.context import USER, Context
from crmgen.language.model import DEFAULT_THRESHOLD, DUPLICATE_KINDS, DuplicateRule
from crmgen.language.yaml_loader import Path

# The field types each kind of rule compares.
TYPES = {
    "email": ("email", "string"),
    "phone": ("phone", "string"),
    "fuzzy": ("string", "text", "email"),
}


def build_duplicates(ctx: Context, entity: str, raw: Any, path: Path) -> tuple[DuplicateRule, ...]:
    """The checked ``duplicates:`` of ``entity`` (the rules without errors)."""
    if not isinstance(raw, list):
        return ()
    if entity == USER:
        return ()  # the built-in User entity takes no duplicates (reported by build_entities)
    rules = []
    for i, item in enumerate(raw):
        at = path + (i,)
        if not isinstance(item, dict):
            continue
        kinds = [k for k in DUPLICATE_KINDS if k in item]
        if len(kinds) != 1:
            ctx.error(
                at,
                "duplicates",
                "a duplicates rule has one kind: email, phone or fuzzy"
                + (f" (this one has {', '.join(kinds)})" if kinds else ""),
            )
            continue
        kind = kinds[0]
        given = item[kind]
        names = (given,) if isinstance(given, str) else tuple(given)
        if not names:
            ctx.error(at + (kind,), "duplicates", "a fuzzy rule compares at least one field")
            continue
        ok = True
        for j, name in enumerate(names):
            where = at + (kind,) if isinstance(given, str) else at + (kind, j)
            f = ctx.known_field(entity, name, where)
            if f is None:
                ok = False
                continue
            if f.relation or f.type not in TYPES[kind]:
                what = "a link" if f.relation else f"a {f.type} field"
                ctx.error(
                    where,
                    "duplicates",
                    f"{_article(kind)} {kind} rule compares {_either(TYPES[kind])} fields; "
                    f"'{name}' is {what}",
                )
                ok = False
            elif f.encrypted:  # stored as ciphertext: the database can't compare it
                ctx.error(
                    where,
                    "encrypted",
                    f"'{name}' is encrypted: {_article(kind)} {kind} rule compares "
                    + ("similar texts" if kind == "fuzzy" else "normalised values")
                    + " in the database, which never sees an encrypted value; "
                    "choose another field",
                )
                ok = False
        threshold = item.get("threshold")
        if threshold is not None and kind != "fuzzy":
            ctx.error(
                at + ("threshold",),
                "duplicates",
                f"threshold is for fuzzy rules; {_article(kind)} {kind} rule matches equal values",
                at_key=True,
            )
            ok = False
        elif kind == "fuzzy":
            if threshold is None:
                threshold = DEFAULT_THRESHOLD
            elif isinstance(threshold, bool) or not 0 < threshold <= 1:
                ctx.error(
                    at + ("threshold",),
                    "duplicates",
                    f"threshold is a similarity above 0 and at most 1 (0.6 is a good start), "
                    f"not {threshold}",
                )
                ok = False
        if ok:
            value = float(threshold) if kind == "fuzzy" else None
            rules.append(DuplicateRule(kind, names, value, ctx.pos(at)))
    return tuple(rules)


def _article(kind: str) -> str:
    return "an" if kind == "email" else "a"


def _either(names: tuple[str, ...]) -> str:
    return ", ".join(names[:-1]) + " or " + names[-1]
