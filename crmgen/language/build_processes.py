"""Processes: triggers (what starts them) and the names their steps may use."""

from __future__ import annotations

from typing import Any

from crmgen.language.build_inbound import input_kind
from crmgen.language.build_steps import StepContext, build_steps
from crmgen.language.context import USER, Context
from crmgen.language.cron import cron_problem, normalize
from crmgen.language.expressions import EntityValue, Kind, Opaque, Struct
from crmgen.language.model import Endpoint, InboundHook, Process, Trigger
from crmgen.language.text import Text, humanize
from crmgen.language.yaml_loader import Path

_EVENTS = ("create", "update", "delete")
# the built-in steps that write no record or write through set, create and update
BUILT_IN_STEPS = frozenset(
    {
        *("set", "compute", "if", "for_each", "query", "count", "aggregate", "create"),
        *("update", "delete", "assign", "email", "notify", "telegram", "sms", "http"),
        *("webhook", "error", "log", "backup", "attach_document"),
    }
)


def build_processes(
    ctx: Context,
    endpoints: dict[str, Endpoint],
    hooks: dict[str, InboundHook] | None = None,
    workflows: dict[str, str] | None = None,
) -> list[Process]:
    """The checked processes; ``workflows``: the field of each entity's workflow (entity ->
    field), for the processes that say ``workflow: bypass``."""
    processes = []
    workflows = workflows or {}
    bound: dict[str, str] = {}
    hooked: dict[str, str] = {}
    hooks = hooks or {}
    for name, raw in (ctx.data.get("processes") or {}).items():
        path: Path = ("processes", name)
        trigger, names = _trigger(ctx, raw["on"], path + ("on",), endpoints, hooks)
        if trigger.inbound:
            if trigger.inbound in hooked:
                ctx.error(
                    path + ("on", "inbound"),
                    "inbound-bound",
                    f"the inbound hook '{trigger.inbound}' already runs the process '{hooked[trigger.inbound]}'",
                )
            hooked[trigger.inbound] = name
        if trigger.endpoint:
            if trigger.endpoint in bound:
                ctx.error(
                    path + ("on", "endpoint"),
                    "endpoint-bound",
                    f"the endpoint '{trigger.endpoint}' already runs the process '{bound[trigger.endpoint]}'",
                )
            bound[trigger.endpoint] = name
        scope = ctx.scope(**names)
        scope.subscripts = True  # steps read into lists and objects (an HTTP reply's body)
        sctx = StepContext(ctx, scope, trigger.entity, name)
        steps = build_steps(raw["steps"], path + ("steps",), sctx)
        bypass = raw.get("workflow") == "bypass"
        if bypass:
            _check_bypass(ctx, path + ("workflow",), steps, trigger.entity, workflows)
        processes.append(
            Process(
                name,
                Text.of(raw.get("label"), humanize(name)),
                trigger,
                steps,
                ctx.pos(path, True),
                bypass,
            )
        )
    for name in endpoints:
        if name not in bound:
            ctx.error(
                ("endpoints", name),
                "endpoint-unbound",
                f"no process runs the endpoint '{name}'; add a process with on: {{endpoint: {name}}}",
                True,
            )
    for name in hooks:
        if name not in hooked:
            ctx.error(
                ("inbound", name),
                "inbound-unbound",
                f"no process runs the inbound hook '{name}'; add a process with on: {{inbound: {name}}}",
                True,
            )
    return processes


