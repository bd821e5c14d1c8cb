"""Turns JSON Schema errors into located messages an analyst understands."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from crmgen.diagnostics import Diagnostic, Position, did_you_mean
from crmgen.language.names import LOCALE, name_problem
from crmgen.language.schema import spec_schema
from crmgen.language.yaml_loader import Path, SourceMap

_JSON_TYPES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing (null)",
}


@lru_cache(maxsize=1)
def validator() -> Draft202012Validator:
    return Draft202012Validator(spec_schema())


def structural_errors(data: Any) -> list[ValidationError]:
    """The raw JSON Schema errors of ``data`` (computed once, then explained and pruned)."""
    return list(validator().iter_errors(data))


def schema_diagnostics(
    errors: list[ValidationError], source: SourceMap, fallback_file: str
) -> list[Diagnostic]:
    """Every structural problem, located through ``source``."""
    found: list[Diagnostic] = []
    for error in errors:
        for path, at_key, code, message in _explain(error):
            pos = (source.key(path) if at_key else source.value(path)) or Position(
                fallback_file, 1, 1
            )
            found.append(Diagnostic(pos, "error", code, message))
    return found


Explained = tuple[Path, bool, str, str]


def _explain(error: ValidationError) -> Iterator[Explained]:
    path: Path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    instance = error.instance
    in_names = "propertyNames" in error.absolute_schema_path
    if in_names:
        yield from _bad_key(path, instance, schema, kind)
        return
    if kind in ("anyOf", "oneOf") and _is_kind_choice(error):
        yield from _kind_choice(path, instance, error)
        return
    if kind == "oneOf" and not isinstance(instance, dict) and _only_required(error.validator_value):
        return  # not a mapping at all: the type error at the same spot says so
    if kind in ("anyOf", "oneOf") and error.context:
        yield from _choose_branch(error)
        return
    if kind == "additionalProperties":
        allowed = set(schema.get("properties", {}))
        for key in unexpected_keys(schema, instance):
            if key == "default" and schema.get("x-error") == "env":
                yield (
                    path + (key,),
                    True,
                    "schema-secret-default",
                    (f"'{path[-1]}' is a secret and takes no default: secrets never go in a spec"),
                )
                continue
            hint = did_you_mean(key, allowed)
            yield (
                path + (key,),
                True,
                "schema-unknown-key",
                f"unknown key '{key}'{_where(path)}{hint}",
            )
        return
    if kind == "required":
        missing = [k for k in error.validator_value if k not in instance]
        for key in missing:
            yield path, True, "schema-missing-key", f"missing required key '{key}'{_where(path)}"
        return
    if kind == "not" and "x-not-for" in schema:
        key = path[-1] if path else "?"
        kind_name = schema["x-not-for"]
        article = "an" if kind_name[0] in "aeiou" else "a"
        yield (
            path,
            True,
            "schema-not-for-type",
            f"'{key}' does not apply to {article} {kind_name} field",
        )
        return
    if kind == "dependentRequired":
        for key, needs in error.validator_value.items():
            if key in instance and any(n not in instance for n in needs):
                yield (
                    path + (key,),
                    True,
                    "schema-dependent",
                    f"'{key}' needs '{needs[0]}' in the same step",
                )
        return
    yield path, False, f"schema-{kind}", _message(error, schema, instance)


def unexpected_keys(schema: dict[str, Any], instance: dict[str, Any]) -> list[str]:
    """Keys of ``instance`` that neither ``properties`` nor ``patternProperties`` allow."""
    allowed = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    return [k for k in instance if k not in allowed and not any(p.search(k) for p in patterns)]


def _is_kind_choice(error: ValidationError) -> bool:
    """A oneOf of ``{required: [k]}`` branches: exactly one of these keys must be given."""
    branches = error.validator_value
    return isinstance(error.instance, dict) and all(
        isinstance(b, dict) and list(b) == ["required"] for b in branches
    )


def _only_required(branches: Any) -> bool:
    return isinstance(branches, list) and all(
        isinstance(b, dict) and list(b) == ["required"] for b in branches
    )


def _kind_choice(
    path: Path, instance: dict[str, Any], error: ValidationError
) -> Iterator[Explained]:
    keys = [b["required"][0] for b in error.validator_value]
    present = [k for k in keys if k in instance]
    what = error.schema.get("x-error", "this mapping") if isinstance(error.schema, dict) else "it"
    dependent = error.schema.get("dependentRequired", {}) if isinstance(error.schema, dict) else {}
    if not present and any(k in instance for k in dependent):
        return  # "'then' needs 'if' in the same step" says it better
    if not present:
        yield path, True, "schema-kind", (f"a {what} needs one of: {', '.join(keys)}{_where(path)}")
    else:
        choices = f"one of {', '.join(keys)}" if len(keys) <= 8 else "one kind key"
        yield (
            path + (present[1],),
            True,
            "schema-kind",
            (
                f"a {what} takes exactly {choices}, "
                f"but has {' and '.join(repr(p) for p in present)}; "
                + (
                    "use one process per trigger"
                    if what == "trigger"
                    else "split it into separate steps"
                    if what == "step"
                    else "keep one"
                )
            ),
        )


def _choose_branch(error: ValidationError) -> Iterator[Explained]:
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = {
        i: errs for i, errs in branches.items() if not any(_rejects_shape(e, error) for e in errs)
    }
    if fitting:
        best = min(fitting.values(), key=len)
        for sub in best:
            yield from _explain(sub)
        return
    # No branch fits the shape: prefer an enum-style message when the text was close to one.
    for errs in branches.values():
        for sub in errs:
            if (
                sub.validator in ("enum", "const")
                and not sub.relative_path
                and isinstance(sub.instance, str)
            ):
                yield from _explain(sub)
                return
    path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    yield path, False, "schema-type", _expected(schema, error.instance)


def _rejects_shape(sub: ValidationError, parent: ValidationError) -> bool:
    if len(sub.absolute_path) != len(parent.absolute_path):
        return False
    if sub.validator in ("type", "const", "enum"):
        return True
    if sub.validator in ("anyOf", "oneOf") and sub.context:
        groups: dict[int, list[ValidationError]] = {}
        for s in sub.context:
            groups.setdefault(s.relative_schema_path[0], []).append(s)
        return all(any(_rejects_shape(s, sub) for s in errs) for errs in groups.values())
    return False


def _expected(schema: dict[str, Any], instance: Any) -> str:
    description = schema.get("description")
    if not description:
        description = "something else"
    return f"expected {description}; got {_show(instance)}"


# What a snake_case name names, by the key (or list) it sits under.
_NAME_KINDS = {
    "fields": "field",
    "roles": "role",
    "processes": "process",
    "endpoints": "endpoint",
    "integrations": "integration",
    "email_templates": "e-mail template",
    "forms": "form",
    "inbound": "inbound hook",
    "dashboards": "dashboard",
    "reports": "report",
    "kpis": "KPI",
    "charts": "chart",
    "columns": "field",
    "input": "input field",
    "permissions": "role",
    "values": "field",
    "compute": "value",
    "into": "variable",
    "as": "variable",
    "endpoint": "endpoint",
    "via": "integration",
    "dashboard": "dashboard",
    "report": "report",
    "back": "back-reference",
    "through": "table",
    "table": "table",
    "renamed_from": "field",
    "display": "field",
    "owner": "field",
    "search": "field",
    "filters": "field",
    "hidden": "field",
    "read_only": "field",
    "form": "field",
    "by": "field",
    "title": "field",
    "date": "field",
    "end": "field",
    "group_by": "field",
    "field": "field",
    "weighted_by": "field",
    "sum": "field",
    "avg": "field",
    "min": "field",
    "max": "field",
}


def _name_kind(path: Path) -> str:
    """What the name at (or under) ``path`` names: "field", "role", ... or "name"."""
    if path == ("app", "name"):
        return "app"
    if (
        path
        and path[0] == "entities"
        and len(path) >= 4
        and path[2] == "ui"
        and isinstance(path[-1], str)
        and path[-1] == "title"
    ):
        return "field"
    for part in reversed(path):
        if isinstance(part, str):
            return _NAME_KINDS.get(part, "name")
    return "name"


def _bad_key(path: Path, key: Any, schema: dict[str, Any], kind: str) -> Iterator[Explained]:
    tag = schema.get("x-error")
    if tag == "entity_name":
        message = name_problem(str(key), "entity") or f"'{key}' is not a valid entity name"
    elif tag == "snake_name":
        what = _name_kind(path)
        message = name_problem(str(key), what) or f"'{key}' is not a valid {what} name"
    elif "pattern" in schema and path and path[-1] in ("where",):
        message = f"'{key}' is not a field condition (write field or field__op: gt gte lt lte ne in contains isnull)"
    elif "pattern" in schema and "locale" not in str(schema):
        message = f"'{key}' is not a valid key here"
    else:
        message = f"'{key}' is not a valid key here"
    if path and path[-1] in ("label", "title", "plural_label", "description", "help"):
        message = f"'{key}' is not a locale code (e.g. en, ru, id, bs, zh, pt-BR)"
        fixed = str(key).replace("_", "-")
        fixed = fixed.split("-")[0].lower() + "".join("-" + p.upper() for p in fixed.split("-")[1:])
        if fixed != key and LOCALE.match(fixed):
            message += f"; did you mean '{fixed}'?"
    yield path + (key,), True, "schema-bad-name", message


def _message(error: ValidationError, schema: dict[str, Any], instance: Any) -> str:
    kind = error.validator
    tag = schema.get("x-error")
    if kind == "type":
        expected = error.validator_value
        if tag == "env":
            return (
                f"{_show(instance)} must come from the environment: write {{env: VARIABLE_NAME}} "
                "(secrets never go in a spec)"
            )
        names = [expected] if isinstance(expected, str) else list(expected)
        want = " or ".join(_JSON_TYPES.get(n, n) for n in names)
        hint = ""
        if (
            "boolean" in names
            and isinstance(instance, str)
            and instance.lower() in ("yes", "no", "on", "off", "y", "n")
        ):
            meant = "true" if instance.lower() in ("yes", "on", "y") else "false"
            hint = f" (YAML 1.2 reads {instance} as text; write {meant})"
        return f"expected {want}; got {_show(instance)}{hint}"
    if kind == "enum":
        options = [str(o) for o in error.validator_value]
        hint = did_you_mean(str(instance), options) if isinstance(instance, str) else ""
        if not hint and tag == "field type" and isinstance(instance, str):
            meant = _TYPE_ALIASES.get(instance.lower())
            hint = f"; for {instance} use '{meant}'" if meant else ""
        what = tag or "value"
        shown = repr(instance) if isinstance(instance, str) else _show(instance)
        if hint and len(options) > 8:
            return f"unknown {what} {shown}{hint}"
        return f"unknown {what} {shown}; expected one of: {', '.join(options)}{hint}"
    if kind == "const":
        return f"expected {_show(error.validator_value)}; got {_show(instance)}"
    if kind == "pattern":
        if tag == "entity_name":
            return (
                name_problem(str(instance), "entity") or f"'{instance}' is not a valid entity name"
            )
        if tag == "snake_name":
            what = _name_kind(tuple(error.absolute_path))
            return name_problem(str(instance), what) or f"'{instance}' is not a valid {what} name"
        if tag == "env_var":
            return f"'{instance}' is not an environment variable name: use UPPER_CASE letters, digits and '_' (e.g. {str(instance).upper().replace('-', '_')})"
        if tag == "event":
            return f"'{instance}' is not an entity event: write Entity.create, Entity.update or Entity.delete"
        if tag == "enum value":
            return f"'{instance}' is not a valid enum value: use letters, digits, '_', '-' or '.'"
        if tag == "locale":
            fixed = str(instance).replace("_", "-")
            fixed = fixed.split("-")[0].lower() + "".join(
                "-" + p.upper() for p in fixed.split("-")[1:]
            )
            hint = f"; did you mean '{fixed}'?" if fixed != instance and LOCALE.match(fixed) else ""
            return f"'{instance}' is not a locale code (e.g. en, ru, id, bs, zh, pt-BR){hint}"
        if tag == "header name":
            return f"'{instance}' is not an HTTP header name: use letters, digits and '-' (e.g. X-Signature)"
        if tag == "drop name":
            return f"'{instance}' is not an entity (Deal) or a field (Deal.stage) to drop"
        if tag == "currency":
            return f"'{instance}' is not a currency code like EUR, USD or RUB"
        return f"{_show(instance)} does not have the expected form ({error.validator_value})"
    if kind in ("minItems", "minProperties"):
        return "must not be empty"
    if kind in ("minimum", "exclusiveMinimum"):
        return f"{instance} is too small (minimum {error.validator_value})"
    if kind in ("maximum", "exclusiveMaximum") and tag == "precision":
        return (
            f"precision {instance} is more than {error.validator_value} digits: decimals are kept "
            f"exactly as a whole number of their smallest unit (a 64-bit integer on SQLite), "
            f"which holds {error.validator_value} digits; use precision: {error.validator_value} "
            "or less (precision: 18 with scale: 2 holds amounts below 10^16)"
        )
    if kind in ("maximum", "exclusiveMaximum"):
        return f"{instance} is too large (maximum {error.validator_value})"
    return error.message


# Type names from other tools, and the crmgen type meant.
_TYPE_ALIASES = {
    "number": "integer' or 'decimal",
    "int": "integer",
    "long": "bigint",
    "int64": "bigint",
    "double": "float",
    "real": "float",
    "bool": "boolean",
    "str": "string",
    "varchar": "string",
    "timestamp": "datetime",
    "link": "ref",
    "reference": "ref",
    "foreign_key": "ref",
    "choice": "enum",
    "select": "enum",
    "list": "refs",
    "currency": "money",
    "textarea": "text",
}


def _where(path: Path) -> str:
    if not path:
        return " at the top level"
    return " in " + ".".join(str(p) for p in path)


def _show(value: Any) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"the text '{shown}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)
