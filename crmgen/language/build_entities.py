"""Entities: fields, relations, indexes, permissions and UI hints, with their semantic checks."""

from __future__ import annotations

import re
from typing import Any

from crmgen_runtime.tables import SYSTEM_NAMES
from crmgen_runtime.web import icons

from crmgen.diagnostics import NOWHERE, did_you_mean
from crmgen.language import fields as field_types
from crmgen.language.build_documents import build_documents
from crmgen.language.build_duplicates import build_duplicates
from crmgen.language.build_encryption import check_encrypted_entity, check_encrypted_field
from crmgen.language.build_gdpr import build_personal_data, build_retention
from crmgen.language.build_rollups import build_rollup
from crmgen.language.build_workflows import build_workflow
from crmgen.language.context import USER, Context, freeze
from crmgen.language.expressions import EntityValue, Opaque, Struct
from crmgen.language.model import (
    ACTIONS,
    Access,
    CalendarView,
    Entity,
    EntityUI,
    EnumValue,
    Field,
    FormSection,
    Index,
    KanbanView,
    ListView,
    Permission,
    Relation,
    Value,
)
from crmgen.language.names import (
    BUILTIN_FIELDS,
    QUERY_PARAMETERS,
    RECORD_COLLECTIONS,
    RESERVED_ENTITIES,
    USER_RESERVED,
    name_problem,
    snake_case,
)
from crmgen.language.plurals import pluralize
from crmgen.language.text import Text, humanize
from crmgen.language.yaml_loader import Path

# Tables the generated app keeps for itself (its system tables carry the ``crm_`` prefix:
# crmgen_runtime.tables) and its own API collections, present and planned (CONTRACT.md).
RESERVED_TABLES = frozenset({"users", "alembic_version"} | set(SYSTEM_NAMES))
RESERVED_API_PATHS = frozenset(
    {
        "auth",
        "audit",
        "outbox",
        "users",
        "processes",
        "actions",
        "import",
        "export",
        "search",
        "reports",
        "dashboards",
        "account",
        "notifications",
        "views",
        "api_keys",
        "files",
        "f",  # public forms: /f/<name>
        "hooks",  # inbound webhooks: /hooks/<name>
    }
)
# Names a back-reference may not take (the default one then gets the field's name in front)
RESERVED_BACKS = BUILTIN_FIELDS | QUERY_PARAMETERS | RECORD_COLLECTIONS
USER_FIELDS = ("email", "name", "active")
USER_EXTENSION_KEYS = {
    "label",
    "plural_label",
    "description",
    "fields",
    "permissions",
    "ui",
    "display",
    "search",
}


def builtin_user_fields() -> dict[str, Field]:
    return {
        "email": Field(
            "email",
            "email",
            Text.of("E-mail"),
            NOWHERE,
            required=True,
            unique=True,
            searchable=True,
            max_length=254,
        ),
        "name": Field("name", "string", Text.of("Name"), NOWHERE, searchable=True, max_length=200),
        "active": Field("active", "boolean", Text.of("Active"), NOWHERE),
    }