def _trigger(
    ctx: Context,
    raw: dict[str, Any],
    path: Path,
    endpoints: dict[str, Endpoint],
    hooks: dict[str, InboundHook],
) -> tuple[Trigger, dict[str, Kind]]:
    pos = ctx.pos(path)
    user = EntityValue(USER)
    for event in _EVENTS:
        if event in raw:
            entity = raw[event]
            ok = ctx.known_entity(entity, path + (event,))
            fields = tuple(raw.get("fields") or ())
            if fields and event != "update":
                ctx.error(
                    path + ("fields",),
                    "trigger",
                    "fields: applies to update triggers (run when one of these fields changed)",
                    True,
                )
            for i, f in enumerate(fields):
                if ok:
                    ctx.known_field(entity, f, path + ("fields", i))
            names: dict[str, Kind] = {"record": EntityValue(entity), "user": user}
            if event == "update":
                names["old"] = EntityValue(entity)
            return Trigger(
                event, pos, entity=entity, when=raw.get("when", "before"), fields=fields
            ), names
    for key in ("when", "fields"):
        if key in raw:
            ctx.error(
                path + (key,),
                "trigger",
                f"'{key}' applies only to create/update/delete triggers",
                True,
            )
    if "schedule" in raw:
        problem = cron_problem(raw["schedule"])
        if problem:
            ctx.error(path + ("schedule",), "cron", problem)
        return Trigger("schedule", pos, cron=normalize(raw["schedule"])), {}
    if "endpoint" in raw:
        name = raw["endpoint"]
        ctx.known_names("endpoints", name, path + ("endpoint",), "endpoint")
        endpoint = endpoints.get(name)
        names = {"user": user}
        entity = None
        if endpoint is not None:
            names["input"] = Struct(tuple((f.name, Opaque()) for f in endpoint.input))
            if endpoint.entity:
                entity = endpoint.entity
                names["record"] = EntityValue(entity)
        return Trigger("endpoint", pos, entity=entity, endpoint=name), names
    if "inbound" in raw:
        name = raw["inbound"]
        ctx.known_names("inbound", name, path + ("inbound",), "inbound hook")
        hook = hooks.get(name)
        # an unknown or broken hook has its own error: its input is not checked here
        names = {"user": user, "input": Opaque() if hook is None else input_kind(hook.input)}
        return Trigger("inbound", pos, inbound=name), names
    action = raw["action"]
    entity = action["entity"]
    ctx.known_entity(entity, path + ("action", "entity"))
    roles = tuple(action.get("roles") or ())
    for i, r in enumerate(roles):
        ctx.known_role(r, path + ("action", "roles", i))
    label = Text.of(action.get("label"), "Run")
    return Trigger("action", pos, entity=entity, label=label, roles=roles), {
        "record": EntityValue(entity),
        "user": user,
    }


def _check_bypass(
    ctx: Context, path: Path, steps: tuple[Any, ...], entity: str | None, workflows: dict[str, str]
) -> None:
    """``workflow: bypass`` only on a process one of whose steps writes a workflow's field."""
    if not workflows:
        ctx.error(
            path,
            "workflow",
            "workflow: bypass lets a process's writes skip the entities' workflows, "
            "but no entity has a workflow",
        )
        return
    if not any(_writes_workflow(step, entity, workflows) for step in steps):
        fields = ", ".join(f"{e}.{f}" for e, f in sorted(workflows.items()))
        ctx.error(
            path,
            "workflow",
            f"workflow: bypass, but no step of this process writes a workflow's field ({fields}); "
            "remove it (a process passes a workflow only where it must)",
        )


def _writes_workflow(step: Any, entity: str | None, workflows: dict[str, str]) -> bool:
    """Whether ``step`` (or a step inside it) sets the workflow field of an entity."""
    kind = getattr(step, "kind", None)
    if kind == "if":
        inner = step.then + step.otherwise
        return any(_writes_workflow(s, entity, workflows) for s in inner)
    if kind == "for_each":
        return any(_writes_workflow(s, entity, workflows) for s in step.steps)
    if kind not in BUILT_IN_STEPS:
        return True  # custom Python (call) and plugin steps write what their code says
    target = entity if kind == "set" else getattr(step, "entity", None)
    if kind not in ("set", "create", "update") or target not in workflows:
        return False
    return any(name == workflows[target] for name, _ in step.values)
