"""The built-in process step kinds: schema, typed model and checks for each, registered by name."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from crmgen.diagnostics import Position, did_you_mean
from crmgen.language import fields
from crmgen.language.build_rollups import is_rollup
from crmgen.language.context import USER, Context
from crmgen.language.custom_code import find_function
from crmgen.language.expressions import (
    EntityValue,
    Expression,
    Items,
    Kind,
    ListOf,
    Opaque,
    Scope,
    Struct,
    check,
)
from crmgen.language.model import Condition, Value
from crmgen.language.names import name_problem
from crmgen.language.steps import EXPR, TEMPLATE, VALUE, VALUES, WHERE, StepKind, obj, register
from crmgen.language.yaml_loader import Path

_JINJA = SandboxedEnvironment()
_SNAKE = {"$ref": "#/$defs/snake_name"}
_ENTITY = {"$ref": "#/$defs/entity_name"}


@dataclass
class StepContext:
    """Where a step list is being built: the process's record entity and the names in scope."""

    ctx: Context
    scope: Scope
    entity: str | None  # the trigger's entity (what ``record`` is), if any
    process: str

    def child(self, **names: Kind) -> StepContext:
        return StepContext(self.ctx, self.scope.child(**names), self.entity, self.process)

    def declare(self, name: str, kind: Kind, path: Path, at_key: bool = False) -> None:
        if name in ("record", "old", "user", "input", "now", "today"):
            self.ctx.error(
                path,
                "step-name",
                f"'{name}' is a built-in name; store the result under another name",
                at_key,
            )
        elif keyword.iskeyword(name):
            self.ctx.error(path, "step-name", name_problem(name, "variable") or "", at_key)
        self.scope.names[name] = kind

    def template(self, text: str, path: Path) -> Template:
        try:
            parsed = _JINJA.parse(text)
        except TemplateSyntaxError as exc:
            base = self.ctx.pos(path)
            self.ctx.diagnostics.append(
                _diag(
                    Position(base.file, base.line + (exc.lineno or 1) - 1, base.column),
                    "template",
                    "bad template: " + " ".join(str(exc.message or "invalid syntax").split()),
                )
            )
            return Template(text, ())
        except RecursionError:
            self.ctx.error(path, "template", "bad template: it nests too deeply")
            return Template(text, ())
        loads = [
            n
            for n in parsed.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport))
        ]
        if loads:
            kind = type(loads[0]).__name__.lower().replace("fromimport", "import")
            self.ctx.error(
                path,
                "template",
                f"bad template: {{% {kind} %}} is not allowed (a message template cannot load other files)",
            )
            return Template(text, ())
        try:
            names = sorted(meta.find_undeclared_variables(parsed))
        except RecursionError:
            self.ctx.error(path, "template", "bad template: it nests too deeply")
            return Template(text, ())
        for n in names:
            if n not in self.scope.names:
                hint = did_you_mean(n, self.scope.names)
                if not hint and n in ("record", "old", "input"):
                    hint = f" (this process's trigger gives no '{n}'; names here: {', '.join(sorted(self.scope.names)) or 'none'})"
                self.ctx.diagnostics.append(
                    _diag(
                        self._name_pos(text, n, path),
                        "template",
                        f"the template uses unknown name '{n}'{hint}",
                    )
                )
        for source, root in _declared_paths(parsed, self.scope):
            _expr, problems = check(source, self.scope)
            for problem in problems[:1]:
                self.ctx.diagnostics.append(
                    _diag(self._path_pos(text, source, root, path), "template", problem.message)
                )
        return Template(text, tuple(names))

    def _path_pos(self, text: str, source: str, root: str, path: Path) -> Position:
        """Where the attribute path ``source`` is read in a one-line template (else its root)."""
        at = text.find(source)
        base = self.ctx.pos(path)
        if at < 0 or "\n" in text or "\\" in text or "''" in text:
            return self._name_pos(text, root, path)
        return Position(base.file, base.line, base.column + at)

    def _name_pos(self, text: str, name: str, path: Path) -> Position:
        """Where ``name`` is first used in a one-line template (else where the text starts)."""
        base = self.ctx.pos(path)
        found = re.search(rf"(?<![\w.]){re.escape(name)}\b", text)
        if found is None or "\n" in text or "\\" in text or "''" in text:
            return base
        return Position(base.file, base.line, base.column + found.start())

    def value(self, raw: Any, path: Path) -> Value:
        return self.ctx.value(raw, path, self.scope)

    def values(self, entity: str, raw: dict[str, Any], path: Path) -> tuple[tuple[str, Value], ...]:
        out = []
        for name, v in raw.items():
            f = self.ctx.known_field(entity, name, path + (name,), at_key=True)
            if f is not None and f.computed is not None:
                self.ctx.error(
                    path + (name,), "step-set", f"'{name}' is computed and cannot be set", True
                )
            elif f is not None and is_rollup(self.ctx, entity, name):
                self.ctx.error(
                    path + (name,),
                    "step-set",
                    f"'{name}' is a rollup (kept from related records) and cannot be set",
                    True,
                )
            out.append((name, self.ctx.value(v, path + (name,), self.scope, f)))
        return tuple(out)

    def where(self, entity: str, raw: dict[str, Any] | None, path: Path) -> tuple[Condition, ...]:
        return self.ctx.where(raw, path, entity, self.scope)

    def need_record(self, path: Path, kind: str) -> str | None:
        if self.entity is None:
            self.ctx.error(
                path,
                "step-record",
                f"'{kind}' works on the record, but this process has no record (its trigger is not an entity event, action or record endpoint)",
                True,
            )
        return self.entity