def build_entities(ctx: Context) -> list[Entity]:
    raw_entities: dict[str, Any] = ctx.data.get("entities") or {}
    path0: Path = ("entities",)
    ctx.fields[USER] = builtin_user_fields()
    for name, raw in raw_entities.items():
        path = path0 + (name,)
        if name == USER:
            for key in raw:
                if key not in USER_EXTENSION_KEYS:
                    ctx.error(
                        path + (key,),
                        "user-extension",
                        f"'{key}' cannot be changed on the built-in User entity (it may add fields, labels, permissions and ui)",
                        True,
                    )
        else:
            problem = name_problem(name, "entity")
            if problem:
                ctx.error(path, "name", problem, at_key=True)
        table = ctx.fields.setdefault(name, {})
        for fname, fraw in (raw.get("fields") or {}).items():
            fpath = path + ("fields", fname)
            if name == USER and fname in USER_FIELDS:
                builtin = table[fname]
                if (
                    isinstance(fraw, dict)
                    and fraw.get("type") == builtin.type
                    and set(fraw) <= {"type", "label", "help"}
                ):
                    # Relabelling a built-in field (e.g. in every locale) is fine; its type and rules stay.
                    table[fname] = _replace(
                        builtin,
                        label=Text.of(fraw.get("label"), humanize(fname))
                        if "label" in fraw
                        else builtin.label,
                        help=Text.of(fraw.get("help")),
                    )
                    continue
                ctx.error(
                    fpath,
                    "name",
                    f"'{fname}' is a built-in field of User; it cannot be redefined (only relabelled: {fname}: {{type: {builtin.type}, label: ...}})",
                    True,
                )
                continue
            if name == USER and fname in USER_RESERVED:
                ctx.error(
                    fpath,
                    "name",
                    f"'{fname}' is used by the generated app's login on User; choose another field name",
                    True,
                )
                continue
            table[fname] = build_field(ctx, name, fname, fraw, fpath)
        for fname, fraw in (raw.get("fields") or {}).items():
            if isinstance(fraw, dict) and fraw.get("consent") and fname in table:
                _consent_fields(ctx, table, fname, path + ("fields", fname))
    _relations(ctx, raw_entities)
    built = [
        _entity(ctx, name, raw_entities.get(name) or {}, path0 + (name,))
        for name in _ordered(raw_entities)
    ]
    _clashes(ctx, built)
    return built


CONSENT_SOURCE_LENGTH = 16  # api, form, user, import, process (crmgen_runtime.consent)


def _consent_fields(ctx: Context, table: dict[str, Field], name: str, path: Path) -> None:
    """The read-only companions of the consent field ``name``: when it last changed
    (``<name>_at``) and where the change came from (``<name>_source``)."""
    f = table[name]
    if f.type != "boolean":
        ctx.error(
            path + ("consent",),
            "consent",
            f"consent is a yes or no: '{name}' is a {f.type} field; make it a boolean",
        )
        return
    table[name] = _replace(f, consent=True)
    label = f.label
    for suffix, ftype, words in (
        (
            "_at",
            "datetime",
            {
                "en": "given or withdrawn at",
                "ru": "дата изменения",
                "id": "waktu perubahan",
                "bs": "vrijeme promjene",
                "zh": "变更时间",
            },
        ),
        (
            "_source",
            "string",
            {"en": "source", "ru": "источник", "id": "sumber", "bs": "izvor", "zh": "来源"},
        ),
    ):
        companion = name + suffix
        if companion in table:
            ctx.error(
                path + ("consent",),
                "consent",
                f"'{companion}' is kept by the app for the consent '{name}': rename the field "
                f"'{companion}' or drop consent",
            )
            continue
        texts = {
            locale: f"{label.get(locale) or humanize(name)}: {word}"
            for locale, word in words.items()
        }
        table[companion] = Field(
            companion,
            ftype,
            Text.of(texts, humanize(companion)),
            f.position,
            read_only=True,
            max_length=CONSENT_SOURCE_LENGTH if ftype == "string" else None,
        )


def _ordered(raw_entities: dict[str, Any]) -> list[str]:
    names = list(raw_entities)
    return names if USER in names else [USER] + names


