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

# Words SQL engines reserve (PostgreSQL and SQLite, the common core of SQL:2016).
SQL_RESERVED = frozenset(
    [
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "authorization",
        "between",
        "binary",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "cross",
        "current_catalog",
        "current_date",
        "current_role",
        "current_schema",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "exists",
        "false",
        "fetch",
        "for",
        "foreign",
        "freeze",
        "from",
        "full",
        "grant",
        "group",
        "having",
        "ilike",
        "in",
        "initially",
        "inner",
        "intersect",
        "into",
        "is",
        "isnull",
        "join",
        "lateral",
        "leading",
        "left",
        "like",
        "limit",
        "localtime",
        "localtimestamp",
        "natural",
        "not",
        "notnull",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "outer",
        "overlaps",
        "placing",
        "primary",
        "references",
        "returning",
        "right",
        "select",
        "session_user",
        "similar",
        "some",
        "symmetric",
        "table",
        "tablesample",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "verbose",
        "when",
        "where",
        "window",
        "with",
        "abort",
        "action",
        "add",
        "after",
        "alter",
        "attach",
        "autoincrement",
        "before",
        "begin",
        "by",
        "cascade",
        "commit",
        "conflict",
        "database",
        "deferred",
        "delete",
        "detach",
        "drop",
        "each",
        "escape",
        "exclude",
        "exclusive",
        "explain",
        "fail",
        "filter",
        "following",
        "glob",
        "if",
        "ignore",
        "immediate",
        "index",
        "indexed",
        "insert",
        "instead",
        "key",
        "match",
        "materialized",
        "no",
        "nothing",
        "of",
        "others",
        "over",
        "partition",
        "plan",
        "pragma",
        "preceding",
        "query",
        "raise",
        "range",
        "recursive",
        "regexp",
        "reindex",
        "release",
        "rename",
        "replace",
        "restrict",
        "rollback",
        "row",
        "rows",
        "savepoint",
        "set",
        "temp",
        "temporary",
        "ties",
        "transaction",
        "trigger",
        "unbounded",
        "update",
        "vacuum",
        "values",
        "view",
        "virtual",
    ]
)

# Names the generated code and API already use for every entity.
BUILTIN_FIELDS = frozenset({"id", "version", "created_at", "updated_at", "deleted_at"})
# Names of list-query parameters (CONTRACT.md): a field may not shadow them.
QUERY_PARAMETERS = frozenset({"limit", "cursor", "offset", "sort", "q", "fields", "format"})
# Attributes SQLAlchemy declarative classes and our base class reserve.
ORM_RESERVED = frozenset({"metadata", "registry", "query", "session", "model", "self", "cls"})
# Attributes the generated User model keeps for authentication.
USER_RESERVED = frozenset(
    {"password_hash", "roles", "role_entries", "failed_logins", "locked_until"}
)
# Entity names the generated app defines itself.
RESERVED_ENTITIES = frozenset(
    {
        "Base",
        "Session",
        "Audit",
        "AuditEntry",
        "LoginAttempt",
        "Outbox",
        "OutboxMessage",
        "Job",
        "UserRole",
        "UserSession",
        "PasswordReset",
        "RateLimit",
        "ScheduleRun",
        "ImportUpload",
        "EmailChange",
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
            return f"'{name}' is reserved by the generated app; choose another entity name"
    else:
        if not SNAKE_NAME.match(name):
            return (
                f"'{name}' is not a valid {what}name: use snake_case (lowercase letters, digits "
                f"and single '_', starting with a letter){_suggest(name, kind)}"
            )
    if len(name) > MAX_NAME_LENGTH:
        return f"'{name}' is too long for {article} {what}name ({len(name)} > {MAX_NAME_LENGTH} characters)"
    lowered = snake_case(name)
    if keyword.iskeyword(lowered) or keyword.issoftkeyword(lowered):
        return f"'{name}' is a Python keyword and cannot name {article} {kind}"
    if kind != "entity" and lowered in SQL_RESERVED:
        return f"'{name}' is an SQL reserved word and cannot name {article} {kind}"
    return None


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