def _diag(pos: Position, code: str, message: str) -> Any:
    from crmgen.diagnostics import Diagnostic

    return Diagnostic(pos, "error", code, message)


@dataclass(frozen=True)
class Template:
    """A sandboxed Jinja text template (subject, body, URL, message)."""

    source: str
    names: tuple[str, ...]


# -- step models ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SetStep:
    values: tuple[tuple[str, Value], ...]
    kind: str = "set"


@dataclass(frozen=True)
class ComputeStep:
    assignments: tuple[tuple[str, Expression], ...]
    kind: str = "compute"


@dataclass(frozen=True)
class IfStep:
    condition: Expression
    then: tuple[Any, ...]
    otherwise: tuple[Any, ...] = ()
    kind: str = "if"


@dataclass(frozen=True)
class ForEachStep:
    items: Expression
    var: str
    steps: tuple[Any, ...]
    kind: str = "for_each"


@dataclass(frozen=True)
class QueryStep:
    entity: str
    where: tuple[Condition, ...]
    into: str
    sort: tuple[str, ...] = ()
    limit: int | None = None
    first: bool = False  # into holds the first record (by sort, then id) or None
    kind: str = "query"


@dataclass(frozen=True)
class CountStep:
    entity: str
    where: tuple[Condition, ...]
    into: str
    kind: str = "count"


@dataclass(frozen=True)
class AggregateStep:
    entity: str
    fn: str
    field: str | None
    where: tuple[Condition, ...]
    into: str
    group_by: str | None = None
    kind: str = "aggregate"


@dataclass(frozen=True)
class CreateStep:
    entity: str
    values: tuple[tuple[str, Value], ...]
    into: str | None = None
    kind: str = "create"


@dataclass(frozen=True)
class UpdateStep:
    entity: str
    where: tuple[Condition, ...]
    values: tuple[tuple[str, Value], ...]
    kind: str = "update"


@dataclass(frozen=True)
class DeleteStep:
    entity: str
    where: tuple[Condition, ...]
    kind: str = "delete"


@dataclass(frozen=True)
class AssignStep:
    field: str
    strategy: str  # least_busy | round_robin
    among: tuple[Condition, ...]  # over User; "role" matches a role name
    workload_entity: str
    workload_where: tuple[Condition, ...] = ()
    kind: str = "assign"


@dataclass(frozen=True)
class EmailStep:
    to: Value
    subject: Template
    text: Template | None
    html: Template | None
    via: str | None
    kind: str = "email"


@dataclass(frozen=True)
class NotifyStep:
    """Tell users in the app (``crmgen_runtime.notifications``): ``to`` (users), the record's
    ``owner`` or everyone with a ``role``; ``link`` is the record it links to."""

    message: Template
    to: Value | None = None
    owner: bool = False
    role: str | None = None
    link: Value | None = None
    kind: str = "notify"


@dataclass(frozen=True)
class TelegramStep:
    text: Template
    chat: Value | None
    via: str | None
    kind: str = "telegram"


@dataclass(frozen=True)
class SmsStep:
    to: Value
    text: Template
    via: str | None
    kind: str = "sms"


@dataclass(frozen=True)
class HttpStep:
    method: str
    url: Template
    headers: tuple[tuple[str, Template], ...]
    json: Value | None
    into: str | None
    timeout: float
    via: str | None
    kind: str = "http"


@dataclass(frozen=True)
class WebhookStep:
    via: str
    event: str
    payload: Value | None
    kind: str = "webhook"


@dataclass(frozen=True)
class ErrorStep:
    message: Template
    status: int
    kind: str = "error"


@dataclass(frozen=True)
class LogStep:
    message: Template
    level: str = "info"
    kind: str = "log"


@dataclass(frozen=True)
class BackupStep:
    keep: int = 7
    folder: str = "backups"
    kind: str = "backup"


@dataclass(frozen=True)
class AttachDocumentStep:
    """``attach_document``: the document ``document`` of a record of ``entity`` (``record``,
    by default the process's), rendered as ``format`` after the commit and saved on that
    record: in its file field ``field``, else among its attachments."""

    entity: str
    document: str
    record: Value
    format: str = "pdf"
    field: str | None = None
    kind: str = "attach_document"