def build_field(ctx: Context, entity: str, name: str, raw: Any, path: Path) -> Field:
    if isinstance(raw, str):
        raw = {"type": raw}
    ftype = raw["type"]
    kind = field_types.REGISTRY[ftype]
    problem = name_problem(name, "field")
    if problem is None:
        if name in BUILTIN_FIELDS:
            problem = f"'{name}' is a field every entity already has (id, version, created_at, updated_at, deleted_at): the app keeps the key, the version counter and the timestamps itself; choose another name"
        elif name in RECORD_COLLECTIONS and kind.relation:
            problem = f"the relation '{name}' would be the path /api/<plural>/{{id}}/{name}, which every record keeps for its own {name}; choose another name"
    if problem:
        ctx.error(path, "name", problem, at_key=True)
    exact = kind.exact
    needs = [k for k in ("to", "values") if k in kind.options and k not in raw]
    if needs:  # the one-word form (`owner: ref`) names the type but not what it needs
        example = {"to": "Company", "values": "[new, done]"}[needs[0]]
        article = "an" if ftype[:1] in "aeiou" else "a"
        ctx.error(
            path,
            "field-options",
            f"{article} {ftype} field needs '{needs[0]}': write {name}: {{type: {ftype}, {needs[0]}: {example}}}",
        )
    relation = None
    if kind.relation and "to" in raw:
        relation = Relation(
            kind="many_to_many"
            if ftype == "refs"
            else ("one_to_one" if raw.get("one_to_one") else "many_to_one"),
            target=raw["to"],
            back=raw.get("back", ""),
            on_delete=raw.get("on_delete") if ftype == "ref" else None,
            through=raw.get("through") if ftype == "refs" else None,
            display=raw.get("display"),
        )
    values = _enum_values(raw.get("values"))
    encrypted_raw = raw.get("encrypted", False)
    encrypted = encrypted_raw is not False
    blind_index = isinstance(encrypted_raw, dict) and encrypted_raw.get("search") == "exact"
    result = Field(
        name=name,
        type=ftype,
        label=Text.of(raw.get("label"), humanize(name)),
        position=ctx.pos(path, at_key=True),
        help=Text.of(raw.get("help")),
        required=bool(raw.get("required", False)),
        unique=bool(raw.get("unique", False)),
        index=bool(raw.get("index", False)),
        searchable=bool(raw.get("searchable", kind.searched_by_default and not encrypted)),
        read_only=bool(raw.get("read_only", False) or "computed" in raw or "rollup" in raw),
        min=raw.get("min"),
        max=raw.get("max"),
        min_length=raw.get("min_length"),
        max_length=raw.get("max_length", 255 if ftype == "string" else None),
        pattern=raw.get("pattern"),
        precision=raw.get("precision", 12 if exact else None),
        scale=raw.get("scale", 2 if exact else None),
        currency=raw.get("currency"),
        values=values,
        accept=tuple(raw.get("accept", ())),
        max_size_mb=raw.get("max_size_mb"),
        relation=relation,
        renamed_from=raw.get("renamed_from"),
        default=_default(ctx, ftype, raw, path),
        encrypted=encrypted,
        blind_index=blind_index,
    )
    _field_constraints(ctx, result, raw, path)
    if encrypted_raw is not False:
        check_encrypted_field(ctx, result, raw, path)
    return result


def _default(ctx: Context, ftype: str, raw: dict[str, Any], path: Path) -> Value | None:
    """The field's default: a literal that fits the field, or an '= expression' over ``user``."""
    if raw.get("default") is None:
        return None
    default = raw["default"]
    if isinstance(default, str) and default.startswith("="):
        return Value(
            expr=ctx.expr(
                default[1:], path + ("default",), ctx.scope(user=EntityValue(USER)), offset=1
            )
        )
    problem = field_types.REGISTRY[ftype].check_default(default, raw)
    if problem:
        ctx.error(path + ("default",), "default", problem)
    return Value(literal=freeze(default))


def _enum_values(raw: Any) -> tuple[EnumValue, ...]:
    if isinstance(raw, list):
        return tuple(EnumValue(v, Text.of(None, humanize(v))) for v in raw)
    if isinstance(raw, dict):
        out = []
        for v, detail in raw.items():
            if isinstance(detail, dict) and (
                "weight" in detail or "color" in detail or "label" in detail
            ):
                out.append(
                    EnumValue(
                        v,
                        Text.of(detail.get("label"), humanize(v)),
                        detail.get("weight"),
                        detail.get("color"),
                    )
                )
            else:
                out.append(EnumValue(v, Text.of(detail, humanize(v))))
        return tuple(out)
    return ()


