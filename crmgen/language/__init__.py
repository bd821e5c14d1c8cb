"""The spec-language layer: load YAML (with positions), validate (schema, then meaning), build
the model.

``load_spec(path)`` returns the typed ``Spec`` or raises ``SpecError`` with every problem found;
``check_spec(path)`` returns the spec (or None) and all diagnostics, warnings included.
"""

from __future__ import annotations

import copy
from pathlib import Path as FsPath
from typing import Any

from jsonschema.exceptions import ValidationError

from crmgen.diagnostics import Diagnostic, SpecError, sort_diagnostics
from crmgen.language.build_app import build_app, build_endpoints, build_integrations, build_roles
from crmgen.language.build_encryption import check_encrypted_reads
from crmgen.language.build_entities import build_entities
from crmgen.language.build_forms import build_forms
from crmgen.language.build_inbound import build_inbound
from crmgen.language.build_mail import build_email_templates
from crmgen.language.build_processes import build_processes
from crmgen.language.build_ui import build_ui
from crmgen.language.context import Context
from crmgen.language.custom_code import find_custom
from crmgen.language.model import Spec
from crmgen.language.names import snake_case
from crmgen.language.schema_errors import schema_diagnostics, structural_errors, unexpected_keys
from crmgen.language.sources import load_sources
from crmgen.language.user_management import check_two_factor, check_user_management
from crmgen.language.yaml_loader import Path

_UNITS = ("entities", "processes", "roles", "endpoints", "integrations", "email_templates")


def check_spec(path: str | FsPath) -> tuple[Spec | None, list[Diagnostic]]:
    """Every diagnostic for the spec at ``path`` and, when it has no errors, the model."""
    root = FsPath(path)
    sources = load_sources(root)
    diagnostics = list(sources.diagnostics)
    if _has_errors(diagnostics):
        return None, _finish(diagnostics)
    fallback = sources.files[0] if sources.files else str(root)
    data = sources.data
    errors = structural_errors(data)
    diagnostics += schema_diagnostics(errors, sources.source, fallback)
    pruned, removed = _prune(data, errors)
    if pruned is None:
        return None, _finish(diagnostics)
    ctx = Context(pruned, sources.source, fallback, custom=find_custom(root))
    for unit in removed:
        if len(unit) == 2 and unit[0] == "entities":
            ctx.broken_entities.add(str(unit[1]))
        elif len(unit) == 4 and unit[0] == "entities" and unit[2] == "fields":
            ctx.broken_fields.add((str(unit[1]), str(unit[3])))
        if len(unit) == 2:
            ctx.broken_names.add((str(unit[0]), str(unit[1])))
        elif len(unit) == 3 and unit[0] == "ui":
            ctx.broken_names.add((f"ui.{unit[1]}", str(unit[2])))
    spec = _build(ctx, _default_name(root), tuple(sources.files))
    diagnostics += ctx.diagnostics
    if _has_errors(diagnostics):
        return None, _finish(diagnostics)
    return spec, _finish(diagnostics)


def load_spec(path: str | FsPath) -> Spec:
    """The typed model of the spec at ``path``; raises ``SpecError`` when it has errors."""
    spec, diagnostics = check_spec(path)
    if spec is None:
        raise SpecError(diagnostics)
    return spec


def _build(ctx: Context, default_name: str, files: tuple[str, ...]) -> Spec:
    app = build_app(ctx, default_name)
    roles = build_roles(ctx)
    ctx.roles = tuple(r.name for r in roles)
    entities = build_entities(ctx)
    check_user_management(ctx, roles, entities)
    check_two_factor(ctx, app, roles)
    entity_paths = {e.api_path: e.name for e in entities}
    backs = {
        (target.api_path, f.relation.back): f"{e.name}.{f.name}"
        for e in entities
        for f in e.fields
        if f.relation is not None
        for target in entities
        if target.name == f.relation.target
    }
    endpoints = build_endpoints(ctx, entity_paths, backs)
    integrations = build_integrations(ctx)
    hooks = {h.name: h for h in build_inbound(ctx)}
    workflows = {e.name: e.workflow.field for e in entities if e.workflow is not None}
    processes = build_processes(ctx, endpoints, hooks, workflows)
    check_encrypted_reads(ctx, entities)
    email_templates = build_email_templates(ctx)
    ui = build_ui(ctx)
    forms = build_forms(ctx, entities)
    return Spec(
        app=app,
        entities=tuple(entities),
        roles=tuple(roles),
        endpoints=tuple(endpoints.values()),
        processes=tuple(processes),
        integrations=tuple(integrations),
        ui=ui,
        files=files,
        custom=ctx.custom,
        email_templates=tuple(email_templates),
        forms=tuple(forms),
        inbound=tuple(hooks.values()),
    )


def _prune(
    data: dict[str, Any], errors: list[ValidationError]
) -> tuple[dict[str, Any] | None, set[Path]]:
    """Drop the parts with structural errors so the meaning checks can still run on the rest.

    Returns the pruned copy and the paths removed; an unknown key goes alone, a bad field or
    permission goes alone, otherwise the whole named unit (a process, a role, ...) goes.
    """
    if not errors:
        return data, set()
    pruned = copy.deepcopy(data)
    removed: set[Path] = set()
    for error in errors:
        p: Path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            for key in unexpected_keys(error.schema, error.instance):
                _remove(pruned, p + (key,))
            continue
        if "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
            p = p + (error.instance,)  # a bad name: drop what it names, not the whole section
        if not p:
            return None, removed
        if p[0] == "entities" and len(p) >= 4 and p[2] in ("fields", "permissions"):
            unit: Path = p[:4]
        elif (
            p[0] == "entities"
            and len(p) >= 3
            or p[0] == "ui"
            and len(p) >= 3
            and p[1] in ("dashboards", "reports")
        ):
            unit = p[:3]
        else:
            unit = p[:2]
        removed.add(unit)
        _remove(pruned, unit)
    return pruned, removed


def _remove(data: Any, path: Path) -> None:
    for key in path[:-1]:
        if not isinstance(data, dict) or key not in data:
            return
        data = data[key]
    if isinstance(data, dict):
        data.pop(path[-1], None)


def _default_name(root: FsPath) -> str:
    stem = root.resolve().name if root.is_dir() else root.stem
    return snake_case(stem).replace("-", "_")


def _has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


def _finish(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Sorted, without ambiguity warnings where an error already points at the same spot."""
    error_spots = {d.position for d in diagnostics if d.severity == "error"}
    kept = [
        d for d in diagnostics if not (d.code == "yaml-ambiguous" and d.position in error_spots)
    ]
    return sort_diagnostics(kept)


__all__ = ["SpecError", "check_spec", "load_spec"]