@dataclass(frozen=True)
class CallStep:
    """``call: custom.<module>.<function>``: the function of the app's custom code, called with
    the process's ``run`` and the ``with`` arguments; its result stored as ``into``."""

    module: str  # below custom/, dotted: "pricing", "deals.pricing"
    function: str
    arguments: tuple[tuple[str, Value], ...] = ()
    into: str | None = None
    kind: str = "call"


# -- builders ------------------------------------------------------------------------------


def build_steps(raw: list[Any], path: Path, sctx: StepContext) -> tuple[Any, ...]:
    from crmgen.language.steps import REGISTRY

    built = []
    for i, step in enumerate(raw):
        kinds = [k for k in step if k in REGISTRY]
        if len(kinds) != 1:
            continue  # the schema reported it
        kind = REGISTRY[kinds[0]]
        built.append(kind.build(step, _At(sctx, path + (i,), kinds[0])))
    return tuple(built)


@dataclass
class _At:
    """A step builder's view: the step context plus where this step is."""

    s: StepContext
    path: Path
    key: str
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def ctx(self) -> Context:
        return self.s.ctx

    def sub(self, *more: str | int) -> Path:
        return self.path + (self.key,) + more


def _set(step: dict[str, Any], at: _At) -> SetStep:
    entity = at.s.need_record(at.path + ("set",), "set")
    if entity is None:
        return SetStep(())
    return SetStep(at.s.values(entity, step["set"], at.sub()))


def _compute(step: dict[str, Any], at: _At) -> ComputeStep:
    out = []
    for name, text in step["compute"].items():
        expression, kind = at.ctx.expr_kind(text, at.sub(name), at.s.scope)
        at.s.declare(name, kind, at.sub(name), at_key=True)
        out.append((name, expression))
    return ComputeStep(tuple(out))


def _if(step: dict[str, Any], at: _At) -> IfStep:
    condition = at.ctx.expr(step["if"], at.sub(), at.s.scope)
    then = build_steps(step.get("then") or [], at.path + ("then",), at.s.child())
    otherwise = build_steps(step.get("else") or [], at.path + ("else",), at.s.child())
    if "then" not in step:
        at.ctx.error(
            at.path + ("if",), "step-if", "an 'if' step needs 'then:' with the steps to run", True
        )
    return IfStep(condition, then, otherwise)


def _for_each(step: dict[str, Any], at: _At) -> ForEachStep:
    raw = step["for_each"]
    items, kind = at.ctx.expr_kind(raw["in"], at.sub("in"), at.s.scope)
    var = raw["as"]
    item_kind: Kind = EntityValue(kind.entity) if isinstance(kind, ListOf) else Opaque()
    inner = at.s.child()
    inner.declare(var, item_kind, at.sub("as"))
    return ForEachStep(items, var, build_steps(raw["do"], at.sub("do"), inner))


def _query(step: dict[str, Any], at: _At) -> QueryStep:
    raw = step["query"]
    entity = raw["entity"]
    ok = at.ctx.known_entity(entity, at.sub("entity"))
    where = at.s.where(entity, raw.get("where"), at.sub("where")) if ok else ()
    for i, s in enumerate(raw.get("sort") or []):
        if ok:
            at.ctx.known_column(entity, s.lstrip("-"), at.sub("sort", i))
    first = bool(raw.get("first", False))
    if first and "limit" in raw:
        at.ctx.error(
            at.sub("limit"), "query-first", "first: true reads one record; remove limit", True
        )
    at.s.declare(raw["into"], EntityValue(entity) if first else ListOf(entity), at.sub("into"))
    sort = tuple(raw.get("sort") or ())
    return QueryStep(entity, where, raw["into"], sort, raw.get("limit"), first)


def _count(step: dict[str, Any], at: _At) -> CountStep:
    raw = step["count"]
    entity = raw["entity"]
    where = (
        at.s.where(entity, raw.get("where"), at.sub("where"))
        if at.ctx.known_entity(entity, at.sub("entity"))
        else ()
    )
    at.s.declare(raw["into"], Opaque("a number"), at.sub("into"))
    return CountStep(entity, where, raw["into"])


def _aggregate(step: dict[str, Any], at: _At) -> AggregateStep:
    raw = step["aggregate"]
    entity = raw["entity"]
    ok = at.ctx.known_entity(entity, at.sub("entity"))
    where = at.s.where(entity, raw.get("where"), at.sub("where")) if ok else ()
    fn = raw["fn"]
    if fn != "count" and "field" not in raw:
        at.ctx.error(
            at.sub(), "step-aggregate", f"'{fn}' needs the field to aggregate (field: ...)"
        )
    for key in ("field", "group_by"):
        if ok and key in raw:
            f = (at.ctx.known_field if key == "field" else at.ctx.known_column)(
                entity, raw[key], at.sub(key)
            )
            if (
                key == "field"
                and f is not None
                and not fields.field_type(f.type).numeric
                and fn in ("sum", "avg")
            ):
                at.ctx.error(
                    at.sub(key), "step-aggregate", f"cannot {fn} the {f.type} field '{raw[key]}'"
                )
    at.s.declare(raw["into"], Opaque("a number"), at.sub("into"))
    return AggregateStep(entity, fn, raw.get("field"), where, raw["into"], raw.get("group_by"))


