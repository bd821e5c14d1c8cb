"""Naming rules: what a name may look like, which names are taken, and derived names."""

from __future__ import annotations

import keyword
import re

ENTITY_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
SNAKE_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")
ENV_VAR = re.compile(r"^[A-Z][A-Z0-9_]*$")
ENUM_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
MAX_NAME_LENGTH = 48

# Names the generated code and API already use for every entity.
BUILTIN_FIELDS = frozenset({"id", "version", "created_at", "updated_at", "deleted_at"})
# Names of list-query parameters (CONTRACT.md; ``fields``, ``format`` planned): a field named so is filtered
# with an explicit operator (``format__eq=``); a back-reference may not take them.
QUERY_PARAMETERS = frozenset(
    {"limit", "cursor", "offset", "sort", "q", "fields", "format", "count"}
)
# The sub-collections of every record's path (/api/<plural>/{id}/comments; CONTRACT.md).
RECORD_COLLECTIONS = frozenset({"comments", "attachments", "emails"})
# Names a model's class keeps for itself (SQLAlchemy declarative's ``metadata`` and
# ``registry``, the runtime's ``display_field``): a field so named gets the attribute ``<name>_``
# (like a Python keyword: ``from`` -> ``from_``) and keeps its name everywhere else.
MODEL_RESERVED = frozenset({"metadata", "registry", "display_field"})
# Where a Python keyword truly cannot be a name, and why: everywhere else (entities, fields,
# back-references, roles, processes, endpoints, dashboards ...) it is a string, a class name
# or an attribute (``record.from_``).
KEYWORD_REFUSED = {
    "app": "the app's name is its Python package, and `import {name}` is no Python",
    "variable": "expressions read a variable by its bare name, and `{name}` alone is no expression",
    "value": "expressions read a computed value by its bare name, and `{name}` alone is no expression",
    "name": "the generated code cannot use it here",
}
# Attributes the generated User model keeps for authentication.
USER_RESERVED = frozenset(
    {"password_hash", "roles", "role_entries", "failed_logins", "locked_until", "locale", "invited"}
)
# Class names the generated models module defines or imports itself (its system tables' classes
# carry the ``Crm`` prefix, so ``Session``, ``Job`` or ``AuditEntry`` are free for entities).
RESERVED_ENTITIES = frozenset(
    {
        "Base",
        "Any",
        "Mapped",
        "DeclarativeBase",
        "AssociationProxy",
        "Decimal",
        "CrmUserRole",
        "CrmSession",
        "CrmLoginAttempt",
        "CrmPasswordReset",
        "CrmEmailChange",
        "CrmRateLimit",
        "CrmAuditEntry",
        "CrmOutboxMessage",
        "CrmScheduleRun",
        "CrmImportUpload",
        "CrmEmail",
        "CrmMailbox",
        "CrmImportFailure",
        "CrmWorkerHeartbeat",
        "CrmTwoFactor",
        "CrmSavedView",
        "CrmApiKey",
    }
)


def snake_case(name: str) -> str:
    """``DealStage`` -> ``deal_stage``; ``HTTPLog`` -> ``http_log``; ``KPIs`` -> ``kpis``."""
    name = re.sub(r"([A-Z]{2,})s(?=[A-Z]|$)", lambda m: m[1].capitalize() + "s", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


def name_problem(name: str, kind: str) -> str | None:
    """Why ``name`` cannot name a ``kind`` ("entity" or a snake_case kind), or None."""
    what = "" if kind == "name" else f"{kind} "
    article = "an" if kind[:1].lower() in "aeiou" else "a"
    if kind == "entity":
        if not ENTITY_NAME.match(name):
            return (
                f"'{name}' is not a valid entity name: use PascalCase letters and digits "
                f"(e.g. 'Contact', 'DealStage'){_suggest(name, kind)}"
            )
        if name in RESERVED_ENTITIES or name == "User":
            return f"'{name}' is a class the generated models module defines itself; choose another entity name"
    else:
        if not SNAKE_NAME.match(name):
            return (
                f"'{name}' is not a valid {what}name: use snake_case (lowercase letters, digits "
                f"and single '_', starting with a letter){_suggest(name, kind)}"
            )
    if len(name) > MAX_NAME_LENGTH:
        return f"'{name}' is too long for {article} {what}name ({len(name)} > {MAX_NAME_LENGTH} characters)"
    if keyword.iskeyword(name) and kind in KEYWORD_REFUSED:
        why = KEYWORD_REFUSED[kind].format(name=name)
        return f"'{name}' is a Python keyword: {why} (e.g. '{name}_value')"
    return None


def attribute(name: str) -> str:
    """The Python attribute of a field or back-reference ``name`` on the generated model:
    the name itself, or ``<name>_`` for a Python keyword or a name the model class keeps
    (``from`` -> ``from_``, ``metadata`` -> ``metadata_``). Names end with a letter or digit,
    so no field can be named like another's attribute."""
    if keyword.iskeyword(name) or name in MODEL_RESERVED:
        return f"{name}_"
    return name


def _suggest(name: str, kind: str) -> str:
    """ "; did you mean 'first_name'?" for 'FirstName' (or 'DealItem' for 'deal_item')."""
    if kind == "entity":
        candidate = "".join(w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", name) if w)
        ok = ENTITY_NAME.match(candidate)
    else:
        candidate = re.sub(r"[^a-z0-9]+", "_", snake_case(name)).strip("_")
        ok = SNAKE_NAME.match(candidate)
    if ok and candidate != name and name_problem(candidate, kind) is None:
        return f"; did you mean '{candidate}'?"
    return ""
