"""The JSON Schema (draft 2020-12) of the spec language: the single source of its structure.

Field types, step kinds and integration types contribute their parts from their registries, so
a plugin that registers one also extends the schema editors see (``crmgen schema``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from crmgen.language import fields, steps
from crmgen.language.integrations import INTEGRATION_TYPES
from crmgen.language.names import ENTITY_NAME, ENV_VAR, LOCALE, SNAKE_NAME
from crmgen.language.steps import EXPR, VALUE, WHERE, obj

SCHEMA_ID = "https://crmgen.dev/schema/spec.json"
EXTENSION_KEY = "^x-"  # top-level keys like `x-defaults:` hold anchors; crmgen ignores them


def _string_or_list(item: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [item, {"type": "array", "items": item}]}


def _rollup() -> dict[str, Any]:
    """A stored aggregate of the records of a reverse relation (``build_rollups``)."""
    name = {"$ref": "#/$defs/snake_name"}
    order = {"type": "string", "pattern": r"^-?[a-z][a-z0-9_]*$"}
    schema = obj(
        ("from", "op"),
        **{
            "from": {**name, "description": "a reverse relation of the entity (e.g. deals)"},
            "op": {"enum": ["count", "sum", "min", "max", "avg", "last"]},
            "field": {**name, "description": "the related records' field aggregated"},
            "where": WHERE,
            "order_by": _string_or_list(order),
        },
    )
    schema["description"] = (
        "an aggregate of related records: {from: deals, op: sum, field: amount, where: {...}}"
    )
    return schema


def _workflow() -> dict[str, Any]:
    """The allowed changes of an enum field (``build_workflows``)."""
    name = {"$ref": "#/$defs/snake_name"}
    names = {"type": "array", "items": name}
    state = {"type": "string", "description": "a value of the workflow's enum field"}
    transition = {
        "anyOf": [
            {"type": "null"},
            obj(
                **{
                    "from": {
                        **_string_or_list(state),
                        "description": "the states it may come from (none: any)",
                    },
                    "roles": {**names, "description": "the roles that may make it (none: any)"},
                    "require": {**names, "description": "fields filled on entering the state"},
                    "where": {
                        **WHERE,
                        "description": "conditions the record matches after the move",
                    },
                }
            ),
        ]
    }
    schema = obj(
        ("field", "transitions"),
        field={**name, "description": "an enum field of the entity"},
        transitions={
            "type": "object",
            "description": "per state entered: {from, roles, require}",
            "additionalProperties": transition,
        },
    )
    schema["description"] = (
        "guarded changes of an enum field: {field: stage, transitions: {won: {from: [...]}}}"
    )
    return schema


def _personal_data() -> dict[str, Any]:
    """The personal data of an entity's records and how each field is erased (``build_gdpr``)."""
    erase = {
        "description": "blank, pseudonym, or {replace: VALUE}",
        "anyOf": [
            {"enum": ["blank", "pseudonym"], "x-error": "erase mode"},
            obj(("replace",), replace={"type": ["string", "number"]}),
        ],
    }
    schema = obj(
        ("fields",),
        fields={
            "type": "object",
            "description": "per field: how erasure treats it",
            "propertyNames": {"$ref": "#/$defs/snake_name"},
            "additionalProperties": erase,
            "minProperties": 1,
        },
        roles={
            "type": "array",
            "items": {"$ref": "#/$defs/snake_name"},
            "description": "the roles that may export and erase (superusers always may)",
        },
    )
    schema["description"] = (
        "a person's data: {fields: {email: blank, full_name: pseudonym}, roles: [manager]}"
    )
    return schema


def _retention() -> dict[str, Any]:
    """How long records are kept (``build_gdpr``)."""
    schema = obj(
        ("after_days",),
        after_days={
            "type": "integer",
            "minimum": 1,
            "maximum": 36500,
            "description": "days since the record last changed",
        },
        where=WHERE,
        action={"enum": ["anonymize", "delete"]},
    )
    schema["description"] = (
        "records matching where, unchanged for after_days, are anonymised or deleted"
    )
    return schema