def _create(step: dict[str, Any], at: _At) -> CreateStep:
    raw = step["create"]
    entity = raw["entity"]
    values = (
        at.s.values(entity, raw["values"], at.sub("values"))
        if at.ctx.known_entity(entity, at.sub("entity"))
        else ()
    )
    if "into" in raw:
        at.s.declare(raw["into"], EntityValue(entity), at.sub("into"))
    return CreateStep(entity, values, raw.get("into"))


def _update(step: dict[str, Any], at: _At) -> UpdateStep:
    raw = step["update"]
    entity = raw["entity"]
    if not at.ctx.known_entity(entity, at.sub("entity")):
        return UpdateStep(entity, (), ())
    if "where" not in raw:
        at.ctx.error(
            at.sub(),
            "step-update",
            "an update step needs 'where:' (write where: {} to update every record on purpose)",
        )
    return UpdateStep(
        entity,
        at.s.where(entity, raw.get("where"), at.sub("where")),
        at.s.values(entity, raw["values"], at.sub("values")),
    )


def _delete(step: dict[str, Any], at: _At) -> DeleteStep:
    raw = step["delete"]
    entity = raw["entity"]
    if not at.ctx.known_entity(entity, at.sub("entity")):
        return DeleteStep(entity, ())
    if not raw.get("where"):
        at.ctx.error(
            at.sub(), "step-delete", "a delete step needs 'where:' (it would delete every record)"
        )
    return DeleteStep(entity, at.s.where(entity, raw.get("where"), at.sub("where")))


def _assign(step: dict[str, Any], at: _At) -> AssignStep:
    raw = step["assign"]
    entity = at.s.need_record(at.path + ("assign",), "assign")
    name = raw["field"]
    if entity is not None:
        f = at.ctx.known_field(entity, name, at.sub("field"))
        if f is not None and (
            f.relation is None or f.relation.target != USER or f.relation.kind == "many_to_many"
        ):
            at.ctx.error(
                at.sub("field"),
                "step-assign",
                f"'{name}' must be a ref to User to assign someone to it",
            )
    among_raw = dict(raw.get("among") or {})
    role = among_raw.pop("role", None)
    among = at.ctx.where(among_raw, at.sub("among"), USER, at.s.scope)
    if isinstance(role, str):
        at.ctx.known_role(role, at.sub("among", "role"))
        among = (Condition("role", "eq", Value(literal=role)),) + among
    workload = raw.get("workload") or {}
    wentity = workload.get("entity", entity or "")
    wwhere: tuple[Condition, ...] = ()
    if wentity and at.ctx.known_entity(wentity, at.sub("workload", "entity")):
        wwhere = at.s.where(wentity, workload.get("where"), at.sub("workload", "where"))
    return AssignStep(name, raw.get("strategy", "least_busy"), among, wentity, wwhere)


def _via(at: _At, raw: dict[str, Any], itype: str) -> str | None:
    """The integration a step sends through: named by ``via``, or the only one of its type."""
    integrations = at.ctx.data.get("integrations") or {}
    of_type = [n for n, i in integrations.items() if isinstance(i, dict) and i.get("type") == itype]
    if "via" in raw:
        name = raw["via"]
        if not at.ctx.known_names("integrations", name, at.sub("via"), "integration"):
            return name
        if name in integrations and integrations[name].get("type") != itype:
            at.ctx.error(
                at.sub("via"),
                "step-via",
                f"'{name}' is a {integrations[name].get('type')} integration; this step needs a {itype} one",
            )
        return name
    if len(of_type) == 1:
        return of_type[0]
    if not of_type:
        at.ctx.error(
            at.path + (at.key,),
            "step-via",
            f"this step needs a {itype} integration; declare one under integrations:",
            True,
        )
    else:
        at.ctx.error(
            at.path + (at.key,),
            "step-via",
            f"there are several {itype} integrations ({', '.join(of_type)}); say which with via:",
            True,
        )
    return None


def _email(step: dict[str, Any], at: _At) -> EmailStep:
    raw = step["email"]
    if "text" not in raw and "html" not in raw:
        at.ctx.error(at.sub(), "step-email", "an email needs a body: text:, html: or both")
    return EmailStep(
        to=at.s.value(raw["to"], at.sub("to")),
        subject=at.s.template(raw["subject"], at.sub("subject")),
        text=at.s.template(raw["text"], at.sub("text")) if "text" in raw else None,
        html=at.s.template(raw["html"], at.sub("html")) if "html" in raw else None,
        via=_via(at, raw, "smtp"),
    )