def _field_constraints(ctx: Context, f: Field, raw: dict[str, Any], path: Path) -> None:
    if f.min is not None and f.max is not None and f.min > f.max:
        ctx.error(path + ("min",), "constraint", f"min {f.min} is greater than max {f.max}")
    if f.min_length is not None and f.max_length is not None and f.min_length > f.max_length:
        ctx.error(
            path + ("min_length",),
            "constraint",
            f"min_length {f.min_length} is greater than max_length {f.max_length}",
        )
    if f.pattern is not None:
        try:
            re.compile(f.pattern)
        except re.error as exc:
            ctx.error(
                path + ("pattern",),
                "constraint",
                f"the pattern is not a valid regular expression: {exc}",
            )
    if f.precision is not None and f.scale is not None and f.scale > f.precision:
        ctx.error(
            path + ("scale",),
            "constraint",
            f"scale {f.scale} is greater than precision {f.precision}",
        )
    if f.type == "enum":
        names = [v.name for v in f.values]
        seen: set[str] = set()
        for i, v in enumerate(names):
            if v in seen:
                ctx.error(path + ("values", i), "enum", f"the value '{v}' is listed twice")
            seen.add(v)
    if f.unique and f.type in ("refs", "json", "file", "image", "text"):
        ctx.error(path + ("unique",), "constraint", f"a {f.type} field cannot be unique")
    if f.relation and f.relation.on_delete == "set_null" and f.required:
        ctx.error(
            path + ("on_delete",),
            "relation",
            "on_delete: set_null cannot apply to a required reference; use cascade or restrict",
        )
    if f.renamed_from == f.name:
        ctx.error(path + ("renamed_from",), "rename", "renamed_from names the field itself")


def _relations(ctx: Context, raw_entities: dict[str, Any]) -> None:
    """Check targets and fill default back-reference names and on_delete rules."""
    for entity, table in list(ctx.fields.items()):
        for name, f in list(table.items()):
            if f.relation is None:
                continue
            path: Path = ("entities", entity, "fields", name)
            rel = f.relation
            if not ctx.known_entity(rel.target, path + ("to",)):
                continue
            siblings = [g for g in table.values() if g.relation and g.relation.target == rel.target]
            plural_snake = snake_case(_plural(raw_entities, entity))
            if rel.back:
                back = rel.back
            elif rel.kind == "one_to_one":
                back = snake_case(entity) if len(siblings) == 1 else f"{name}_{snake_case(entity)}"
            else:
                back = (
                    plural_snake
                    if len(siblings) == 1
                    and rel.target != entity
                    and plural_snake not in RESERVED_BACKS  # Comment -> Deal: Deal.deal_comments
                    else f"{name}_{plural_snake}"
                )
            on_delete = rel.on_delete
            if rel.kind != "many_to_many" and on_delete is None:
                on_delete = "restrict" if f.required else "set_null"
            through = rel.through
            if rel.kind == "many_to_many" and not through:
                through = f"{_table(raw_entities, entity)}_{name}"
            if rel.display is not None:
                _link_display(ctx, rel, path + ("display",))
            new = Relation(rel.kind, rel.target, back, on_delete, through, rel.display)
            table[name] = _replace(f, relation=new)


# Field types whose value is no text a link could show.
_NOT_SHOWN = frozenset({"ref", "refs", "json", "file", "image"})


def _link_display(ctx: Context, rel: Relation, path: Path) -> None:
    """A relation's ``display`` names a field of its target that reads as a text."""
    assert rel.display is not None
    shown = ctx.known_field(rel.target, rel.display, path)
    if shown is not None and shown.encrypted:
        ctx.error(
            path,
            "encrypted",
            f"a link shows its value wherever the record is named (lists, notifications, the "
            f"timeline): {rel.target}'s field '{rel.display}' is encrypted; name another field",
        )
    elif shown is not None and shown.type in _NOT_SHOWN:
        ctx.error(
            path,
            "relation",
            f"a link shows a value as text: {rel.target}'s field '{rel.display}' is a "
            f"{shown.type} field (name a text, number, date or enum field)",
        )


def _replace(f: Field, **changes: Any) -> Field:
    from dataclasses import replace

    return replace(f, **changes)


def _plural(raw_entities: dict[str, Any], entity: str) -> str:
    if entity == USER:
        return "Users"
    return (raw_entities.get(entity) or {}).get("plural") or pluralize(entity)


def _table(raw_entities: dict[str, Any], entity: str) -> str:
    if entity == USER:
        return "users"
    return (raw_entities.get(entity) or {}).get("table") or snake_case(
        _plural(raw_entities, entity)
    )


