"""E-mail templates (``email_templates:``) and the ``imap`` integration's settings, checked.

A template names its entity, a subject and a body (sandboxed Jinja per locale over the record's
fields, ``user`` and ``today``), and optionally ``to``: the field path of the recipient's
address (``email``, ``contact.email``), by default the entity's first e-mail field. An ``imap``
integration logs incoming mail on the records of its ``entity`` (default ``Contact``), matched
by their e-mail field, on its ``schedule`` (cron).
"""

from __future__ import annotations

from typing import Any

from crmgen.language.build_documents import check_template
from crmgen.language.context import Context
from crmgen.language.cron import cron_problem
from crmgen.language.model import EmailTemplate
from crmgen.language.text import Text, humanize
from crmgen.language.yaml_loader import Path

# Names a template may use beside the record's fields.
TEMPLATE_NAMES = ("id", "today", "user")
DEFAULT_CONTACT = "Contact"


def email_field(ctx: Context, entity: str) -> str | None:
    """The entity's first field of type ``email`` (None when it has none)."""
    return next((n for n, f in ctx.fields.get(entity, {}).items() if f.type == "email"), None)


def _to_path(ctx: Context, entity: str, value: str, path: Path) -> None:
    """``to`` follows to-one references and ends at an e-mail or text field."""
    current = entity
    parts = value.split(".")
    for i, part in enumerate(parts):
        found = ctx.known_field(current, part, path)
        if found is None:
            return
        last = i == len(parts) - 1
        if not last:
            if found.relation is None or found.relation.kind == "many_to_many":
                ctx.error(
                    path,
                    "email-to",
                    f"'{part}' is not a reference to one record; to follows references (e.g. contact.email)",
                )
                return
            current = found.relation.target
        elif found.type not in ("email", "string"):
            ctx.error(
                path,
                "email-to",
                f"'{value}' is a {found.type} field; to names an e-mail field (e.g. email or contact.email)",
            )


def build_email_templates(ctx: Context) -> list[EmailTemplate]:
    out = []
    for name, raw in (ctx.data.get("email_templates") or {}).items():
        path: Path = ("email_templates", name)
        entity = raw["entity"]
        if not ctx.known_entity(entity, path + ("entity",)):
            continue
        to = raw.get("to")
        if to is not None:
            _to_path(ctx, entity, to, path + ("to",))
        elif email_field(ctx, entity) is None:
            ctx.error(
                path,
                "email-to",
                f"{entity} has no e-mail field: say where the address is with to: (e.g. contact.email)",
                at_key=True,
            )
        table = ctx.fields.get(entity, {})
        names = tuple(
            n for n, f in table.items() if f.relation is None or f.relation.kind != "many_to_many"
        )
        for key in ("subject", "body"):
            value = raw.get(key)
            texts = value.items() if isinstance(value, dict) else [(None, value)] if value else []
            for locale, text in texts:
                where = path + (key,) if locale is None else path + (key, locale)
                check_template(ctx, text, where, names + TEMPLATE_NAMES)
        out.append(
            EmailTemplate(
                name=name,
                entity=entity,
                label=Text.of(raw.get("label"), humanize(name)),
                position=ctx.pos(path, True),
                subject=Text.of(raw.get("subject")),
                body=Text.of(raw.get("body")),
                to=to,
            )
        )
    return out


def check_imap(ctx: Context, name: str, raw: dict[str, Any]) -> None:
    """An ``imap`` integration's entity has an e-mail field; its schedule is a cron."""
    path: Path = ("integrations", name)
    entity = raw.get("entity", DEFAULT_CONTACT)
    if "entity" in raw or DEFAULT_CONTACT in ctx.fields:
        if ctx.known_entity(entity, path + ("entity",)) and email_field(ctx, entity) is None:
            ctx.error(
                path + ("entity",) if "entity" in raw else path,
                "imap-entity",
                f"{entity} has no e-mail field to match incoming mail by",
                at_key="entity" not in raw,
            )
    else:
        ctx.error(
            path,
            "imap-entity",
            "the spec has no Contact entity: name the entity whose e-mail field incoming mail is matched by (entity: ...)",
            at_key=True,
        )
    if "schedule" in raw:
        problem = cron_problem(str(raw["schedule"]))
        if problem:
            ctx.error(path + ("schedule",), "cron", problem)