def _notify(step: dict[str, Any], at: _At) -> NotifyStep:
    raw = step["notify"]
    whom = [k for k in ("to", "owner", "role") if k in raw and raw[k] is not False]
    if len(whom) != 1:
        at.ctx.error(
            at.sub(),
            "step-notify",
            "a notify step tells one of: to: (users), owner: true (the record's owner) or role: NAME",
        )
    owner = bool(raw.get("owner", False))
    if owner:
        entity = at.s.need_record(at.sub("owner"), "notify: owner")
        entities = at.ctx.data.get("entities") or {}
        declared = entities.get(entity) if entity is not None else None
        if isinstance(declared, dict) and not declared.get("owner"):
            at.ctx.error(
                at.sub("owner"),
                "step-notify",
                f"{entity} has no owner field (set owner: <a ref to User> on the entity)",
            )
    role = raw.get("role")
    if isinstance(role, str):
        at.ctx.known_role(role, at.sub("role"))
    link = at.s.value(raw["link"], at.sub("link")) if "link" in raw else None
    return NotifyStep(
        message=at.s.template(raw["message"], at.sub("message")),
        to=at.s.value(raw["to"], at.sub("to")) if "to" in raw else None,
        owner=owner,
        role=role if isinstance(role, str) else None,
        link=link,
    )


def _telegram(step: dict[str, Any], at: _At) -> TelegramStep:
    raw = step["telegram"]
    chat = at.s.value(raw["chat"], at.sub("chat")) if "chat" in raw else None
    return TelegramStep(at.s.template(raw["text"], at.sub("text")), chat, _via(at, raw, "telegram"))


def _sms(step: dict[str, Any], at: _At) -> SmsStep:
    raw = step["sms"]
    return SmsStep(
        at.s.value(raw["to"], at.sub("to")),
        at.s.template(raw["text"], at.sub("text")),
        _via(at, raw, "sms"),
    )


def _http(step: dict[str, Any], at: _At) -> HttpStep:
    raw = step["http"]
    via = None
    if "via" in raw:
        via = _via(at, raw, "http")
    url = at.s.template(raw["url"], at.sub("url"))
    if via is None and not raw["url"].startswith(("http://", "https://", "{{")):
        at.ctx.error(
            at.sub("url"),
            "step-http",
            "the URL must start with http:// or https:// (or name a base URL with via:)",
        )
    headers = tuple(
        (k, at.s.template(v, at.sub("headers", k))) for k, v in (raw.get("headers") or {}).items()
    )
    body = at.s.value(raw["json"], at.sub("json")) if "json" in raw else None
    shape: Kind = Opaque("the reply's body")
    if "reply" in raw:
        shape = _reply_shape(raw["reply"], at, ("reply",))
        if "into" not in raw:
            at.ctx.error(
                at.sub("reply"),
                "step-http",
                "'reply' describes the answer kept with 'into'; add into: NAME",
                True,
            )
    if "into" in raw:
        reply = Struct(
            (
                ("status", Opaque("the HTTP status")),
                ("ok", Opaque("true for a 2xx status")),
                ("headers", Opaque("the reply's headers")),
                ("body", shape),
            ),
            owner="the reply",
        )
        at.s.declare(raw["into"], reply, at.sub("into"))
    return HttpStep(
        raw.get("method", "GET"),
        url,
        headers,
        body,
        raw.get("into"),
        float(raw.get("timeout", 10)),
        via,
    )


def _declared_paths(parsed: nodes.Template, scope: Scope) -> list[tuple[str, str]]:
    """The attribute paths a template reads on a value of declared shape (an HTTP reply, an
    endpoint's input), as expression text with its root name: ``{{ reply.body.items[0].title }}``
    gives ``reply.body.items[0].title``. Names the template sets itself are left alone, and a
    subscript that is not a constant ends the path."""
    local = {n.name for n in parsed.find_all(nodes.Name) if n.ctx in ("store", "param")}
    chains = list(parsed.find_all((nodes.Getattr, nodes.Getitem)))
    inner = {id(n.node) for n in chains}
    found: list[tuple[str, str]] = []
    for outer in chains:
        if id(outer) in inner:
            continue
        steps: list[str] = []
        node: nodes.Node = outer
        while isinstance(node, (nodes.Getattr, nodes.Getitem)):
            if isinstance(node, nodes.Getattr):
                steps.append(f".{node.attr}")
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, (int, str)):
                steps.append(f"[{node.arg.value!r}]")
            else:
                steps.clear()  # x[i].a: only x is known to be read
            node = node.node
        if not (isinstance(node, nodes.Name) and steps and node.name not in local):
            continue
        if isinstance(scope.names.get(node.name), (Struct, Items)):
            found.append((node.name + "".join(reversed(steps)), node.name))
    return found


# the value types a reply's shape names
REPLY_TYPES = (
    "string",
    "number",
    "integer",
    "boolean",
    "date",
    "datetime",
    "any",
    "list",
    "object",
)