def _entity(ctx: Context, name: str, raw: dict[str, Any], path: Path) -> Entity:
    table = ctx.fields[name]
    raw_entities = ctx.data.get("entities") or {}
    plural = _plural(raw_entities, name)
    fields = tuple(
        build_rollup(
            ctx,
            name,
            _computed(ctx, name, f, _raw_field(raw, f.name), path + ("fields", f.name)),
            _raw_field(raw, f.name),
            path + ("fields", f.name),
        )
        for f in table.values()
    )
    display = raw.get("display") or _default_display(table)
    if raw.get("display"):
        ctx.known_field(name, display, path + ("display",))
    search = tuple(
        raw.get("search") or [f.name for f in fields if f.searchable and _searchable_type(f.type)]
    )
    for i, s in enumerate(raw.get("search") or []):
        f = ctx.known_field(name, s, path + ("search", i))
        if f is not None and not _searchable_type(f.type):
            textual = ", ".join(sorted(n for n in field_types.REGISTRY if _searchable_type(n)))
            ctx.error(
                path + ("search", i),
                "search",
                f"'{s}' is a {f.type} field; search works on text fields ({textual})",
            )
    owner = raw.get("owner")
    if owner:
        f = ctx.known_field(name, owner, path + ("owner",))
        if f is not None and (
            f.relation is None or f.relation.target != USER or f.relation.kind == "many_to_many"
        ):
            ctx.error(
                path + ("owner",),
                "owner",
                f"the owner field '{owner}' must be a ref to User (e.g. {owner}: {{type: ref, to: User}})",
            )
    indexes = tuple(
        _index(ctx, name, item, path + ("indexes", i))
        for i, item in enumerate(raw.get("indexes") or [])
    )
    permissions = tuple(
        _permission(ctx, name, role, rule, owner, path + ("permissions", role))
        for role, rule in (raw.get("permissions") or {}).items()
    )
    api_raw = raw.get("api", True)
    api = (
        ACTIONS
        if api_raw is True
        else ()
        if api_raw is False
        else tuple(a for a in ACTIONS if a in api_raw)
    )
    ui = _entity_ui(ctx, name, raw.get("ui") or {}, fields, display, path + ("ui",))
    check_encrypted_entity(ctx, raw, fields, display, indexes, path)
    documents = build_documents(
        ctx, name, raw.get("documents") or {}, ui.list.columns, permissions, path + ("documents",)
    )
    personal = build_personal_data(
        ctx, name, raw.get("personal_data"), path + ("personal_data",), fields
    )
    retention = build_retention(
        ctx,
        name,
        raw.get("retention"),
        path + ("retention",),
        personal,
        bool(raw.get("timestamps", True)),
    )
    return Entity(
        name=name,
        plural=plural,
        label=Text.of(raw.get("label"), humanize(name)),
        plural_label=Text.of(raw.get("plural_label"), humanize(plural)),
        table=_table(raw_entities, name),
        api_path=snake_case(plural),
        position=ctx.pos(path, at_key=True) if raw else NOWHERE,
        fields=fields,
        display=display,
        search=search,
        owner=owner,
        soft_delete=bool(raw.get("soft_delete", False)),
        attachments=bool(raw.get("attachments", False)),
        timestamps=bool(raw.get("timestamps", True)),
        comments=bool(raw.get("comments", False)),
        indexes=indexes,
        permissions=permissions,
        api=api,
        ui=ui,
        description=Text.of(raw.get("description")),
        builtin=name == USER,
        renamed_from=raw.get("renamed_from"),
        documents=documents,
        workflow=build_workflow(ctx, name, raw.get("workflow"), path + ("workflow",)),
        personal_data=personal,
        retention=retention,
        duplicates=build_duplicates(ctx, name, raw.get("duplicates"), path + ("duplicates",)),
    )


def _searchable_type(name: str) -> bool:
    """Whether fields of type ``name`` may be searched as text (``FieldType.searchable``)."""
    kind = field_types.REGISTRY.get(name)
    return kind is not None and kind.searchable