def _duplicates() -> dict[str, Any]:
    """How likely duplicates of a record are found (``build_duplicates``)."""
    name = {"$ref": "#/$defs/snake_name"}
    rule = obj(
        email={**name, "description": "an e-mail field, compared trimmed and lower-cased"},
        phone={**name, "description": "a phone field, compared in E.164"},
        fuzzy={
            **_string_or_list(name),
            "description": "text fields compared by trigram similarity (joined by spaces)",
        },
        threshold={
            "type": "number",
            "description": "a fuzzy rule's least similarity, above 0 and at most 1 (0.6)",
        },
    )
    rule["minProperties"] = 1
    return {
        "type": "array",
        "items": rule,
        "description": "rules finding likely duplicates: [{email: email}, {fuzzy: [name]}]",
    }


def _field_schema() -> dict[str, Any]:
    common: dict[str, Any] = {
        "type": {"enum": sorted(fields.REGISTRY), "x-error": "field type"},
        "label": {"$ref": "#/$defs/text"},
        "help": {"$ref": "#/$defs/text"},
        "required": {"type": "boolean"},
        "unique": {"type": "boolean"},
        "index": {"type": "boolean"},
        "read_only": {"type": "boolean"},
        "default": VALUE,
        "computed": EXPR,
        "rollup": _rollup(),
        "encrypted": {
            "description": "stored encrypted: true, or {search: exact} for equality search",
            "anyOf": [
                {"type": "boolean"},
                {
                    "type": "object",
                    "properties": {"search": {"enum": ["exact"]}},
                    "additionalProperties": False,
                },
            ],
        },
        "renamed_from": {"$ref": "#/$defs/snake_name"},
        "consent": {
            "type": "boolean",
            "description": "a boolean consent: the app keeps when and where it last changed "
            "in <name>_at and <name>_source",
        },
    }
    options: dict[str, Any] = {}
    for ft in fields.REGISTRY.values():
        options.update(ft.options)
    per_type = []
    for ft in fields.REGISTRY.values():
        foreign = sorted(set(options) - set(ft.options))
        then: dict[str, Any] = {
            "properties": {k: {"x-not-for": ft.name, "not": {}} for k in foreign}
        }
        required = [k for k in ("values", "to") if k in ft.options]
        if required:
            then["required"] = required
        per_type.append(
            {"if": {"properties": {"type": {"const": ft.name}}, "required": ["type"]}, "then": then}
        )
    mapping = {
        "type": "object",
        "required": ["type"],
        "properties": {**common, **options},
        "additionalProperties": False,
        "allOf": per_type,
    }
    return {
        "description": "a field: a type name (e.g. 'date'), or a mapping with 'type' and options",
        "anyOf": [{"enum": sorted(fields.REGISTRY), "x-error": "field type"}, mapping],
    }


def _access() -> dict[str, Any]:
    return {
        "description": "true/all (every record), own (the user's records), false/none, or {where: EXPR}",
        "anyOf": [
            {"type": "boolean"},
            {"enum": ["all", "own", "none"]},
            obj(("where",), where=EXPR),
        ],
    }


def _permission() -> dict[str, Any]:
    access = {"$ref": "#/$defs/access"}
    names = {"type": "array", "items": {"$ref": "#/$defs/snake_name"}}
    return {
        "description": "all, read (list and read), none, or a mapping per action",
        "anyOf": [
            {"enum": ["all", "read", "own", "none"]},
            obj(
                list=access,
                read=access,
                create={"type": "boolean"},
                update=access,
                delete=access,
                hidden=names,
                read_only=names,
            ),
        ],
    }


DOCUMENT_FORMATS = ("pdf", "xlsx")


def _document() -> dict[str, Any]:
    """A print format: header fields, optional line rows and a total, rendered to PDF/XLSX."""
    names = {"type": "array", "items": {"$ref": "#/$defs/snake_name"}}
    template = {  # a text (per locale or not) whose placeholders are the record's fields
        "$ref": "#/$defs/text",
        "description": "text with {{ field }} placeholders (the record's fields, as shown), "
        "or a mapping locale -> such text",
    }
    name = {"$ref": "#/$defs/snake_name"}
    return obj(
        label={"$ref": "#/$defs/text"},
        title=template,
        fields=names,
        lines=obj(
            ("from", "columns"),
            **{
                "from": {
                    "type": "string",
                    "pattern": r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$",
                    "description": "a reverse relation (e.g. lines), after to-one references (sales_order.lines)",
                },
                "columns": {**names, "minItems": 1},
            },
        ),
        total={
            "description": "a field of the record, or {sum: COLUMN} over the lines",
            "anyOf": [name, obj(("sum",), sum=name)],
        },
        footer=template,
        formats={
            "type": "array",
            "items": {"enum": list(DOCUMENT_FORMATS)},
            "minItems": 1,
            "uniqueItems": True,
        },
        roles=names,
    )