def _reply_shape(raw: Any, at: _At, path: tuple[str | int, ...]) -> Kind:
    """The kind of an HTTP reply's body as the spec declares it: a type name, ``[SHAPE]`` (a
    list of them) or a mapping of field -> SHAPE (an object with those fields)."""
    where = at.sub(*path)
    if isinstance(raw, str):
        if raw not in REPLY_TYPES:
            hint = did_you_mean(raw, REPLY_TYPES) or f" (one of: {', '.join(REPLY_TYPES)})"
            at.ctx.error(where, "step-http-reply", f"unknown reply type '{raw}'{hint}")
        return Opaque(f"a {raw}")
    if isinstance(raw, list):
        if len(raw) != 1:
            at.ctx.error(
                where,
                "step-http-reply",
                "a list in a reply's shape names the shape of its items once, e.g. [string] or "
                "[{title: string}]",
            )
            return Opaque("a list")
        return Items(_reply_shape(raw[0], at, (*path, 0)))
    if isinstance(raw, dict) and raw:
        fields: list[tuple[str, object]] = []
        for name, inner in raw.items():
            if not isinstance(name, str) or not name or name.startswith("_"):
                at.ctx.error(
                    at.sub(*path, str(name)),
                    "step-http-reply",
                    f"'{name}' cannot be read as a field (names starting with '_' are not allowed)",
                    True,
                )
                continue
            fields.append((name, _reply_shape(inner, at, (*path, name))))
        return Struct(tuple(fields), owner=_shape_owner(path))
    at.ctx.error(
        where,
        "step-http-reply",
        "a reply's shape is a type name (string, number, ...), [SHAPE] for a list, or field: SHAPE pairs",
    )
    return Opaque()


def _shape_owner(path: tuple[str | int, ...]) -> str:
    """How messages name the object at ``path`` of a reply's shape."""
    if path == ("reply",):
        return "the reply's body"
    if isinstance(path[-1], int):
        return f"an item of {_shape_owner(path[:-1])}"
    return f"'{path[-1]}'"


def _webhook(step: dict[str, Any], at: _At) -> WebhookStep:
    raw = step["webhook"]
    via = _via(at, raw, "webhook") or ""
    payload = at.s.value(raw["payload"], at.sub("payload")) if "payload" in raw else None
    return WebhookStep(via, raw["event"], payload)


def _error(step: dict[str, Any], at: _At) -> ErrorStep:
    raw = step["error"]
    if isinstance(raw, str):
        return ErrorStep(at.s.template(raw, at.sub()), 400)
    return ErrorStep(at.s.template(raw["message"], at.sub("message")), raw.get("status", 400))


def _log(step: dict[str, Any], at: _At) -> LogStep:
    raw = step["log"]
    if isinstance(raw, str):
        return LogStep(at.s.template(raw, at.sub()))
    return LogStep(at.s.template(raw["message"], at.sub("message")), raw.get("level", "info"))


def _backup(step: dict[str, Any], at: _At) -> BackupStep:
    raw = step["backup"] or {}
    return BackupStep(raw.get("keep", 7), raw.get("folder", "backups"))


def _attach_document(step: dict[str, Any], at: _At) -> AttachDocumentStep:
    raw = step["attach_document"]
    entity = raw.get("entity") or at.s.need_record(at.sub(), "attach_document") or ""
    record = at.s.value(raw.get("record", "= record"), at.sub("record"))
    fmt, name, target = raw.get("format", "pdf"), raw["document"], raw.get("field")
    if entity and at.ctx.known_entity(entity, at.sub("entity")):
        detail = (at.ctx.data.get("entities") or {}).get(entity) or {}
        documents = detail.get("documents") or {}
        if name not in documents:
            known = ", ".join(sorted(documents)) or "none"
            at.ctx.error(
                at.sub("document"),
                "step-document",
                f"{entity} has no document '{name}' (its documents: {known})",
            )
        elif fmt not in (documents[name] or {}).get("formats", ["pdf", "xlsx"]):
            at.ctx.error(at.sub("format"), "step-document", f"'{name}' is not made as {fmt}")
        if target is not None:
            found = at.ctx.known_field(entity, target, at.sub("field"))
            if found is not None and found.type not in ("file", "image"):
                at.ctx.error(
                    at.sub("field"),
                    "step-document",
                    f"{entity}.{target} is a {found.type} field: a document goes in a file field",
                )
        elif not detail.get("attachments"):
            at.ctx.error(
                at.sub(),
                "step-document",
                f"{entity} takes no attachments: set 'attachments: true' on it, or give "
                "'field:' (a file field of it)",
            )
    return AttachDocumentStep(entity, name, record, fmt, target)


