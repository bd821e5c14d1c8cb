"""Public forms (``forms:``), checked: web-to-lead forms served without sign-in at ``/f/<name>``.

A form names its entity, the fields a visitor fills (plain inputs only: no references, lists,
files or JSON), optional labels for them, a consent text (a checkbox the visitor must tick), a
success message, the origins (``https://www.example.com``) whose pages may embed it, the owner
of what it creates (``{user: EMAIL}`` or ``{round_robin: ROLE}``) and the ``utm`` fields filled
from the query string. Every required field of the entity without a default must be in the
form, or no visitor could ever send it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from crmgen.language.context import Context
from crmgen.language.fields import field_type
from crmgen.language.model import Entity, Field, PublicForm
from crmgen.language.text import Text, humanize
from crmgen.language.yaml_loader import Path

# The widgets a public form can show (a visitor picks no records and uploads no files).
PLAIN_WIDGETS = frozenset(
    {"text", "email", "tel", "url", "number", "date", "datetime-local", "time", "select"}
    | {"checkbox", "textarea"}
)
UTM_TYPES = frozenset({"string", "text", "url"})
# Names the form page keeps for itself (the honeypot and the consent box).
FORM_NAMES = frozenset({"homepage_url", "consent"})


def _fillable(f: Field) -> bool:
    widget = field_type(f.type).widget
    return f.relation is None and not f.read_only and f.computed is None and widget in PLAIN_WIDGETS


def origin_problem(value: str) -> str | None:
    """Why ``value`` is not an origin (``scheme://host[:port]``), or None."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - a bad port raises
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.path
        or parts.query
        or parts.fragment
        or value.endswith(("?", "#"))
        or any(c in value for c in " ;,*'\"\\")
    ):
        return (
            f"'{value}' is not an origin: write scheme://host[:port] without a path "
            "(e.g. https://www.example.com)"
        )
    return None


def _owner(
    ctx: Context, raw: Any, entity: Entity | None, path: Path
) -> tuple[str | None, str | None]:
    user = raw.get("user") if isinstance(raw, dict) else None
    role = raw.get("round_robin") if isinstance(raw, dict) else None
    if user is not None:
        local, at, domain = str(user).partition("@")
        if not (local and at and "." in domain):
            ctx.error(path + ("user",), "form-owner", f"'{user}' is not an e-mail address")
    if role is not None:
        ctx.known_role(str(role), path + ("round_robin",))
        if entity is not None and entity.owner is None:
            ctx.error(
                path + ("round_robin",),
                "form-owner",
                f"{entity.name} has no owner field to assign round robin (its 'owner:' key)",
            )
    return user, role


def build_forms(ctx: Context, entities: list[Entity]) -> list[PublicForm]:
    out = []
    by_name = {e.name: e for e in entities}
    for name, raw in (ctx.data.get("forms") or {}).items():
        path: Path = ("forms", name)
        entity_name = raw["entity"]
        if not ctx.known_entity(entity_name, path + ("entity",)):
            continue
        entity = by_name.get(entity_name)
        fields = [str(n) for n in raw.get("fields") or []]
        utm = [str(n) for n in raw.get("utm") or []]
        for i, field_name in enumerate(fields):
            where = path + ("fields", i)
            found = ctx.known_field(entity_name, field_name, where)
            if found is None:
                continue
            if field_name in FORM_NAMES:
                ctx.error(
                    where, "form-field", f"'{field_name}' is a name the form page keeps for itself"
                )
            elif not _fillable(found):
                ctx.error(
                    where,
                    "form-field",
                    f"{entity_name}.{field_name} ({found.type}) cannot be filled by a visitor: "
                    "a form takes plain inputs, not references, files, JSON or computed fields",
                )
            if fields.index(field_name) != i:
                ctx.error(where, "form-field", f"'{field_name}' is listed twice")
        for i, field_name in enumerate(utm):
            where = path + ("utm", i)
            found = ctx.known_field(entity_name, field_name, where)
            if found is None:
                continue
            if field_name in fields:
                ctx.error(where, "form-utm", f"'{field_name}' is in fields already")
            elif found.type not in UTM_TYPES or not _fillable(found):
                ctx.error(
                    where,
                    "form-utm",
                    f"{entity_name}.{field_name} is of type {found.type}; utm fields are string, "
                    "text or url fields",
                )
        for key in raw.get("labels") or {}:
            if key not in fields:
                ctx.error(
                    path + ("labels", key),
                    "form-label",
                    f"'{key}' is not one of the form's fields ({', '.join(fields)})",
                    at_key=True,
                )
        if entity is not None:
            missing = [
                f.name
                for f in entity.fields
                if f.required
                and f.default is None
                and f.computed is None
                and f.name not in fields
                and f.name != entity.owner
            ]
            if missing:
                ctx.error(
                    path + ("fields",),
                    "form-required",
                    f"{entity_name} requires {', '.join(missing)}: add to fields what a visitor "
                    "must fill (or give the field a default)",
                )
        origins = [str(o) for o in raw.get("origins") or []]
        for i, origin in enumerate(origins):
            problem = origin_problem(origin)
            if problem:
                ctx.error(path + ("origins", i), "form-origin", problem)
        owner_user, owner_role = _owner(ctx, raw.get("owner"), entity, path + ("owner",))
        consent = raw.get("consent")
        out.append(
            PublicForm(
                name=name,
                entity=entity_name,
                title=Text.of(raw.get("label"), humanize(name)),
                fields=tuple(fields),
                labels=tuple((k, Text.of(v)) for k, v in (raw.get("labels") or {}).items()),
                consent=Text.of(consent) if consent else None,
                success=Text.of(raw.get("success"), "Thank you."),
                origins=tuple(o.lower() for o in origins),
                owner_user=owner_user,
                owner_role=owner_role,
                utm=tuple(utm),
                position=ctx.pos(path, True),
            )
        )
    return out