def _raw_field(raw: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = (raw.get("fields") or {}).get(name)
    return value if isinstance(value, dict) else None


def _computed(ctx: Context, entity: str, f: Field, raw: dict[str, Any] | None, path: Path) -> Field:
    if not raw or "computed" not in raw:
        return f
    # A computed value is stored with the record, so it reads only the record's own columns.
    own = tuple(
        (name, Opaque())
        for g in ctx.fields[entity].values()
        if g.name != f.name and (g.relation is None or g.relation.kind != "many_to_many")
        for name in ((g.name,) if g.relation is None else (g.column,))
    )
    links = tuple(
        (
            g.name,
            f"a computed field reads only its record's own columns; '{g.name}' is a link"
            + (f" (its key is record.{g.column})" if g.column else ""),
        )
        for g in ctx.fields[entity].values()
        if g.relation is not None
    )
    record = Struct(own + (("id", Opaque()),), entity, links)
    expression = ctx.expr(raw["computed"], path + ("computed",), ctx.scope(record=record))
    if f.relation is not None:
        ctx.error(path + ("computed",), "computed", "a reference field cannot be computed")
    return _replace(f, computed=expression)


def _default_display(table: dict[str, Field]) -> str:
    for candidate in ("name", "title", "subject", "number", "email"):
        if candidate in table and not table[candidate].encrypted:
            return candidate
    for f in table.values():
        if f.type in ("string", "email", "phone") and not f.encrypted:
            return f.name
    return "id"


def _index(ctx: Context, entity: str, raw: Any, path: Path) -> Index:
    names = raw["fields"] if isinstance(raw, dict) else raw
    unique = bool(raw.get("unique")) if isinstance(raw, dict) else False
    sub = path + ("fields",) if isinstance(raw, dict) else path
    for i, n in enumerate(names):
        f = ctx.known_field(entity, n, sub + (i,))
        if f is not None and f.relation is not None and f.relation.kind == "many_to_many":
            ctx.error(
                sub + (i,), "index", f"'{n}' is a many-to-many field and has no column to index"
            )
    if len(set(names)) != len(names):
        ctx.error(sub, "index", "an index names the same field twice")
    label = "uq" if unique else "ix"
    return Index(tuple(names), unique, f"{label}_{snake_case(entity)}_{'_'.join(names)}")


_SHORT_RULES = {
    "all": {"list": "all", "read": "all", "create": True, "update": "all", "delete": "all"},
    "read": {"list": "all", "read": "all"},
    "own": {"list": "own", "read": "own", "create": True, "update": "own", "delete": "own"},
    "none": {},
}


def _permission(
    ctx: Context, entity: str, role: str, raw: Any, owner: str | None, path: Path
) -> Permission:
    ctx.known_role(role, path, at_key=True)
    rule = _SHORT_RULES[raw] if isinstance(raw, str) else raw
    actions = []
    scope = ctx.scope(record=EntityValue(entity), user=EntityValue(USER))
    for action in ACTIONS:
        value = rule.get(action, False)
        apath = path + (action,) if isinstance(raw, dict) else path
        if value is True or value == "all":
            access = Access("all")
        elif value is False or value == "none":
            access = Access("none")
        elif value == "own":
            if not owner:
                ctx.error(
                    apath,
                    "permission-own",
                    f"'own' needs an owner field on {entity} (set owner: <a ref to User>)",
                )
            access = Access("own")
        else:
            access = Access("where", ctx.expr(value["where"], apath + ("where",), scope))
        actions.append((action, access))
    hidden = tuple(rule.get("hidden") or ()) if isinstance(rule, dict) else ()
    read_only = tuple(rule.get("read_only") or ()) if isinstance(rule, dict) else ()
    for key, names in (("hidden", hidden), ("read_only", read_only)):
        for i, n in enumerate(names):
            ctx.known_field(entity, n, path + (key, i))
    return Permission(role, tuple(actions), hidden, read_only)


def _entity_ui(
    ctx: Context,
    entity: str,
    raw: dict[str, Any],
    fields: tuple[Field, ...],
    display: str,
    path: Path,
) -> EntityUI:
    def check_names(names: list[str], sub: Path) -> tuple[str, ...]:
        for i, n in enumerate(names):
            ctx.known_field(entity, n, sub + (i,))
        return tuple(names)

    raw_list = raw.get("list") or {}
    default_columns = [
        f.name for f in fields if f.type not in ("text", "json", "refs", "file", "image")
    ][:6]
    columns = check_names(raw_list.get("columns") or default_columns, path + ("list", "columns"))
    sort = raw_list.get("sort") or []
    for i, s in enumerate(sort):
        if s.lstrip("-") not in ("id", "created_at", "updated_at"):
            ctx.known_field(entity, s.lstrip("-"), path + ("list", "sort", i))
    filters = check_names(raw_list.get("filters") or [], path + ("list", "filters"))
    list_view = ListView(columns, tuple(sort), filters, raw_list.get("page_size", 50))
    raw_form = raw.get("form")
    if not raw_form:
        form = (FormSection(Text(()), tuple(f.name for f in fields if f.computed is None)),)
    elif all(isinstance(x, str) for x in raw_form):
        form = (FormSection(Text(()), check_names(raw_form, path + ("form",))),)
    else:
        form = tuple(
            FormSection(
                Text.of(s.get("label")), check_names(s["fields"], path + ("form", i, "fields"))
            )
            for i, s in enumerate(raw_form)
        )
    placed = [n for s in form for n in s.fields]
    for n in sorted({n for n in placed if placed.count(n) > 1}):
        ctx.error(path + ("form",), "form", f"the form shows '{n}' more than once")
    kanban = None
    if raw.get("kanban"):
        k = raw["kanban"]
        by = ctx.known_field(entity, k["by"], path + ("kanban", "by"))
        if by is not None and by.type != "enum":
            ctx.error(
                path + ("kanban", "by"),
                "kanban",
                f"a kanban board groups by an enum field; '{k['by']}' is a {by.type} field",
            )
        title = k.get("title", display)
        if "title" in k:
            ctx.known_field(entity, title, path + ("kanban", "title"))
        kanban = KanbanView(
            k["by"], title, check_names(k.get("fields") or [], path + ("kanban", "fields"))
        )
    calendar = None
    if raw.get("calendar"):
        c = raw["calendar"]
        for key in ("date", "end"):
            if key in c:
                f = ctx.known_field(entity, c[key], path + ("calendar", key))
                if f is not None and f.type not in ("date", "datetime"):
                    ctx.error(
                        path + ("calendar", key),
                        "calendar",
                        f"a calendar needs a date or datetime field; '{c[key]}' is a {f.type} field",
                    )
        if "title" in c:
            ctx.known_field(entity, c["title"], path + ("calendar", "title"))
        calendar = CalendarView(c["date"], c.get("title", display), c.get("end"))
    timeline = None
    if "timeline" in raw:
        timeline = check_names(raw["timeline"], path + ("timeline",))
    inline_edit = raw.get("inline_edit")
    icon = raw.get("icon")
    if isinstance(icon, str) and icon not in icons.names():  # a wrong pattern: the schema's error
        hint = (
            did_you_mean(icon, icons.names()) or " (a Lucide icon's name, as on lucide.dev/icons)"
        )
        ctx.error(path + ("icon",), "icon", f"unknown icon '{icon}'{hint}")
        icon = None
    return EntityUI(list_view, form, kanban, calendar, icon, timeline, inline_edit)


def _clashes(ctx: Context, entities: list[Entity]) -> None:
    """Tables, API paths and navigable names must be unique."""
    tables: dict[str, str] = {}
    paths: dict[str, str] = {}
    for e in entities:
        epath: Path = ("entities", e.name)
        if not e.builtin and e.name not in RESERVED_ENTITIES:  # a reserved name is reported already
            for what, value, seen, reserved in (
                ("table", e.table, tables, RESERVED_TABLES),
                ("API path /api/", e.api_path, paths, RESERVED_API_PATHS),
            ):
                if value in reserved:
                    ctx.error(
                        epath,
                        "clash",
                        f"{e.name}'s {what}{value if what.endswith('/') else ' ' + repr(value)} is used by the generated app itself; set another plural or table",
                        True,
                    )
                elif value in seen:
                    ctx.error(
                        epath,
                        "clash",
                        f"{e.name} and {seen[value]} both get the {what}{value if what.endswith('/') else ' ' + repr(value)}; {'give one of them another plural' if what.endswith('/') else 'set table: (or another plural) on one of them'}",
                        True,
                    )
                seen.setdefault(value, e.name)
        for f in e.fields:
            if f.column and f.column != f.name and f.column in {g.name for g in e.fields}:
                ctx.error(
                    ("entities", e.name, "fields", f.name),
                    "clash",
                    f"the reference '{f.name}' stores its key in '{f.column}', which is also a field of {e.name}",
                    True,
                )
    for e in entities:
        for f in e.fields:
            rel = f.relation
            if rel is None or rel.kind != "many_to_many" or not rel.through:
                continue
            if rel.through in tables or rel.through in RESERVED_TABLES:
                other = (
                    f"the table of {tables[rel.through]}"
                    if rel.through in tables
                    else "a table of the generated app"
                )
                where_through: Path = ("entities", e.name, "fields", f.name)
                at_through = (
                    where_through + ("through",)
                    if ctx.source.values.get(where_through + ("through",))
                    else where_through
                )
                ctx.error(
                    at_through,
                    "clash",
                    f"the join table '{rel.through}' of {e.name}.{f.name} is also {other}; set through: to another name",
                    at_through == where_through,
                )
            tables[rel.through] = f"{e.name}.{f.name}"
    # Back-references: unique per target, and not shadowing the target's own fields.
    backs: dict[tuple[str, str], str] = {}
    for e in entities:
        for f in e.fields:
            rel = f.relation
            if rel is None or rel.target not in ctx.fields:
                continue
            where: Path = ("entities", e.name, "fields", f.name)
            at = where + ("back",) if ctx.source.values.get(where + ("back",)) else where
            target_fields = ctx.fields[rel.target]
            key = (rel.target, rel.back)
            if rel.back in target_fields:
                ctx.error(
                    at,
                    "clash",
                    f"the back-reference '{rel.back}' of {e.name}.{f.name} clashes with the field {rel.target}.{rel.back}; set back: to another name",
                    at == where,
                )
            elif any(g.column == rel.back for g in target_fields.values()):
                ctx.error(
                    at,
                    "clash",
                    f"the back-reference '{rel.back}' of {e.name}.{f.name} clashes with a key column of {rel.target}; set back: to another name",
                    at == where,
                )
            elif key in backs:
                ctx.error(
                    at,
                    "clash",
                    f"{rel.target} would get two back-references named '{rel.back}' ({backs[key]} and {e.name}.{f.name}); set back: on one of them",
                    at == where,
                )
            elif rel.back in RECORD_COLLECTIONS:
                ctx.error(
                    at,
                    "clash",
                    f"the back-reference '{rel.back}' of {e.name}.{f.name} would be the path /api/<plural>/{{id}}/{rel.back}, which every record keeps for its own {rel.back}; set back: to another name",
                    at == where,
                )
            elif rel.back in BUILTIN_FIELDS:
                ctx.error(
                    at,
                    "clash",
                    f"the back-reference '{rel.back}' of {e.name}.{f.name} is a field every record has (id, version, created_at, updated_at, deleted_at); set back: to another name",
                    at == where,
                )
            elif rel.back in QUERY_PARAMETERS:
                ctx.error(
                    at,
                    "clash",
                    f"the back-reference '{rel.back}' of {e.name}.{f.name} is a list-query parameter (?{rel.back}=...), and reverse filters take its name bare ({rel.back}__...); set back: to another name",
                    at == where,
                )
            elif rel.target == USER and rel.back in USER_RESERVED:
                ctx.error(
                    at,
                    "clash",
                    f"the back-reference '{rel.back}' of {e.name}.{f.name} is used by the generated app's login on User; set back: to another name",
                    at == where,
                )
            backs[key] = f"{e.name}.{f.name}"