def _entity() -> dict[str, Any]:
    names = {"type": "array", "items": {"$ref": "#/$defs/snake_name"}}
    sort = {"type": "array", "items": {"type": "string", "pattern": r"^-?[a-z][a-z0-9_]*$"}}
    index = {
        "anyOf": [
            {**names, "minItems": 1},
            obj(("fields",), fields={**names, "minItems": 1}, unique={"type": "boolean"}),
        ]
    }
    section = obj(("fields",), label={"$ref": "#/$defs/text"}, fields=names)
    ui = obj(
        icon={"type": "string", "pattern": "^[a-z0-9-]+$"},
        list=obj(
            columns=names,
            sort=sort,
            filters=names,
            page_size={"type": "integer", "minimum": 1, "maximum": 500},
        ),
        form={"anyOf": [names, {"type": "array", "items": section}]},
        kanban=obj(
            ("by",),
            by={"$ref": "#/$defs/snake_name"},
            title={"$ref": "#/$defs/snake_name"},
            fields=names,
        ),
        calendar=obj(
            ("date",),
            date={"$ref": "#/$defs/snake_name"},
            end={"$ref": "#/$defs/snake_name"},
            title={"$ref": "#/$defs/snake_name"},
        ),
        timeline=names,
        inline_edit={"type": "boolean"},
    )
    return obj(
        label={"$ref": "#/$defs/text"},
        plural={"$ref": "#/$defs/entity_name"},
        plural_label={"$ref": "#/$defs/text"},
        description={"$ref": "#/$defs/text"},
        table={"$ref": "#/$defs/snake_name"},
        display={"$ref": "#/$defs/snake_name"},
        search=names,
        owner={"$ref": "#/$defs/snake_name"},
        soft_delete={"type": "boolean"},
        attachments={"type": "boolean"},
        timestamps={"type": "boolean"},
        comments={
            "type": "boolean",
            "description": "comments with @mentions on the detail page and the timeline",
        },
        renamed_from={"$ref": "#/$defs/entity_name"},
        fields={
            "type": "object",
            "propertyNames": {"$ref": "#/$defs/snake_name"},
            "additionalProperties": {"$ref": "#/$defs/field"},
        },
        indexes={"type": "array", "items": index},
        permissions={
            "type": "object",
            "propertyNames": {"$ref": "#/$defs/snake_name"},
            "additionalProperties": {"$ref": "#/$defs/permission"},
        },
        api={
            "anyOf": [
                {"type": "boolean"},
                {
                    "type": "array",
                    "items": {"enum": ["list", "read", "create", "update", "delete"]},
                },
            ]
        },
        ui=ui,
        documents={
            "type": "object",
            "propertyNames": {"$ref": "#/$defs/snake_name"},
            "additionalProperties": _document(),
        },
        workflow=_workflow(),
        personal_data=_personal_data(),
        retention=_retention(),
        duplicates=_duplicates(),
    )


def _step() -> dict[str, Any]:
    properties: dict[str, Any] = {kind.name: kind.schema for kind in steps.REGISTRY.values()}
    nested: dict[str, list[str]] = {}
    for kind in steps.REGISTRY.values():
        for key in kind.nested:
            properties[key] = {"$ref": "#/$defs/steps"}
            nested.setdefault(key, []).append(kind.name)
    properties["label"] = {"$ref": "#/$defs/text"}
    kinds = sorted(steps.REGISTRY)
    return {
        "type": "object",
        "description": "one step: a mapping with exactly one kind key (" + ", ".join(kinds) + ")",
        "properties": properties,
        "additionalProperties": False,
        "oneOf": [{"required": [k]} for k in kinds],
        "x-error": "step",
        "dependentRequired": {key: owners[:1] for key, owners in nested.items()},
    }


