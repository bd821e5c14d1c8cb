"""Documents: an entity's print formats (an invoice, a commercial offer), with their checks.

A document shows header fields of the record, optional line rows (the records of a reverse
relation, e.g. an order's lines) and a total; its title and footer are sandboxed Jinja templates
over the record's fields. Every name must exist, the templates must parse and use only known
names, the total must be a number, and the roles given must be able to read the record.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from crmgen.diagnostics import Diagnostic, Position, did_you_mean
from crmgen.language.context import Context
from crmgen.language.fields import numeric_types
from crmgen.language.model import Document, DocumentLines, DocumentTotal, Field, Permission
from crmgen.language.schema import DOCUMENT_FORMATS
from crmgen.language.text import Text, humanize
from crmgen.language.yaml_loader import Path

# Names a title or footer may use beside the record's fields.
TEMPLATE_NAMES = ("id", "today")
_JINJA = SandboxedEnvironment()


def build_documents(
    ctx: Context,
    entity: str,
    raw: dict[str, Any],
    default_fields: tuple[str, ...],
    permissions: tuple[Permission, ...],
    path: Path,
) -> tuple[Document, ...]:
    """The documents of ``entity`` (its ``documents:`` mapping), checked."""
    return tuple(
        _document(ctx, entity, name, spec or {}, default_fields, permissions, path + (name,))
        for name, spec in raw.items()
    )


def _document(
    ctx: Context,
    entity: str,
    name: str,
    raw: dict[str, Any],
    default_fields: tuple[str, ...],
    permissions: tuple[Permission, ...],
    path: Path,
) -> Document:
    table = ctx.fields.get(entity, {})
    fields = tuple(raw.get("fields") or default_fields)
    for i, field_name in enumerate(raw.get("fields") or ()):
        _single(ctx, entity, field_name, path + ("fields", i))
    lines = _lines(ctx, entity, raw["lines"], path + ("lines",)) if "lines" in raw else None
    total = _total(ctx, entity, raw.get("total"), lines, path + ("total",))
    names = tuple(
        n for n, f in table.items() if f.relation is None or f.relation.kind != "many_to_many"
    )
    title = Text.of(raw.get("title"))
    footer = Text.of(raw.get("footer"))
    for key in ("title", "footer"):
        value = raw.get(key)
        texts = value.items() if isinstance(value, dict) else [(None, value)] if value else []
        for locale, text in texts:
            where = path + (key,) if locale is None else path + (key, locale)
            check_template(ctx, text, where, names + TEMPLATE_NAMES)
    roles = tuple(raw.get("roles") or ())
    for i, role in enumerate(roles):
        if ctx.known_role(role, path + ("roles", i)):
            _role_may_read(ctx, entity, role, permissions, path + ("roles", i))
    return Document(
        name=name,
        label=Text.of(raw.get("label"), humanize(name)),
        position=ctx.pos(path, at_key=True),
        fields=fields,
        formats=tuple(f for f in DOCUMENT_FORMATS if f in (raw.get("formats") or DOCUMENT_FORMATS)),
        title=title,
        footer=footer,
        lines=lines,
        total=total,
        roles=roles,
    )


def _single(ctx: Context, entity: str, name: str, path: Path) -> Field | None:
    """A field shown as one value: it must exist and not be a many-to-many list."""
    found = ctx.known_field(entity, name, path)
    if found is not None and found.relation is not None and found.relation.kind == "many_to_many":
        ctx.error(
            path,
            "document",
            f"'{name}' is a list of links to {found.relation.target}; a document shows single values (list them as lines instead)",
        )
        return None
    return found


def _lines(ctx: Context, entity: str, raw: dict[str, Any], path: Path) -> DocumentLines | None:
    """Follow ``from`` (to-one references, then a reverse relation) and check the columns."""
    parts = raw["from"].split(".")
    current = entity
    for part in parts[:-1]:
        found = ctx.known_field(current, part, path + ("from",))
        if found is None:
            return None
        if found.relation is None or found.relation.kind == "many_to_many":
            ctx.error(
                path + ("from",),
                "document-lines",
                f"'{part}' is not a reference to one record; the lines follow references (e.g. sales_order.lines), then a reverse relation",
            )
            return None
        current = found.relation.target
    if current not in ctx.fields:
        return None  # a broken entity: its own errors are reported already
    back = parts[-1]
    sources = {
        f.relation.back: (other, f)
        for other, table in ctx.fields.items()
        for f in table.values()
        if f.relation is not None and f.relation.target == current and f.relation.back
    }
    many = {k: v for k, v in sources.items() if v[1].relation.kind == "many_to_one"}  # type: ignore[union-attr]
    if back not in many:
        if back in sources:
            problem = f"'{back}' of {current} is a single record (a one-to-one link); lines need a reverse relation with many records"
        elif back in ctx.fields[current]:
            problem = f"'{back}' is a field of {current}, not a reverse relation; lines come from the records that reference {current}"
        else:
            hint = (
                did_you_mean(back, many)
                or f" (its reverse relations: {', '.join(sorted(many)) or 'none'})"
            )
            problem = f"{current} has no reverse relation '{back}'{hint}"
        ctx.error(path + ("from",), "document-lines", problem)
        return None
    rows_entity, link = many[back]
    for i, column in enumerate(raw["columns"]):
        _single(ctx, rows_entity, column, path + ("columns", i))
    return DocumentLines(raw["from"], rows_entity, link.name, tuple(raw["columns"]))


def _total(
    ctx: Context,
    entity: str,
    raw: Any,
    lines: DocumentLines | None,
    path: Path,
) -> DocumentTotal | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        found = ctx.known_field(entity, raw, path)
        if found is not None and found.type not in numeric_types():
            ctx.error(
                path,
                "document-total",
                f"the total '{raw}' is a {found.type} field; a total is a number ({', '.join(numeric_types())})",
            )
        return DocumentTotal(field=raw)
    column = raw["sum"]
    if lines is None:
        ctx.error(
            path + ("sum",),
            "document-total",
            "a sum needs lines: add lines: {from: ..., columns: [...]} or name a field of the record",
        )
        return DocumentTotal(sum=column)
    if column not in lines.columns:
        hint = did_you_mean(column, lines.columns) or f" ({', '.join(lines.columns)})"
        ctx.error(
            path + ("sum",),
            "document-total",
            f"the sum '{column}' is not one of the lines' columns{hint}",
        )
        return DocumentTotal(sum=column)
    found = ctx.fields.get(lines.entity, {}).get(column)
    if found is not None and found.type not in numeric_types():
        ctx.error(
            path + ("sum",),
            "document-total",
            f"the sum '{column}' is a {found.type} column; only numbers add up ({', '.join(numeric_types())})",
        )
    return DocumentTotal(sum=column)


def _role_may_read(
    ctx: Context, entity: str, role: str, permissions: tuple[Permission, ...], path: Path
) -> None:
    raw_role = (ctx.data.get("roles") or {}).get(role)
    if isinstance(raw_role, dict) and raw_role.get("superuser"):
        return
    rule = next((p for p in permissions if p.role == role), None)
    if rule is None or rule.access("read").mode == "none":
        ctx.error(
            path,
            "document-role",
            f"the role '{role}' may not read {entity} records, so it cannot print them; give it read access in {entity}'s permissions",
        )


def check_template(ctx: Context, text: str, path: Path, names: tuple[str, ...]) -> None:
    """The template parses, loads no other file and uses only ``names``."""
    try:
        parsed = _JINJA.parse(text)
        used = sorted(meta.find_undeclared_variables(parsed))
    except TemplateSyntaxError as exc:
        base = ctx.pos(path)
        message = " ".join(str(exc.message or "invalid syntax").split())
        pos = Position(base.file, base.line + (exc.lineno or 1) - 1, base.column)
        ctx.diagnostics.append(Diagnostic(pos, "error", "template", f"bad template: {message}"))
        return
    except RecursionError:
        ctx.error(path, "template", "bad template: it nests too deeply")
        return
    loads = list(parsed.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)))
    if loads:
        ctx.error(
            path,
            "template",
            "bad template: a document's title or footer cannot load other files",
        )
        return
    for name in used:
        if name not in names:
            hint = did_you_mean(name, names)
            if not hint and name == "record":
                hint = " (write the field's name alone, e.g. {{ number }})"
            ctx.diagnostics.append(
                Diagnostic(
                    _name_pos(ctx, text, name, path),
                    "error",
                    "template",
                    f"the template uses unknown name '{name}'{hint}",
                )
            )


def _name_pos(ctx: Context, text: str, name: str, path: Path) -> Position:
    """Where ``name`` is first used in a one-line template (else where the text starts)."""
    base = ctx.pos(path)
    found = re.search(rf"(?<![\w.]){re.escape(name)}\b", text)
    if found is None or "\n" in text or "\\" in text or "''" in text:
        return base
    return Position(base.file, base.line, base.column + found.start())
