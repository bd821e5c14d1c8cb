"""Describe the tables of a generated app's models as plain JSON (for migrations).

This module's source runs in a child process (``python -c``) with the freshly rendered app as
its working folder, so importing the app's ``models`` cannot touch crmgen's own process. It
needs SQLAlchemy and the standard library only. Output: ``{"tables": [...]}`` on stdout, every
type, default and CHECK clause written as the Python/SQL text a migration uses.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any


def type_expr(sa_type: Any) -> str:
    """Python source that rebuilds ``sa_type`` in a migration (``sa.String(length=80)``).

    A type of the app (a ``TypeDecorator``, such as its exact decimals) is written as what it
    stores: its base type, with a variant for each database where it stores something else.
    """
    import re

    import sqlalchemy as sa

    if isinstance(sa_type, sa.types.TypeDecorator):
        return _stored_type(sa_type)
    module = type(sa_type).__module__
    prefix = "postgresql." if module.startswith("sqlalchemy.dialects.postgresql") else "sa."
    head, _, args = repr(sa_type).partition("(")
    # nested types in the arguments (JSONB(astext_type=Text())) get their module too
    args = re.sub(
        r"(?<![\w.])([A-Z]\w*)\(",
        lambda m: ("sa." if hasattr(sa, m.group(1)) else "") + m.group(1) + "(",
        args,
    )
    text = f"{prefix}{head}({args}"
    for dialect, impl in sorted(getattr(sa_type, "_variant_mapping", {}).items()):
        text += f".with_variant({type_expr(impl)}, {dialect!r})"
    return text


def _stored_type(sa_type: Any) -> str:
    """A ``TypeDecorator`` as its base type, with a variant per database that stores another."""
    base = type_expr(sa_type.impl_instance)
    text = base
    for name, dialect in _dialects().items():
        stored = type_expr(sa_type.load_dialect_impl(dialect))
        if stored != base:
            text += f".with_variant({stored}, {name!r})"
    return text


def _dialects() -> dict[str, Any]:
    """The databases the app runs on, by name."""
    from sqlalchemy.dialects import postgresql, sqlite

    return {"postgresql": postgresql.dialect(), "sqlite": sqlite.dialect()}


def check_texts(check: Any) -> dict[str, str]:
    """A CHECK constraint's SQL (``sqltext``), and its SQLite text when that differs (a typed
    value such as an exact decimal's limit is written in whole units there)."""
    text = str(check.sqltext.compile(compile_kwargs={"literal_binds": True}))
    sqlite = str(
        check.sqltext.compile(dialect=_dialects()["sqlite"], compile_kwargs={"literal_binds": True})
    )
    return {"sqltext": text} if sqlite == text else {"sqltext": text, "sqlite": sqlite}


def default_expr(column: Any) -> str | None:
    """Python source of a column's server default, or None."""
    import sqlalchemy as sa
    from sqlalchemy.sql import elements, functions

    default = column.server_default
    if default is None:
        return None
    arg = getattr(default, "arg", None)
    if isinstance(arg, str):
        return repr(arg)
    if isinstance(arg, elements.True_):
        return "sa.true()"
    if isinstance(arg, elements.False_):
        return "sa.false()"
    if isinstance(arg, functions.FunctionElement) and not list(arg.clauses):
        return f"sa.func.{arg.name}()"
    if isinstance(arg, elements.TextClause):
        return f"sa.text({arg.text!r})"
    compiled = str(arg.compile(compile_kwargs={"literal_binds": True}))
    return f"sa.text({compiled!r})" if isinstance(arg, sa.sql.ClauseElement) else None


def describe(metadata: Any) -> dict[str, Any]:
    import sqlalchemy as sa

    tables = []
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        pk = table.primary_key
        tables.append(
            {
                "name": table.name,
                "comment": table.comment,
                "columns": [
                    {
                        "name": c.name,
                        "type": type_expr(c.type),
                        "nullable": bool(c.nullable),
                        "server_default": default_expr(c),
                        "comment": c.comment,
                    }
                    for c in table.columns
                ],
                "primary_key": {"name": pk.name, "columns": [c.name for c in pk.columns]},
                "foreign_keys": sorted(
                    (
                        {
                            "name": fk.name,
                            "columns": [c.name for c in fk.columns],
                            "ref_table": fk.referred_table.name,
                            "ref_columns": [e.column.name for e in fk.elements],
                            "ondelete": fk.ondelete,
                        }
                        for fk in table.foreign_key_constraints
                    ),
                    key=lambda d: d["name"],
                ),
                "unique": sorted(
                    (
                        {"name": u.name, "columns": [c.name for c in u.columns]}
                        for u in table.constraints
                        if isinstance(u, sa.UniqueConstraint)
                    ),
                    key=lambda d: d["name"],
                ),
                "checks": sorted(
                    (
                        {"name": ck.name, **check_texts(ck)}
                        for ck in table.constraints
                        if isinstance(ck, sa.CheckConstraint)
                    ),
                    key=lambda d: d["name"],
                ),
                "indexes": sorted(
                    (
                        {
                            "name": i.name,
                            "columns": [c.name for c in i.columns],
                            "unique": bool(i.unique),
                        }
                        for i in table.indexes
                    ),
                    key=lambda d: d["name"],
                ),
            }
        )
    return {"tables": tables}


def main(package: str) -> None:
    sys.path.insert(0, ".")
    models = importlib.import_module(f"{package}.models")
    sys.stdout.write(json.dumps(describe(models.Base.metadata)))


if __name__ == "__main__":
    main(sys.argv[1])