def _trigger() -> dict[str, Any]:
    entity = {"$ref": "#/$defs/entity_name"}
    events = ("create", "update", "delete", "schedule", "endpoint", "action", "inbound")
    return {
        **obj(
            create=entity,
            update=entity,
            delete=entity,
            when={"enum": ["before", "after"]},
            fields={"type": "array", "items": {"$ref": "#/$defs/snake_name"}, "minItems": 1},
            schedule={"type": "string", "description": "cron: minute hour day month weekday"},
            endpoint={"$ref": "#/$defs/snake_name"},
            inbound={"$ref": "#/$defs/snake_name"},
            action=obj(
                ("entity",),
                entity=entity,
                label={"$ref": "#/$defs/text"},
                roles={"type": "array", "items": {"$ref": "#/$defs/snake_name"}},
            ),
        ),
        "oneOf": [{"required": [e]} for e in events],
        "x-error": "trigger",
    }


def _integration() -> dict[str, Any]:
    branches = []
    for itype in INTEGRATION_TYPES.values():
        props: dict[str, Any] = {"type": {"const": itype.name}}
        for key in itype.secrets:
            props[key] = {"$ref": "#/$defs/secret"}
        for key in itype.settings:
            props[key] = {
                "anyOf": [{"$ref": "#/$defs/env"}, {"type": ["string", "number", "boolean"]}]
            }
        props.update(itype.extra)
        branches.append(
            {
                "if": {"properties": {"type": {"const": itype.name}}, "required": ["type"]},
                "then": {**obj(tuple(itype.required), **props)},
            }
        )
    return {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": sorted(INTEGRATION_TYPES)}},
        "allOf": branches,
    }


def _measure() -> dict[str, Any]:
    name = {"$ref": "#/$defs/snake_name"}
    return {
        "description": "count, or {sum|avg|min|max: field} (optionally weighted_by an enum field)",
        "anyOf": [
            {"const": "count"},
            {
                **obj(
                    sum=name, avg=name, min=name, max=name, count={"const": True}, weighted_by=name
                ),
                "oneOf": [{"required": [k]} for k in ("sum", "avg", "min", "max", "count")],
                "x-error": "measure",
            },
        ],
    }


