"""Processes compiled to Python: one function per process, one statement (or block) per step.

The generated ``processes.py`` holds these functions; nothing reads the YAML at run time and
nothing is evaluated from text. Expressions go through ``expr_py`` (checked AST -> Python);
literals through ``py_literal`` (``repr``); templates (subjects, bodies, messages, URLs) are
kept as string literals and rendered at run time by Jinja's sandbox: they are data.

A step becomes a call on ``run`` (the generated ``Run``: the request's session, the user, the
outbox) or plain Python (``compute`` -> locals, ``if`` -> if/else, ``for_each`` -> for).
Where-conditions are written by ``where.Conditions``, the compiler dashboards, reports and
record rules use too (``where.eq(models.Task.status, "done")``).

Step kinds without a ``step_<kind>`` method here (plugins) are written by their
``StepKind.template``: a Jinja template rendered with the step and the helpers of
``ProcessCompiler.plugin_step`` (``expr``, ``text``, ``lit``, ``declare`` ...).
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

import jinja2

from crmgen.language import build_steps as st
from crmgen.language.context import USER
from crmgen.language.expressions import Expression
from crmgen.language.model import Condition, Field, Process, Spec, Value
from crmgen.language.steps import REGISTRY, StepKind
from crmgen.render.environment import py_literal
from crmgen.render.errors import GenerateError
from crmgen.render.expr_py import python_source
from crmgen.render.where_compiler import RUNTIME as WHERE_MODULE
from crmgen.render.where_compiler import Conditions, literal, value_source

INDENT = "    "
# Names the process functions themselves use: spec names that clash get a trailing "_".
RESERVED = frozenset({"fn", "models", "sa", "run", "dt", "Decimal", "Any", WHERE_MODULE})
HOOKS = (
    "before_create",
    "after_create",
    "before_update",
    "after_update",
    "before_delete",
    "after_delete",
)


@dataclass(frozen=True)
class Compiled:
    """One process as generated code."""

    process: Process
    function: str
    source: str  # the whole ``def ...`` of the process (unformatted; the writer formats it)
    hook: str | None = None  # before_create ... after_delete for entity triggers
    fields: tuple[str, ...] = ()  # update triggers: run only when one of these changed


@dataclass
class _Scope:
    """The local names of the function being written (spec name -> Python name)."""

    names: dict[str, str] = field(default_factory=dict)

    def declare(self, name: str) -> str:
        local = name
        if (
            local in RESERVED
            or keyword.iskeyword(local)
            or keyword.issoftkeyword(local)
            or hasattr(builtins, local)
        ):
            local = f"{name}_"
        self.names[name] = local
        return local


def local_name(name: str) -> str:
    return _Scope().declare(name)


class ProcessCompiler:
    """Writes the Python of one process."""

    def __init__(self, spec: Spec, process: Process) -> None:
        self.spec = spec
        self.process = process
        self.scope = _Scope()
        self.lines: list[str] = []
        self.conditions = Conditions(spec, f"process {process.name}", self.value)

    # -- the function ---------------------------------------------------------------------------
    def compile(self) -> Compiled:
        p, t = self.process, self.process.trigger
        params = ["run: Run"]
        if t.kind in ("create", "update", "delete", "action") or (
            t.kind == "endpoint" and t.entity
        ):
            params.append("record: Any")
        if t.kind == "update":
            params.append("old: Any")
        if t.kind != "schedule":
            params.append("user: Any")
        if t.kind in ("endpoint", "inbound"):
            params.append("input: Any")
        name = f"process_{p.name}"
        label = p.label.get(self.spec.app.default_locale, self.spec.app.default_locale)
        out = [
            f"def {name}({', '.join(params)}) -> None:",
            INDENT + _docstring(f"{label} ({_describe(p)})"),
        ]
        self.lines = []
        self.steps(p.steps, 1)
        if not self.lines:
            self.lines.append(INDENT + "pass")
        hook = f"{t.when}_{t.kind}" if t.kind in ("create", "update", "delete") else None
        return Compiled(p, name, "\n".join(out + self.lines) + "\n", hook, t.fields)

    def emit(self, depth: int, text: str) -> None:
        self.lines.append(INDENT * depth + text)

    def steps(self, steps: tuple[Any, ...], depth: int) -> None:
        for step in steps:
            method = getattr(self, "step_" + step.kind, None)
            if method is not None:
                method(step, depth)
                continue
            kind = REGISTRY.get(step.kind)
            if kind is None or not kind.template:
                raise GenerateError(
                    f"process {self.process.name}: the step kind '{step.kind}' has no code generator "
                    "(a plugin's StepKind needs a template: see 'Step plugins' in docs/generated-app.md)"
                )
            self.plugin_step(kind, step, depth)

    def plugin_step(self, kind: StepKind, step: Any, depth: int) -> None:
        """A plugin step: its kind's template rendered with the step and these helpers, the
        result indented to ``depth`` and checked to be Python."""
        where = f"process {self.process.name}: step kind '{kind.name}'"
        helpers = {
            "step": step,
            "expr": self.plugin_expr,
            "text": self.template,
            "html": self.html,
            "lit": lambda value, type_=None: literal(value, type_),
            "declare": self.scope.declare,
            "process": self.process.name,
            "trigger": self.process.trigger,
        }
        try:
            source = _step_template(kind).render(helpers)
        except (jinja2.TemplateError, OSError) as exc:
            raise GenerateError(
                f"{where}: its template failed: {type(exc).__name__}: {exc}"
            ) from None
        source = textwrap.dedent(source).strip("\n")
        try:
            ast.parse(source)
        except SyntaxError as exc:
            raise GenerateError(
                f"{where}: its template gave invalid Python (line {exc.lineno}: {exc.msg}):\n{source}"
            ) from None
        for line in source.splitlines():
            if line.strip():
                self.emit(depth, line)

    def plugin_expr(self, value: Any) -> str:
        """Python source of a step value (``Value``: literal or expression) or ``Expression``."""
        if value is None:
            return "None"
        if isinstance(value, Value):
            return self.value(value, None)
        if isinstance(value, Expression):
            return self.expr(value)
        raise GenerateError(
            f"process {self.process.name}: expr() takes a Value or an Expression, not {type(value).__name__}"
        )

    # -- expressions, values, templates ---------------------------------------------------------
    def expr(self, expression: Any) -> str:
        """Python source evaluating a checked expression; a missing input gives None."""
        return f"fn.evaluate(lambda: {self.raw(expression)})"

    def raw(self, expression: Any) -> str:
        return python_source(expression, names=self.scope.names)

    def value(self, value: Value, f: Field | None, type_: str | None = None) -> str:
        """A step value written to (or compared with) field ``f``."""
        return value_source(value, f, type_, self.scope.names)

    def template(self, template: st.Template | None) -> str:
        if template is None:
            return "None"
        names = ", ".join(f"{py_literal(n)}: {self.scope.names.get(n, n)}" for n in template.names)
        return f"run.text({py_literal(template.source)}, {{{names}}})"

    def html(self, template: st.Template | None) -> str:
        text = self.template(template)
        return text.replace("run.text(", "run.html(", 1) if template is not None else text

    def entity(self, name: str) -> Any:
        return self.conditions.entity(name)

    def values(self, entity_name: str, values: tuple[tuple[str, Value], ...], depth: int) -> str:
        entity = self.entity(entity_name)
        if not values:
            return "{}"
        inner = INDENT * (depth + 1)
        items = [f"{inner}{py_literal(n)}: {self.value(v, entity.field(n))}," for n, v in values]
        return "{\n" + "\n".join(items) + "\n" + INDENT * depth + "}"

    def where(self, entity_name: str, conditions: tuple[Condition, ...], depth: int) -> str:
        if not conditions:
            return "[]"
        inner = INDENT * (depth + 1)
        items = [f"{inner}{c}," for c in self.conditions.all(entity_name, conditions)]
        return "[\n" + "\n".join(items) + "\n" + INDENT * depth + "]"

    # -- steps ----------------------------------------------------------------------------------
    def step_set(self, step: st.SetStep, depth: int) -> None:
        entity = self.process.trigger.entity
        self.emit(depth, f"run.set(record, {self.values(entity or '', step.values, depth)})")

    def step_compute(self, step: st.ComputeStep, depth: int) -> None:
        for name, expression in step.assignments:
            source = self.expr(expression)  # before declaring: the name is not its own input
            self.emit(depth, f"{self.scope.declare(name)} = {source}")

    def step_if(self, step: st.IfStep, depth: int) -> None:
        self.emit(depth, f"if {self.expr(step.condition)}:")
        self.block(step.then, depth + 1)
        if step.otherwise:
            self.emit(depth, "else:")
            self.block(step.otherwise, depth + 1)

    def block(self, steps: tuple[Any, ...], depth: int) -> None:
        before = len(self.lines)
        saved = dict(self.scope.names)
        self.steps(steps, depth)
        self.scope.names = saved
        if len(self.lines) == before:
            self.emit(depth, "pass")

    def step_for_each(self, step: st.ForEachStep, depth: int) -> None:
        items = self.expr(step.items)
        saved = dict(self.scope.names)
        var = self.scope.declare(step.var)
        self.emit(depth, f"for {var} in {items} or []:")
        before = len(self.lines)
        self.steps(step.steps, depth + 1)
        if len(self.lines) == before:
            self.emit(depth + 1, "pass")
        self.scope.names = saved

    def step_query(self, step: st.QueryStep, depth: int) -> None:
        where = self.where(step.entity, step.where, depth)
        extra = ""
        if step.sort:
            extra += f", sort={py_literal(tuple(step.sort))}"
        if step.limit is not None:
            extra += f", limit={step.limit!r}"
        call = "run.first" if step.first else "run.query"
        self.emit(
            depth,
            f"{self.scope.declare(step.into)} = {call}({py_literal(step.entity)}, {where}{extra})",
        )

    def step_count(self, step: st.CountStep, depth: int) -> None:
        where = self.where(step.entity, step.where, depth)
        self.emit(
            depth,
            f"{self.scope.declare(step.into)} = run.count({py_literal(step.entity)}, {where})",
        )

    def step_aggregate(self, step: st.AggregateStep, depth: int) -> None:
        where = self.where(step.entity, step.where, depth)
        args = [py_literal(step.entity), py_literal(step.fn), py_literal(step.field), where]
        if step.group_by:
            args.append(f"group_by={py_literal(step.group_by)}")
        self.emit(depth, f"{self.scope.declare(step.into)} = run.aggregate({', '.join(args)})")

    def step_create(self, step: st.CreateStep, depth: int) -> None:
        call = (
            f"run.create({py_literal(step.entity)}, {self.values(step.entity, step.values, depth)})"
        )
        self.emit(depth, f"{self.scope.declare(step.into)} = {call}" if step.into else call)

    def step_update(self, step: st.UpdateStep, depth: int) -> None:
        where = self.where(step.entity, step.where, depth)
        self.emit(
            depth,
            f"run.update({py_literal(step.entity)}, {where}, {self.values(step.entity, step.values, depth)})",
        )

    def step_delete(self, step: st.DeleteStep, depth: int) -> None:
        self.emit(
            depth,
            f"run.delete({py_literal(step.entity)}, {self.where(step.entity, step.where, depth)})",
        )

    def step_assign(self, step: st.AssignStep, depth: int) -> None:
        among = self.where(USER, step.among, depth)
        workload = self.entity(step.workload_entity) if step.workload_entity else None
        if workload is None:
            raise GenerateError(f"process {self.process.name}: assign needs a workload entity")
        link = workload.field(step.field)
        if (
            link is None
            or link.relation is None
            or link.relation.target != USER
            or link.relation.kind == "many_to_many"
        ):
            link = next(
                (
                    f
                    for f in workload.fields
                    if f.relation is not None
                    and f.relation.target == USER
                    and f.relation.kind != "many_to_many"
                ),
                None,
            )
        if link is None:
            raise GenerateError(
                f"process {self.process.name}: {workload.name} has no reference to User to count the workload by"
            )
        busy = self.where(workload.name, step.workload_where, depth)
        self.emit(
            depth,
            f"run.assign(record, {py_literal(step.field)}, {py_literal(step.strategy)}, among={among}, "
            f"workload=(models.{workload.name}.{link.column}, {busy}))",
        )

    def step_email(self, step: st.EmailStep, depth: int) -> None:
        self.emit(
            depth,
            f"run.email(to={self.value(step.to, None)}, subject={self.template(step.subject)}, "
            f"text={self.template(step.text)}, html={self.html(step.html)}, integration={py_literal(step.via)})",
        )

    def step_notify(self, step: st.NotifyStep, depth: int) -> None:
        t = self.process.trigger
        has_record = t.kind in ("create", "update", "delete", "action") or (
            t.kind == "endpoint" and bool(t.entity)
        )
        to = self.value(step.to, None) if step.to is not None else "None"
        link = self.value(step.link, None) if step.link is not None else "None"
        if step.link is None and has_record:
            link = "record"
        owner = "record" if step.owner and has_record else "None"
        self.emit(
            depth,
            f"run.notify(to={to}, owner={owner}, role={py_literal(step.role)}, "
            f"message={self.template(step.message)}, link={link})",
        )

    def step_telegram(self, step: st.TelegramStep, depth: int) -> None:
        chat = self.value(step.chat, None) if step.chat is not None else "None"
        self.emit(
            depth,
            f"run.telegram(chat={chat}, text={self.template(step.text)}, integration={py_literal(step.via)})",
        )

    def step_sms(self, step: st.SmsStep, depth: int) -> None:
        self.emit(
            depth,
            f"run.sms(to={self.value(step.to, None)}, text={self.template(step.text)}, integration={py_literal(step.via)})",
        )

    def step_http(self, step: st.HttpStep, depth: int) -> None:
        headers = (
            "{" + ", ".join(f"{py_literal(k)}: {self.template(v)}" for k, v in step.headers) + "}"
        )
        body = self.value(step.json, None) if step.json is not None else "None"
        call = (
            f"run.http({py_literal(step.method)}, {self.template(step.url)}, headers={headers}, json={body}, "
            f"timeout={step.timeout!r}, integration={py_literal(step.via)}"
        )
        if step.into:
            self.emit(depth, f"{self.scope.declare(step.into)} = {call}, wait=True)")
        else:
            self.emit(depth, call + ")")

    def step_webhook(self, step: st.WebhookStep, depth: int) -> None:
        payload = self.value(step.payload, None) if step.payload is not None else "None"
        self.emit(
            depth,
            f"run.webhook({py_literal(step.event)}, {payload}, integration={py_literal(step.via)})",
        )

    def step_error(self, step: st.ErrorStep, depth: int) -> None:
        self.emit(depth, f"raise run.error({step.status!r}, {self.template(step.message)})")

    def step_log(self, step: st.LogStep, depth: int) -> None:
        self.emit(depth, f"run.log({py_literal(step.level)}, {self.template(step.message)})")

    def step_call(self, step: st.CallStep, depth: int) -> None:
        arguments = "".join(f", {name}={self.value(value, None)}" for name, value in step.arguments)
        call = f"{custom_alias(step)}(run{arguments})"
        if step.into is not None:
            call = f"{self.scope.declare(step.into)} = {call}"
        self.emit(depth, call)

    def step_backup(self, step: st.BackupStep, depth: int) -> None:
        self.emit(depth, f"run.backup({py_literal(step.folder)}, keep={step.keep!r})")

    def step_attach_document(self, step: st.AttachDocumentStep, depth: int) -> None:
        self.emit(
            depth,
            f"run.attach_document({py_literal(step.entity)}, {self.value(step.record, None)}, "
            f"{py_literal(step.document)}, {py_literal(step.format)}, field={py_literal(step.field)})",
        )


_STEP_TEMPLATES: dict[str, jinja2.Template] = {}


def _step_template(kind: StepKind) -> jinja2.Template:
    """The compiled template of a plugin step kind (a file of ``template_dir``, or inline text).

    Plain Jinja (the template is the plugin's code, not spec data); undefined names are errors;
    ``trim_blocks``/``lstrip_blocks`` so block tags leave no blank lines behind.
    """
    key = f"{kind.name}\0{kind.template_dir}\0{kind.template}"
    if key not in _STEP_TEMPLATES:
        loader = (
            jinja2.FileSystemLoader(str(kind.template_dir))
            if kind.template_dir is not None
            else None
        )
        env = jinja2.Environment(
            loader=loader,
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        _STEP_TEMPLATES[key] = (
            env.get_template(kind.template)
            if loader is not None
            else env.from_string(kind.template)
        )
    return _STEP_TEMPLATES[key]


def plugin_imports(spec: Spec) -> list[str]:
    """The import statements the plugin step kinds used by ``spec`` declare (once each)."""
    found: dict[str, None] = {}

    def walk(steps: tuple[Any, ...]) -> None:
        for step in steps:
            kind = REGISTRY.get(getattr(step, "kind", ""))
            if kind is not None:
                for line in kind.imports:
                    tree = ast.parse(line) if isinstance(line, str) else None
                    if (
                        tree is None
                        or len(tree.body) != 1
                        or not isinstance(tree.body[0], (ast.Import, ast.ImportFrom))
                    ):
                        raise GenerateError(
                            f"step kind '{kind.name}': {line!r} in imports is not one import statement"
                        )
                    found[ast.unparse(tree)] = None
            for nested in ("then", "otherwise", "steps"):
                inner = getattr(step, nested, None)
                if isinstance(inner, tuple):
                    walk(inner)

    for p in spec.processes:
        walk(p.steps)
    return list(found)


def uses_step(spec: Spec, kind: str) -> bool:
    """Whether a process of ``spec`` has a step of ``kind`` (nested ones too)."""

    def walk(steps: tuple[Any, ...]) -> bool:
        for step in steps:
            if getattr(step, "kind", "") == kind:
                return True
            for nested in ("then", "otherwise", "steps"):
                inner = getattr(step, nested, None)
                if isinstance(inner, tuple) and walk(inner):
                    return True
        return False

    return any(walk(p.steps) for p in spec.processes)


def custom_alias(step: st.CallStep) -> str:
    """The name ``processes.py`` imports a custom function under (``_custom__pricing__discount``)."""
    return "_custom__" + "__".join([*step.module.split("."), step.function])


def custom_imports(spec: Spec, package: str) -> list[str]:
    """The import statements of the custom functions the spec's ``call`` steps name, sorted."""
    found: set[str] = set()

    def walk(steps: tuple[Any, ...]) -> None:
        for step in steps:
            if isinstance(step, st.CallStep):
                module = f"{package}.custom.{step.module}"
                found.add(f"from {module} import {step.function} as {custom_alias(step)}")
            for nested in ("then", "otherwise", "steps"):
                inner = getattr(step, nested, None)
                if isinstance(inner, tuple):
                    walk(inner)

    for p in spec.processes:
        walk(p.steps)
    return sorted(found)


def _docstring(text: str) -> str:
    text = " ".join(text.split())
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"""{text}"""'
    return py_literal(text)


def _describe(process: Process) -> str:
    t = process.trigger
    if t.kind in ("create", "update", "delete"):
        changed = f" of {', '.join(t.fields)}" if t.fields else ""
        return f"{t.when} {t.kind}{changed} of {t.entity}"
    if t.kind == "schedule":
        return f"schedule {t.cron}"
    if t.kind == "endpoint":
        return f"endpoint {t.endpoint}"
    if t.kind == "inbound":
        return f"inbound hook {t.inbound}"
    return f"action on {t.entity}"


def compile_process(spec: Spec, process: Process) -> Compiled:
    return ProcessCompiler(spec, process).compile()


def compile_all(spec: Spec) -> list[Compiled]:
    """Every process, in spec order (the order triggers of one event run in)."""
    return [compile_process(spec, p) for p in spec.processes]


def processes_context(spec: Spec) -> dict[str, Any]:
    """The context of ``processes.py``."""
    compiled = compile_all(spec)
    hooks: dict[str, dict[str, list[Compiled]]] = {h: {} for h in HOOKS}
    for c in compiled:
        if c.hook is not None:
            hooks[c.hook].setdefault(c.process.trigger.entity or "", []).append(c)
    endpoints = {e.name: e for e in spec.endpoints}
    return {
        "compiled": compiled,
        "hooks": {h: sorted(by.items()) for h, by in hooks.items()},
        "schedules": [c for c in compiled if c.process.trigger.kind == "schedule"],
        "endpoint_processes": [
            (c, endpoints[c.process.trigger.endpoint or ""])
            for c in compiled
            if c.process.trigger.kind == "endpoint" and c.process.trigger.endpoint in endpoints
        ],
        "actions": [c for c in compiled if c.process.trigger.kind == "action"],
        "inbound_hooks": [
            (hook, next(c for c in compiled if c.process.trigger.inbound == hook.name))
            for hook in spec.inbound
        ],
        "idempotency": lambda hook: python_source(hook.idempotency, names={"input": "input"}),
        "key_fields": _key_fields,
        "input_facts": lambda item: _input_facts(item, spec.app.phone_region),
        "plugin_imports": plugin_imports(spec),
        "custom_imports": custom_imports(spec, spec.app.name),
    }


def _key_fields(hook: Any) -> tuple[str, ...]:
    """The input fields an inbound hook's idempotency key reads (named in its 422)."""
    declared = [f.name for f in hook.input]
    read = set(re.findall(r"\binput\s*\.\s*([a-z][a-z0-9_]*)", hook.idempotency.source))
    return tuple(name for name in declared if name in read)


def _input_facts(endpoint: Any, phone_region: str = "") -> list[Any]:
    """The facts of an endpoint's or inbound hook's input fields (phones in E.164 when the
    app has a ``phone_region``)."""
    from crmgen.render.api import input_facts

    return input_facts(endpoint.input, phone_region)


def parse_check(source: str) -> None:
    """Raise when ``source`` is not valid Python (a safety net for the tests)."""
    ast.parse(source)


def written_fields(spec: Spec) -> dict[str, tuple[str, ...]]:
    """API path -> the fields processes may write on that entity (``set``, ``assign`` on the
    trigger's record; ``create``/``update`` values): the generated tests do not expect what
    was sent there to come back unchanged."""
    found: dict[str, set[str]] = {}

    def walk(steps: tuple[Any, ...], entity: str | None) -> None:
        for step in steps:
            kind = getattr(step, "kind", "")
            if kind == "set" and entity:
                found.setdefault(entity, set()).update(n for n, _ in step.values)
            elif kind == "assign" and entity:
                found.setdefault(entity, set()).add(step.field)
            elif kind in ("create", "update"):
                found.setdefault(step.entity, set()).update(n for n, _ in step.values)
            for nested in ("then", "otherwise", "steps"):
                inner = getattr(step, nested, None)
                if isinstance(inner, tuple):
                    walk(inner, entity)

    for p in spec.processes:
        walk(p.steps, p.trigger.entity)
    out = {}
    for name, names in found.items():
        entity = spec.entity(name)
        if entity is not None:
            out[entity.api_path] = tuple(sorted(names))
    return dict(sorted(out.items()))
