"""What the REST API templates need from the spec, computed once: fields, rules, defaults.

``resource(spec, entity)`` returns the plain facts ``resources.py.j2`` writes out as data
(the generated ``resources.RESOURCES``): every field with its constraints and how it is
stored, the record rules of each role compiled to SQLAlchemy source (``where``), and the
expression defaults compiled to Python source (``= user``, ``= today() + days(30)``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from crmgen.language.fields import field_type
from crmgen.language.model import Entity, Field, Spec
from crmgen.render import relations
from crmgen.render.expr_py import python_source, user_attribute
from crmgen.render.where_compiler import Conditions, rule_source

# Default lengths of the columns (see backend/_columns.j2).
DEFAULT_MAX_LENGTH = {
    "string": 255,
    "email": 254,
    "phone": 32,
    "url": 2048,
    "file": 1024,
    "image": 1024,
}
SYSTEM_FIELDS = ("id", "version", "created_at", "updated_at")


@dataclass(frozen=True)
class FieldFacts:
    """One field of a resource as the API sees it."""

    name: str
    type: str
    column: str  # the model attribute of its value ("" for many-to-many)
    required: bool  # must be given on create (required and no default)
    not_null: bool  # may never be set to null
    unique: bool
    read_only: bool  # read_only or computed: never written through the API
    options: tuple[tuple[str, Any], ...]  # constraints: min, max, max_length, pattern, values ...
    default: str | None  # Python source of an expression default, reading ``user``
    computed: str | None = None  # Python source of a computed value, reading ``record``
    relation: str = ""  # many_to_one, one_to_one, many_to_many
    target: str = ""  # the target entity
    back: str = ""  # the relation's name on its target (GET /api/<target>/{id}/<back>)
    display: str = ""  # the target's field its links show ("": the target's display field)
    join: tuple[str, str, str] | None = (
        None  # many-to-many: (table variable, own column, target column)
    )
    searchable: bool = False
    attr: str = ""  # the field's model attribute, when not its name (``from_``: names.attribute)
    encrypted: str = ""  # stored encrypted, bound to this context ("Entity.field")
    blind: str = ""  # the column of its blind index (encrypted: {search: exact})


ACTIONS = ("list", "read", "create", "update", "delete")
MODES = ("all", "own", "none")  # a tie for the commonest mode goes to the first here


@dataclass(frozen=True)
class RuleFacts:
    role: str
    actions: tuple[
        tuple[str, str, str | None], ...
    ]  # (action, mode, function name of a where rule)
    hidden: tuple[str, ...]
    read_only: tuple[str, ...]

    @property
    def default_mode(self) -> str:
        """The mode most actions have (``Rule.of``'s first argument); an action the spec does
        not name has none."""
        given = {action: mode for action, mode, function in self.actions if function is None}
        modes = [given.get(a, "none") for a in ACTIONS if a not in self.where_actions]
        return max(MODES, key=modes.count)

    @property
    def where_actions(self) -> frozenset[str]:
        return frozenset(action for action, _, function in self.actions if function)

    @property
    def overrides(self) -> list[tuple[str, str, str | None]]:
        """The actions whose access differs from ``default_mode``, in the usual order."""
        given = {action: (mode, function) for action, mode, function in self.actions}
        out = []
        for action in ACTIONS:
            mode, function = given.get(action, ("none", None))
            if function is not None or mode != self.default_mode:
                out.append((action, mode, function))
        return out


@dataclass(frozen=True)
class WhereFacts:
    function: str
    source: str  # the rule as written in the spec
    code: str  # Python source of the SQLAlchemy condition


@dataclass(frozen=True)
class ResourceFacts:
    entity: Entity
    constant: str  # the module-level name of the Resource in resources.py
    fields: tuple[FieldFacts, ...]
    rules: tuple[RuleFacts, ...]
    wheres: tuple[WhereFacts, ...]
    search: tuple[str, ...]
    workflow: WorkflowFacts | None = None
    # the code of ``retention.where`` (in the function ``_retention_<table>``)
    retention_where: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkflowFacts:
    """``Workflow.of`` arguments: the field, ``{state: {from, roles, require}}``, the initial
    state, and per state with a ``where`` the function (``function``) of its conditions
    (``code``: the Python source of each, over ``user``)."""

    field: str
    transitions: dict[str, dict[str, list[str]]]
    initial: str | None
    wheres: tuple[tuple[str, str, tuple[str, ...]], ...]


def workflow_facts(spec: Spec, entity: Entity) -> WorkflowFacts | None:
    """The workflow of ``entity`` for ``crmgen_runtime.workflows.Workflow.of``."""
    w = entity.workflow
    if w is None:
        return None
    transitions = {
        t.to: {
            key: list(names)
            for key, names in (("from", t.origins), ("roles", t.roles), ("require", t.require))
            if names
        }
        for t in w.transitions
    }
    wheres = tuple(
        (
            t.to,
            f"_workflow_{entity.table}_{t.to}",
            tuple(Conditions(spec, f"{entity.name}.workflow").all(entity.name, t.where)),
        )
        for t in w.transitions
        if t.where
    )
    f = entity.field(w.field)
    default = f.default if f is not None else None
    initial = (
        str(default.literal)
        if default is not None and not default.is_expr and default.literal is not None
        else None
    )
    return WorkflowFacts(w.field, transitions, initial, wheres)


def resources(spec: Spec) -> list[ResourceFacts]:
    return [resource(spec, e) for e in spec.entities]


def resource(spec: Spec, entity: Entity) -> ResourceFacts:
    fields = tuple(field_facts(entity, f, spec.app.phone_region) for f in entity.fields)
    wheres: list[WhereFacts] = []
    rules = []
    for permission in entity.permissions:
        actions = []
        for action, access in permission.actions:
            function = None
            if access.mode == "where" and access.where is not None:
                code = rule_source(spec, entity, access.where.source)
                same = next((w for w in wheres if w.code == code), None)
                function = (
                    same.function if same else f"_rule_{entity.table}_{permission.role}_{action}"
                )
                if same is None:  # one function per condition, however many rules use it
                    wheres.append(WhereFacts(function, access.where.source, code))
            actions.append((action, access.mode, function))
        rules.append(
            RuleFacts(permission.role, tuple(actions), permission.hidden, permission.read_only)
        )
    search = tuple(n for n in entity.search if entity.field(n) is not None)
    return ResourceFacts(
        entity,
        f"{entity.table.upper()}_RESOURCE",
        fields,
        tuple(rules),
        tuple(wheres),
        search,
        workflow_facts(spec, entity),
        tuple(Conditions(spec, f"{entity.name}.retention").all(entity.name, entity.retention.where))
        if entity.retention is not None
        else (),
    )


def input_facts(fields: Iterable[Field], phone_region: str = "") -> list[FieldFacts]:
    """The facts of a custom endpoint's (or inbound hook's) input fields, which belong to no
    entity; phones are read in ``phone_region`` and kept in E.164 when it is given."""
    nowhere = SimpleNamespace(builtin=False, search=(), owner=None)
    return [field_facts(nowhere, f, phone_region) for f in fields]  # type: ignore[arg-type]


def field_facts(entity: Entity, f: Field, phone_region: str = "") -> FieldFacts:
    options: dict[str, Any] = {}
    for key in ("min", "max", "min_length", "max_length", "pattern"):
        value = getattr(f, key)
        if value is not None:
            options[key] = value
    if f.type in DEFAULT_MAX_LENGTH and "max_length" not in options:
        options["max_length"] = DEFAULT_MAX_LENGTH[f.type]
    if field_type(f.type).exact:
        options["precision"] = f.precision or 12
        options["scale"] = f.scale if f.scale is not None else 2
    if f.type == "phone" and phone_region:  # stored in E.164 (crmgen_runtime.phones)
        options["region"] = phone_region
    if f.type == "enum":
        options["values"] = tuple(v.name for v in f.values)
    if f.consent:  # its time and source kept beside it (crmgen_runtime.consent)
        options["consent"] = True
    if f.type in ("file", "image"):  # checked on the file's content (crmgen_runtime.files)
        if f.accept:
            options["accept"] = tuple(f.accept)
        if f.max_size_mb is not None:
            options["max_size_mb"] = f.max_size_mb
    if f.type == "integer":  # a 32-bit column on PostgreSQL
        options["min"] = max(options.get("min", -(2**31)), -(2**31))
        options["max"] = min(options.get("max", 2**31 - 1), 2**31 - 1)
    for key in ("min", "max"):
        if key in options and isinstance(options[key], float) and options[key].is_integer():
            options[key] = int(options[key])
    has_default = f.default is not None and (f.default.is_expr or f.default.literal is not None)
    builtin_active = entity.builtin and f.name == "active"
    default = default_source(f) if f.default is not None and f.default.is_expr else None
    computed = python_source(f.computed) if f.computed is not None else None
    relation, target, join = "", "", None
    if f.relation is not None:
        relation, target = f.relation.kind, f.relation.target
        if f.relation.kind == "many_to_many":
            left, right = relations.join_columns(entity, f)
            join = (f"{f.relation.through}_table", left, right)
    read_only = f.read_only or f.computed is not None
    # must be given on create: an owner left empty is the creating user (crud.insert_row)
    required = f.required and not has_default and not read_only and f.name != entity.owner
    return FieldFacts(
        name=f.name,
        type=f.type,
        column=f.column if f.relation is not None else f.attr,
        required=required,
        not_null=f.required or builtin_active,
        unique=f.unique or (f.relation is not None and f.relation.kind == "one_to_one"),
        read_only=read_only,
        options=tuple(sorted(options.items())),
        default=default,
        computed=computed,
        relation=relation,
        target=target,
        back=f.relation.back if f.relation is not None else "",
        display=(f.relation.display or "") if f.relation is not None else "",
        join=join,
        searchable=f.name in entity.search,
        attr=f.attr if f.attr != f.name else "",
        encrypted=f"{entity_name(entity)}.{f.name}" if f.encrypted and entity_name(entity) else "",
        blind=f.blind_column,
    )


def entity_name(entity: Entity) -> str:
    """The entity's name ("" for a custom endpoint's input, which belongs to none)."""
    return str(getattr(entity, "name", ""))


USER_BUILTINS = ("id", "email", "name", "roles", "superuser", "extra")


def default_source(f: Field) -> str:
    """Python source of an expression default; it reads ``user`` (a CurrentUser or None).

    A link's default (``= user``) stores the id of what the expression yields.
    """
    assert f.default is not None and f.default.expr is not None
    source = python_source(f.default.expr, user_attribute(USER_BUILTINS))
    return f"fn.ref_id({source})" if f.relation is not None else source


def superuser_roles(spec: Spec) -> tuple[str, ...]:
    return tuple(sorted(r.name for r in spec.roles if r.superuser))


def user_manager_roles(spec: Spec) -> tuple[str, ...]:
    """The roles with ``manage_users`` (superuser roles have it too)."""
    return tuple(sorted(r.name for r in spec.roles if r.manage_users or r.superuser))


@dataclass(frozen=True)
class RollupFacts:
    """A rollup field as ``crmgen_runtime.rollups.Rollup`` arguments (``where``: the
    Python source of its SQLAlchemy conditions, written in a function ``function``)."""

    entity: str
    field: str
    source: str
    link: str
    op: str
    value: str
    order_by: tuple[str, ...]
    function: str
    where: tuple[str, ...]


def rollups(spec: Spec) -> list[RollupFacts]:
    """Every rollup field of the spec, in the order of its entities and fields."""
    found = []
    for e in spec.entities:
        for f in e.fields:
            if f.rollup is None:
                continue
            r = f.rollup
            where = Conditions(spec, f"{e.name}.{f.name}").all(r.entity, r.where)
            found.append(
                RollupFacts(
                    e.name,
                    f.name,
                    r.entity,
                    r.link,
                    r.op,
                    r.field or "",
                    r.order_by,
                    f"_rollup_{e.table}_{f.name}",
                    tuple(where),
                )
            )
    return found


def api_context(spec: Spec) -> dict[str, Any]:
    """Extra context of the API templates."""
    facts = resources(spec)
    rollup_facts = rollups(spec)
    workflow_code = [
        code for r in facts if r.workflow for _, _, codes in r.workflow.wheres for code in codes
    ] + [code for r in facts for code in r.retention_where]
    return {
        "resources": facts,
        "rollups": rollup_facts,
        "uses_functions": any(f.default or f.computed for r in facts for f in r.fields)
        or any("fn." in w for r in rollup_facts for w in r.where)
        or any("fn." in code for code in workflow_code),
        "workflow_code": workflow_code,
        "superuser_roles": superuser_roles(spec),
        "user_manager_roles": user_manager_roles(spec),
        "field_types": sorted({f.type for e in spec.entities for f in e.fields}),
    }