def _ui() -> dict[str, Any]:
    entity = {"$ref": "#/$defs/entity_name"}
    roles = {"type": "array", "items": {"$ref": "#/$defs/snake_name"}}
    text = {"$ref": "#/$defs/text"}
    measure = {"$ref": "#/$defs/measure"}
    kpi = obj(
        ("entity",),
        label=text,
        entity=entity,
        measure=measure,
        where=WHERE,
        format={"enum": ["number", "money", "percent"]},
    )
    chart = obj(
        ("type", "entity", "group_by"),
        label=text,
        type={"enum": ["bar", "line", "pie", "funnel"]},
        entity=entity,
        group_by={"$ref": "#/$defs/snake_name"},
        period={"enum": ["day", "week", "month", "year"]},
        measure=measure,
        where=WHERE,
    )
    named = lambda item: {
        "type": "object",
        "propertyNames": {"$ref": "#/$defs/snake_name"},
        "additionalProperties": item,
    }
    dashboard = obj(label=text, roles=roles, kpis=named(kpi), charts=named(chart))
    report = obj(
        ("entity",),
        label=text,
        entity=entity,
        group_by={"type": "array", "items": {"$ref": "#/$defs/snake_name"}},
        columns=named({"anyOf": [measure, obj(("measure",), label=text, measure=measure)]}),
        where=WHERE,
        roles=roles,
    )
    item = {
        "anyOf": [
            entity,
            {
                **obj(
                    entity=entity,
                    view={"enum": ["list", "kanban", "calendar"]},
                    dashboard={"$ref": "#/$defs/snake_name"},
                    report={"$ref": "#/$defs/snake_name"},
                ),
                "oneOf": [{"required": [k]} for k in ("entity", "dashboard", "report")],
            },
        ]
    }
    group = obj(("items",), label=text, items={"type": "array", "items": item})
    field = {"$ref": "#/$defs/snake_name"}
    tasks = obj(
        ("entity", "due", "assignee"), entity=entity, due=field, assignee=field, where=WHERE
    )
    meetings = obj(
        ("entity", "start", "attendee"),
        entity=entity,
        start=field,
        attendee=field,
        where=WHERE,
        days={"type": "integer", "minimum": 1, "maximum": 90},
    )
    home = obj(
        tasks=tasks,
        meetings=meetings,
        kpis={
            "type": "array",
            "items": {"type": "string", "pattern": r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"},
        },
        recent={"type": "integer", "minimum": 0, "maximum": 50},
    )
    return obj(
        navigation={"type": "array", "items": {"anyOf": [group, item]}},
        dashboards=named(dashboard),
        reports=named(report),
        home=home,
        saved_views={"type": "boolean"},
        inline_edit={"type": "boolean"},
    )


@lru_cache(maxsize=1)
def spec_schema() -> dict[str, Any]:
    """The whole JSON Schema of a spec (built-in kinds plus installed plugins)."""
    from crmgen.plugins import load_plugins

    load_plugins()
    text = {
        "description": "a text, or a mapping locale -> text (e.g. {en: Deal, ru: Сделка})",
        "anyOf": [
            {"type": "string"},
            {
                "type": "object",
                "propertyNames": {"pattern": LOCALE.pattern},
                "additionalProperties": {"type": "string"},
                "minProperties": 1,
            },
        ],
        "x-error": "text",
    }
    named = lambda item, key="snake_name": {
        "type": "object",
        "propertyNames": {"$ref": f"#/$defs/{key}"},
        "additionalProperties": item,
    }
    app = obj(
        name={"$ref": "#/$defs/snake_name"},
        title=text,
        description=text,
        locales={
            "type": "array",
            "items": {"type": "string", "pattern": LOCALE.pattern, "x-error": "locale"},
            "minItems": 1,
        },
        default_locale={"type": "string", "pattern": LOCALE.pattern, "x-error": "locale"},
        timezone={"type": "string"},
        currency={"type": "string", "pattern": "^[A-Z]{3}$", "x-error": "currency"},
        phone_region={
            "type": "string",
            "description": "the region (RU, ID, GB) of phone numbers written without their country "
            "code: phone fields are then stored in E.164 (+79123456789) and shown per region",
        },
        auth=obj(
            lockout_attempts={"type": "integer", "minimum": 1, "maximum": 100},
            lockout_minutes={"type": "integer", "minimum": 1, "maximum": 1440},
            api_keys={
                "type": "boolean",
                "description": "false: no API keys (no /api/api_keys, no page, a key is no "
                "credential)",
            },
            two_factor={
                "description": "two-factor sign-in with an authenticator app: false turns it "
                "off; required_for lists the roles that must use it",
                "anyOf": [
                    {"type": "boolean"},
                    obj(required_for={"type": "array", "items": {"type": "string"}}),
                ],
            },
        ),
        allow_hosts={
            "type": "array",
            "description": "hosts (by name, e.g. crm-internal.example) that http steps, webhooks "
            "and other outgoing requests may reach although they resolve to a private, loopback "
            "or link-local address; every other such request is refused",
            "items": {"type": "string"},
        },
        allow_drop={
            "type": "array",
            "description": "entities (Entity) or fields (Entity.field) the next migration may drop, data and all",
            "items": {
                "type": "string",
                "pattern": r"^[A-Z][A-Za-z0-9]*(\.[a-z][a-z0-9_]*)?$",
                "x-error": "drop name",
            },
        },
    )
    role = {
        "anyOf": [
            {"type": "null"},
            text,
            obj(
                label=text,
                description=text,
                superuser={"type": "boolean"},
                audit={"type": "boolean"},
                manage_users={"type": "boolean"},
                send_email={"type": "boolean"},
            ),
        ]
    }
    endpoint = obj(
        ("path",),
        label=text,
        method={"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
        path={"type": "string", "pattern": r"^/[A-Za-z0-9_\-/{}]*$"},
        input=named({"$ref": "#/$defs/field"}),
        roles={"type": "array", "items": {"$ref": "#/$defs/snake_name"}},
    )
    email_template = obj(
        ("entity", "subject", "body"),
        label=text,
        entity={"$ref": "#/$defs/entity_name"},
        to={
            "type": "string",
            "pattern": r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$",
            "description": "the field path of the recipient's address (default: the entity's e-mail field)",
        },
        subject=text,
        body=text,
    )
    names = {"type": "array", "items": {"$ref": "#/$defs/snake_name"}}
    public_form = obj(
        ("entity", "fields", "owner"),
        label=text,
        entity={"$ref": "#/$defs/entity_name"},
        fields={**names, "minItems": 1, "description": "the fields a visitor fills"},
        labels={
            **named(text),
            "description": "labels of the form's fields (default: the fields' own)",
        },
        consent=text,
        success=text,
        origins={
            "type": "array",
            "items": {"type": "string"},
            "description": "origins (https://www.example.com) whose pages may embed the form "
            "(iframe) or post to it (CORS)",
        },
        owner={
            "description": "who owns what the form creates: {user: EMAIL} or {round_robin: ROLE}",
            "anyOf": [
                obj(("user",), user={"type": "string"}),
                obj(("round_robin",), round_robin={"$ref": "#/$defs/snake_name"}),
            ],
        },
        utm={
            **names,
            "description": "fields filled from the query string's parameters of the same names",
        },
    )
    inbound_hook = obj(
        ("auth", "idempotency", "input"),
        label=text,
        auth={
            "description": "how events prove who sends them: {hmac: {secret_env: NAME, header: "
            "X-Signature}} (HMAC-SHA256 of the body, sent as sha256=<hex>) or {api_key: {roles: "
            "[ROLE]}} (an API key of one of those roles, as X-API-Key or a bearer token)",
            **obj(
                hmac=obj(
                    ("secret_env",),
                    secret_env={
                        "type": "string",
                        "pattern": ENV_VAR.pattern,
                        "x-error": "env_var",
                        "description": "the environment variable holding the shared secret",
                    },
                    header={
                        "type": "string",
                        "pattern": r"^[A-Za-z][A-Za-z0-9-]*$",
                        "x-error": "header name",
                        "description": "the header carrying the signature (default X-Signature)",
                    },
                ),
                api_key=obj(("roles",), roles={**names, "minItems": 1}),
            ),
            "oneOf": [{"required": ["hmac"]}, {"required": ["api_key"]}],
            "x-error": "hook's auth",
        },
        run_as=obj(
            ("user",),
            user={"type": "string", "description": "the e-mail of the user its writes carry"},
        ),
        idempotency={
            "type": "string",
            "description": "an expression over input ('= input.call_id'): the event's key; an "
            "event whose key was seen already changes nothing",
        },
        input={**named({"$ref": "#/$defs/field"}), "minProperties": 1},
    )
    process = obj(
        ("on", "steps"),
        label=text,
        description=text,
        on={"$ref": "#/$defs/trigger"},
        steps={"$ref": "#/$defs/steps"},
        workflow={
            "enum": ["check", "bypass"],
            "description": "whether the process's writes honour the entities' workflows "
            "(check, the default) or skip them (bypass)",
        },
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "crmgen spec",
        "description": "A CRM described in YAML: app, entities, roles, endpoints, processes, integrations, ui.",
        **obj(
            version={"const": 1},
            use={"type": "array", "items": {"type": "string", "pattern": r"^[A-Za-z0-9_./\-]+$"}},
            app=app,
            entities=named({"$ref": "#/$defs/entity"}, "entity_name"),
            roles=named(role),
            endpoints=named(endpoint),
            processes=named(process),
            integrations=named({"$ref": "#/$defs/integration"}),
            email_templates=named(email_template),
            forms=named(public_form),
            inbound=named(inbound_hook),
            ui={"$ref": "#/$defs/ui"},
        ),
        "patternProperties": {
            EXTENSION_KEY: {"description": "free scratch space (e.g. for YAML anchors); ignored"}
        },
        "$defs": {
            "text": text,
            "snake_name": {
                "type": "string",
                "pattern": SNAKE_NAME.pattern,
                "x-error": "snake_name",
            },
            "entity_name": {
                "type": "string",
                "pattern": ENTITY_NAME.pattern,
                "x-error": "entity_name",
            },
            "env": {
                **obj(
                    ("env",),
                    env={"type": "string", "pattern": ENV_VAR.pattern, "x-error": "env_var"},
                    default={"type": ["string", "number", "boolean"]},
                ),
                "x-error": "env",
            },
            "secret": {
                **obj(
                    ("env",),
                    env={"type": "string", "pattern": ENV_VAR.pattern, "x-error": "env_var"},
                ),
                "description": "a secret, read from an environment variable: {env: NAME} (no default: secrets never go in a spec)",
                "x-error": "env",
            },
            "field": _field_schema(),
            "access": _access(),
            "permission": _permission(),
            "entity": _entity(),
            "step": _step(),
            "steps": {"type": "array", "items": {"$ref": "#/$defs/step"}},
            "trigger": _trigger(),
            "integration": _integration(),
            "measure": _measure(),
            "ui": _ui(),
        },
    }
