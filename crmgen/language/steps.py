"""Process step kinds: the registry of blocks a process is made of.

Each kind is one entry: its key in the spec, a JSON Schema fragment for its value, and a builder
that turns the (schema-valid) value into a typed step, checking names and expressions on the way.
Built-in kinds live in ``crmgen.language.build_steps``; plugins add kinds through the ``crmgen.steps``
entry-point group with the same ``StepKind`` object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WHERE_KEY = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(__(gt|gte|lt|lte|ne|in|contains|isnull))?$"
FILTER_OPERATORS = ("gt", "gte", "lt", "lte", "ne", "in", "contains", "isnull")

VALUE = {"description": "a literal value, or an expression after '=' (e.g. '= today() + days(3)')"}
EXPR = {"type": "string", "description": "an expression, e.g. record.amount > 1000"}
TEMPLATE = {"type": "string", "description": "text with {{ record.field }} placeholders"}
WHERE = {
    "type": "object",
    "description": "conditions: field or field__op (gt gte lt lte ne in contains isnull) -> value",
    "propertyNames": {"pattern": WHERE_KEY},
    "additionalProperties": VALUE,
}
VALUES = {
    "type": "object",
    "propertyNames": {"$ref": "#/$defs/snake_name"},
    "additionalProperties": VALUE,
    "minProperties": 1,
}


def obj(required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    """A closed JSON Schema object (unknown keys are errors)."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


@dataclass(frozen=True)
class StepKind:
    """One kind of process step.

    ``build(value, ctx)`` receives the kind's value and a ``StepContext`` (see build_steps) and
    returns a frozen dataclass describing the step; it reports problems through ``ctx``.
    ``nested`` names keys beside the kind key that hold step lists (``then``/``else``).

    The code side: built-in kinds are compiled by methods of
    ``crmgen.render.processes.ProcessCompiler``; any other kind (a plugin's) gives a Jinja
    ``template`` that renders the Python statements of one step (see "Step plugins" in
    docs/generated-app.md). With ``template_dir`` (usually ``Path(__file__).parent /
    "templates"``) ``template`` is a file name in that folder, else it is the template text.
    ``imports`` are import statements the generated ``processes.py`` needs for that code
    (e.g. ``"import hashlib"``); they are added once when a spec uses the kind.
    """

    name: str
    summary: str
    schema: dict[str, Any]
    build: Callable[[Any, Any], Any]
    nested: tuple[str, ...] = ()
    example: str = ""
    extra_keys: dict[str, Any] = field(default_factory=dict)
    template: str = ""
    template_dir: Path | str | None = None
    imports: tuple[str, ...] = ()


REGISTRY: dict[str, StepKind] = {}


def register(kind: StepKind) -> StepKind:
    REGISTRY[kind.name] = kind
    return kind