def _call(step: dict[str, Any], at: _At) -> CallStep:
    raw = step["call"]
    spec = raw if isinstance(raw, str) else raw["function"]
    where = at.sub() if isinstance(raw, str) else at.sub("function")
    _, *names = spec.split(".")
    module, function = ".".join(names[:-1]), names[-1]
    given = {} if isinstance(raw, str) else raw.get("with") or {}
    arguments = tuple(
        (name, at.s.value(value, at.sub("with", name))) for name, value in given.items()
    )
    found = find_function(at.ctx.custom, module, function)
    if isinstance(found, str):
        at.ctx.error(where, "step-call", found)
    elif found.asynchronous:
        at.ctx.error(where, "step-call", f"{spec} is async: a step calls a plain function")
    elif found.positional < 1 and not found.any_positional:
        at.ctx.error(
            where, "step-call", f"{spec} must take the process's run as its first parameter"
        )
    else:
        for name, _value in arguments:
            if not found.accepts(name) or keyword.iskeyword(name):
                hint = did_you_mean(name, found.parameters[1:])
                at.ctx.error(
                    at.sub("with", name),
                    "step-call",
                    f"{spec} takes no parameter '{name}'{hint}",
                    True,
                )
    into = None if isinstance(raw, str) else raw.get("into")
    if into is not None:
        at.s.declare(into, Opaque(), at.sub("into"))
    return CallStep(module, function, arguments, into)


_INTO = _SNAKE
_VIA = _SNAKE
_CALLABLE = {
    "type": "string",
    "pattern": r"^custom(\.[a-z_][a-z0-9_]*)+\.[A-Za-z_][A-Za-z0-9_]*$",
    "description": "custom.<module>.<function>: a function in the spec's custom/ folder",
}
register(
    StepKind(
        "set",
        "set fields of the record (literals, or '= expression')",
        VALUES,
        _set,
        example="- set: {status: new, deadline: '= today() + days(3)'}",
    )
)
register(
    StepKind(
        "compute",
        "compute named values from expressions for later steps",
        {
            "type": "object",
            "propertyNames": _SNAKE,
            "additionalProperties": EXPR,
            "minProperties": 1,
        },
        _compute,
        example="- compute: {active: \"record.status != 'done'\"}",
    )
)
register(
    StepKind(
        "if",
        "run 'then' steps when the condition holds, else the 'else' steps",
        EXPR,
        _if,
        nested=("then", "else"),
        example="- if: n > 10\n  then: [...]\n  else: [...]",
    )
)
register(
    StepKind(
        "for_each",
        "run steps for every item of a list (a query's result)",
        obj(("in", "as", "do"), **{"in": EXPR, "as": _SNAKE, "do": {"$ref": "#/$defs/steps"}}),
        _for_each,
        example="- for_each: {in: due, as: task, do: [...]}",
    )
)
register(
    StepKind(
        "query",
        "load records matching conditions into a list",
        obj(
            ("entity", "into"),
            entity=_ENTITY,
            where=WHERE,
            sort={"type": "array", "items": {"type": "string", "pattern": r"^-?[a-z][a-z0-9_]*$"}},
            limit={"type": "integer", "minimum": 1, "maximum": 100000},
            first={
                "type": "boolean",
                "description": "into holds the first matching record (by sort, then id) or "
                "nothing, instead of a list",
            },
            into=_INTO,
        ),
        _query,
        example="- query: {entity: Task, where: {due: '= today() + days(1)'}, into: due}",
    )
)
register(
    StepKind(
        "count",
        "count records matching conditions",
        obj(("entity", "into"), entity=_ENTITY, where=WHERE, into=_INTO),
        _count,
        example="- count: {entity: Task, where: {assignee: '= record.assignee', status__ne: done}, into: n}",
    )
)
register(
    StepKind(
        "aggregate",
        "sum, avg, min, max or count over matching records",
        obj(
            ("entity", "fn", "into"),
            entity=_ENTITY,
            fn={"enum": ["sum", "avg", "min", "max", "count"]},
            field=_SNAKE,
            where=WHERE,
            group_by=_SNAKE,
            into=_INTO,
        ),
        _aggregate,
        example="- aggregate: {entity: Deal, fn: sum, field: amount, into: total}",
    )
)
register(
    StepKind(
        "create",
        "create a record of an entity",
        obj(("entity", "values"), entity=_ENTITY, values=VALUES, into=_INTO),
        _create,
        example="- create: {entity: Invoice, values: {deal: '= record', amount: '= record.amount'}}",
    )
)
register(
    StepKind(
        "update",
        "update records matching conditions",
        obj(("entity", "values"), entity=_ENTITY, where=WHERE, values=VALUES),
        _update,
        example="- update: {entity: Task, where: {deal: '= record'}, values: {status: done}}",
    )
)
register(
    StepKind(
        "delete",
        "delete records matching conditions",
        obj(("entity", "where"), entity=_ENTITY, where=WHERE),
        _delete,
        example="- delete: {entity: Task, where: {status: cancelled}}",
    )
)
register(
    StepKind(
        "assign",
        "set a User reference to the least busy (or next, round robin) matching user",
        obj(
            ("field",),
            field=_SNAKE,
            strategy={"enum": ["least_busy", "round_robin"]},
            among={**WHERE, "description": "conditions on User; role: NAME matches a role"},
            workload=obj(entity=_ENTITY, where=WHERE),
        ),
        _assign,
        example="- assign: {field: assignee, among: {position: '= record.assignee.position'}}",
    )
)
register(
    StepKind(
        "email",
        "send an e-mail (through the outbox)",
        obj(("to", "subject"), to=VALUE, subject=TEMPLATE, text=TEMPLATE, html=TEMPLATE, via=_VIA),
        _email,
        example="- email: {to: '= record.assignee.email', subject: 'Task {{ record.title }}', text: '...'}",
    )
)
register(
    StepKind(
        "telegram",
        "send a Telegram message (through the outbox)",
        obj(("text",), text=TEMPLATE, chat=VALUE, via=_VIA),
        _telegram,
        example="- telegram: {text: 'Deal {{ record.name }} won'}",
    )
)
register(
    StepKind(
        "sms",
        "send a text message through an sms integration (through the outbox)",
        obj(("to", "text"), to=VALUE, text=TEMPLATE, via=_VIA),
        _sms,
        example="- sms: {to: '= record.assignee.phone', text: 'Due tomorrow: {{ record.title }}'}",
    )
)
register(
    StepKind(
        "notify",
        "tell users in the app (the bell), with a link to the record: to: users, owner: true or role: NAME",
        obj(
            ("message",),
            to=VALUE,
            owner={"type": "boolean", "description": "the owner of the process's record"},
            role=_SNAKE,
            message=TEMPLATE,
            link={**VALUE, "description": "the record it links to (default: the process's record)"},
        ),
        _notify,
        example="- notify: {to: '= record.assignee', message: 'New task: {{ record.title }}'}",
    )
)
register(
    StepKind(
        "http",
        "call an HTTP API; the JSON answer can be kept for later steps",
        obj(
            ("url",),
            method={"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
            url=TEMPLATE,
            headers={"type": "object", "additionalProperties": TEMPLATE},
            json=VALUE,
            into=_INTO,
            timeout={"type": "number", "exclusiveMinimum": 0, "maximum": 300},
            via=_VIA,
            reply={
                "description": "the shape of the JSON body kept with into: a type name (string, "
                "number, integer, boolean, date, datetime, any, list, object), [SHAPE] for a list "
                "of SHAPE, or field: SHAPE pairs; names used on it are checked",
                "type": ["string", "array", "object"],
            },
        ),
        _http,
        example="- http: {method: POST, url: 'https://example.com/hook', json: '= record', into: reply}",
    )
)
register(
    StepKind(
        "webhook",
        "post a signed (HMAC-SHA256) event to a webhook integration",
        obj(
            ("event",),
            event={"type": "string", "pattern": r"^[a-z][a-z0-9_.]*$"},
            payload=VALUE,
            via=_VIA,
        ),
        _webhook,
        example="- webhook: {event: deal.won, payload: '= record'}",
    )
)
register(
    StepKind(
        "error",
        "stop and fail the request with a message (and an HTTP status)",
        {
            "anyOf": [
                TEMPLATE,
                obj(("message",), message=TEMPLATE, status={"enum": [400, 403, 404, 409, 422]}),
            ]
        },
        _error,
        example="- error: {message: 'Only managers may do this', status: 403}",
    )
)
register(
    StepKind(
        "log",
        "write a line to the app's log",
        {
            "anyOf": [
                TEMPLATE,
                obj(
                    ("message",),
                    message=TEMPLATE,
                    level={"enum": ["debug", "info", "warning", "error"]},
                ),
            ]
        },
        _log,
        example="- log: 'Task {{ record.id }} reassigned'",
    )
)
register(
    StepKind(
        "backup",
        "write a restorable backup of the database (keeping the last N)",
        {
            "anyOf": [
                {"type": "null"},
                obj(
                    keep={"type": "integer", "minimum": 1, "maximum": 365},
                    folder={"type": "string", "pattern": r"^[A-Za-z0-9_./\-]+$"},
                ),
            ]
        },
        _backup,
        example="- backup: {keep: 14}",
    )
)
register(
    StepKind(
        "attach_document",
        "save a document of a record (its PDF) on that record, after the commit: in a file "
        "field or among its attachments",
        obj(
            ("document",),
            document=_SNAKE,
            entity={"$ref": "#/$defs/entity_name"},
            record=VALUE,
            format={"enum": ["pdf", "xlsx"]},
            field=_SNAKE,
        ),
        _attach_document,
        example="- attach_document: {entity: Invoice, record: '= invoice', document: invoice, field: pdf}",
    )
)
register(
    StepKind(
        "call",
        "call a Python function of the spec's custom/ folder (in the transaction)",
        {
            "anyOf": [
                _CALLABLE,
                obj(
                    ("function",),
                    function=_CALLABLE,
                    **{
                        "with": {
                            "type": "object",
                            "propertyNames": _SNAKE,
                            "additionalProperties": VALUE,
                        }
                    },
                    into=_INTO,
                ),
            ]
        },
        _call,
        example="- call: {function: custom.pricing.discount, with: {deal: '= record'}, into: off}",
    )
)
