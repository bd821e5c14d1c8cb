"""The generated app's OpenAPI 3.1 document, built from the spec at generation time.

Every path (health, the document itself, sign-in, and per entity the collection and item
routes its API enables and the back sides of relations, ``/api/<path>/{id}/<back>``), every
list parameter (paging, sort, search, one per filter and operator, the filters over back
sides), the read / create / update shape of each entity, the error shape and the two ways
to authenticate (bearer token, session cookie, API key). ``document_text`` is deterministic: sorted
keys, no timestamps.
"""

from __future__ import annotations

import json
from typing import Any

from crmgen.language import fields
from crmgen.language.model import Spec
from crmgen.language.names import QUERY_PARAMETERS
from crmgen.render import (
    document_routes,
    openapi_accounts,
    openapi_files,
    openapi_gdpr,
    openapi_notifications,
    openapi_security,
)
from crmgen.render.api import FieldFacts, ResourceFacts, resources
from crmgen.render.openapi_keys import key_paths
from crmgen.render.openapi_mail import mail_paths
from crmgen.render.openapi_system import system_paths
from crmgen.render.openapi_views import view_paths

ORDERED_OPS = ("ne", "gt", "gte", "lt", "lte", "in", "isnull")
SHARED_PARAMS = frozenset({"limit", "cursor", "offset", "sort", "count"})  # the same for every list
ERROR_STATUSES = {
    "400": "Bad request: malformed JSON or a bad query parameter",
    "401": "Not signed in",
    "403": "The role may not do this (or may not write a field)",
    "404": "No such record (or it is outside the role's record rule)",
    "409": "Conflict: a duplicate value, a stale version or a record still in use",
    "422": "Invalid fields (one message per field)",
}
NOT_JSON = "The body is not declared JSON (Content-Type: application/json)"


def document(spec: Spec) -> dict[str, Any]:
    facts = resources(spec)
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "fields"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                }
            },
        },
        "Link": {
            "type": "object",
            "description": (
                "A linked record: its id and display value (`#<id>` when the value is empty;"
                " empty when the reader may not read the record or see the field it shows)"
            ),
            "required": ["id", "display"],
            "properties": {"id": {"type": "integer"}, "display": {"type": "string"}},
        },
    }
    paths: dict[str, Any] = {
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Health: 200 once the database answers",
                "security": [],
                "responses": {
                    "200": _json(
                        {"type": "object", "properties": {"status": {"const": "ok"}}}, "OK"
                    ),
                    "503": _error("The database does not answer"),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "The OpenAPI document")},
            }
        },
        **_auth_paths(),
        **openapi_accounts.account_paths(),
        **openapi_security.security_paths(spec.app.two_factor),
    }
    parameters: dict[str, Any] = {}  # the list parameters, by entity (``_list_refs``)
    for r in facts:
        name = r.entity.name
        schemas[name] = _read_schema(r)
        schemas[f"{name}Create"] = _write_schema(r, create=True)
        schemas[f"{name}Update"] = _write_schema(r, create=False)
        if name == openapi_accounts.USER:
            openapi_accounts.add_roles(spec, schemas)
        schemas[f"{name}List"] = {
            "type": "object",
            "required": ["items", "next_cursor", "prev_cursor", "total", "total_kind"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}},
                "next_cursor": {
                    "type": ["string", "null"],
                    "description": "the cursor of the next page; null on the last page",
                },
                "prev_cursor": {
                    "type": ["string", "null"],
                    "description": "the cursor of the page before; null on the first page",
                },
                "total": {
                    "type": ["integer", "null"],
                    "description": "the records that match (as total_kind says); null for count=none",
                },
                "total_kind": {
                    "enum": ["exact", "estimate", "at_least", None],
                    "description": (
                        "exact: counted; estimate: the database planner's estimate of this query;"
                        " at_least: more than LIST_EXACT_COUNT_LIMIT, at least total;"
                        " null: not counted (count=none)"
                    ),
                },
            },
        }
        backs = _backs(facts, r)
        paths.update(_entity_paths(r, _list_refs(r, backs, parameters)))
        if name == openapi_accounts.USER and "create" in r.entity.api:
            paths.update(openapi_accounts.invite_paths(r.entity.api_path))
        if "read" in r.entity.api:  # GET /api/<path>/{id}/<back>
            for back in backs:
                source = back[1]
                listing = _list_refs(source, _backs(facts, source), parameters)
                paths[f"/api/{r.entity.api_path}/{{id}}/{back[0]}"] = _back_path(r, back, listing)
    _process_paths(spec, paths, schemas)
    _inbound_paths(spec, paths, schemas)  # POST /hooks/<name>
    paths.update(document_routes.openapi_paths(spec))  # GET .../{id}/documents/<name>.<format>
    paths.update(system_paths(spec))  # the audit log, the outbox, dashboards and reports
    paths.update(openapi_notifications.paths(spec, schemas))  # notifications, records' comments
    if spec.app.api_keys:
        paths.update(key_paths(spec))  # GET|POST /api/api_keys, DELETE /api/api_keys/{id}
    paths.update(view_paths(spec))  # GET|POST /api/views, GET|PATCH|DELETE /api/views/{id}
    paths.update(mail_paths(spec))  # GET|POST /api/<path>/{id}/emails (email_templates, imap)
    paths.update(openapi_files.paths(spec))  # uploads, downloads, attachments
    paths.update(openapi_gdpr.paths(spec))  # GET .../{id}/personal-data, POST .../{id}/erase
    described: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": spec.app.title.get(spec.app.default_locale, spec.app.default_locale),
            "version": "0.1.0",
            "description": spec.app.description.get(
                spec.app.default_locale, spec.app.default_locale
            )
            if spec.app.description
            else "",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": dict(sorted(parameters.items())),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The access_token of POST /api/auth/login",
                },
                "cookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "The session cookie of the web UI",
                },
                "api_key": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-API-Key",
                    "description": "An API key (POST /api/api_keys); also as a bearer token",
                },
            },
        },
        "security": [{"bearer": []}, {"cookie": []}, {"api_key": []}],
    }
    if not spec.app.api_keys:  # the spec turns API keys off
        del described["components"]["securitySchemes"]["api_key"]
        described["security"] = [{"bearer": []}, {"cookie": []}]
    return described


def document_text(spec: Spec) -> str:
    """The document as JSON text: sorted keys, two-space indent, a final newline."""
    return json.dumps(document(spec), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- schemas ---------------------------------------------------------------------------------


def _value_schema(f: FieldFacts, write: bool) -> dict[str, Any]:
    options = dict(f.options)
    schema: dict[str, Any]
    field_type = fields.field_type(f.type)
    if field_type.api_schema is not None:  # the type says its own schema
        schema = dict(field_type.api_schema)
        if write and f.type == "bigint":  # its digits as text too: JavaScript's 2**53
            schema["type"] = ["integer", "string"]
            schema["pattern"] = "^[-+]?[0-9]{1,20}$"
    elif field_type.text:
        schema = {"type": "string"}
        if "values" in options:  # an enum's
            schema["enum"] = list(options["values"])
        for key, name in (
            ("min_length", "minLength"),
            ("max_length", "maxLength"),
            ("pattern", "pattern"),
        ):
            if key in options:
                schema[name] = options[key]
        if field_type.api_format is not None:
            schema["format"] = field_type.api_format
    elif field_type.exact:
        schema = {"type": ["string", "number"] if write else "string", "format": "decimal"}
        schema["description"] = (
            f"up to {options['precision']} digits, {options['scale']} after the point"
        )
    elif f.type == "ref":
        schema = (
            {"type": "integer", "description": f"the id of a {f.target}"}
            if write
            else {"$ref": "#/components/schemas/Link"}
        )
    elif f.type == "refs":
        return {
            "type": "array",
            "items": {"type": "integer"},
            "description": f"ids of {f.target} records",
        }
    else:  # json and plugin types: any JSON value
        return {}
    if field_type.numeric:
        if "min" in options:
            schema["minimum"] = options["min"]
        if "max" in options:
            schema["maximum"] = options["max"]
    if not f.not_null:
        if "$ref" in schema:
            schema = {"oneOf": [schema, {"type": "null"}]}
        elif isinstance(schema.get("type"), list):
            schema["type"] = [*schema["type"], "null"]
        else:
            schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


def _system_properties(r: ResourceFacts) -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": {"type": "integer", "readOnly": True},
        "version": {"type": "integer", "readOnly": True},
    }
    if r.entity.timestamps:
        for name in ("created_at", "updated_at"):
            props[name] = {"type": "string", "format": "date-time", "readOnly": True}
    return props


def _read_schema(r: ResourceFacts) -> dict[str, Any]:
    props = _system_properties(r)
    for f in r.fields:
        props[f.name] = _value_schema(f, write=False)
    return {
        "type": "object",
        "title": r.entity.name,
        "description": "Fields hidden from the caller's role are left out.",
        "required": ["id", "version"],
        "properties": props,
    }


def _write_schema(r: ResourceFacts, create: bool) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for f in r.fields:
        if not f.read_only:
            props[f.name] = _value_schema(f, write=True)
    if not create:
        props["version"] = {
            "type": "integer",
            "description": "the version read; a stale one gives 409",
        }
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
    required = sorted(f.name for f in r.fields if f.required) if create else []
    if required:
        schema["required"] = required
    return schema


# --- paths -----------------------------------------------------------------------------------


def _process_paths(spec: Spec, paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    """The custom endpoints (with their input schemas) and the actions of processes."""
    from crmgen.render.api import input_facts

    bound = {p.trigger.endpoint: p for p in spec.processes if p.trigger.kind == "endpoint"}
    locale = spec.app.default_locale
    result = {
        "type": "object",
        "required": ["ok"],
        "properties": {
            "ok": {"const": True},
            "record": {"type": "object", "description": "the record after the process"},
        },
    }
    for e in sorted(spec.endpoints, key=lambda e: e.name):
        operation: dict[str, Any] = {
            "operationId": f"endpoint_{e.name}",
            "summary": e.label.get(locale, locale) or e.name,
            "description": (
                f"Runs the process '{bound[e.name].name}'. Roles: {', '.join(e.roles) or 'superusers only'}."
                if e.name in bound
                else ""
            ),
            "tags": ["processes"],
            "responses": {
                "200": _json(result, "The process ran (and its transaction committed)"),
                **_errors("400", "401", "403", "409", "422"),
            },
        }
        if e.entity:
            operation["parameters"] = [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ]
            operation["responses"].update(_errors("404"))
        if e.input:
            facts = input_facts(e.input)
            name = "".join(part.capitalize() for part in e.name.split("_")) + "Input"
            schema: dict[str, Any] = {
                "type": "object",
                "additionalProperties": False,
                "properties": {f.name: _value_schema(f, write=True) for f in facts},
            }
            required = sorted(f.name for f in facts if f.required)
            if required:
                schema["required"] = required
            schemas[name] = schema
            if e.method in ("POST", "PUT", "PATCH"):
                operation["requestBody"] = {
                    "required": bool(required),
                    "content": {"application/json": {"schema": _ref(name)}},
                }
            else:
                operation.setdefault("parameters", []).extend(
                    {
                        "name": f.name,
                        "in": "query",
                        "required": f.required,
                        "schema": _value_schema(f, write=True),
                    }
                    for f in facts
                )
        paths.setdefault(f"/api{e.path}", {})[e.method.lower()] = operation
    for p in spec.processes:
        if p.trigger.kind != "action" or p.trigger.entity is None:
            continue
        entity = spec.entity(p.trigger.entity)
        if entity is None:
            continue
        paths[f"/api/{entity.api_path}/{{id}}/actions/{p.name}"] = {
            "post": {
                "operationId": f"action_{p.name}",
                "summary": p.trigger.label.get(locale, locale),
                "description": f"Runs the process '{p.name}' on the {entity.name}. Roles: {', '.join(p.trigger.roles) or 'superusers only'}.",
                "tags": ["processes"],
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {
                    "200": _json(result, "The process ran; the record as it is now"),
                    **_errors("400", "401", "403", "404", "409", "422"),
                },
            }
        }


def _inbound_paths(spec: Spec, paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    """The inbound webhooks (``inbound:``): ``POST /hooks/<name>``, their events' schemas."""
    from crmgen.render.api import input_facts

    locale = spec.app.default_locale
    answer = {
        "type": "object",
        "required": ["ok", "duplicate"],
        "properties": {
            "ok": {"const": True},
            "duplicate": {
                "type": "boolean",
                "description": "true: an event with this key was taken before; nothing changed",
            },
            "event": {"type": "integer", "description": "the event's id (a new event)"},
        },
    }
    for hook in sorted(spec.inbound, key=lambda h: h.name):
        facts = input_facts(hook.input, spec.app.phone_region)
        name = "".join(part.capitalize() for part in hook.name.split("_")) + "Event"
        schema: dict[str, Any] = {
            "type": "object",
            "description": "Keys the hook does not declare are ignored.",
            "properties": {f.name: _value_schema(f, write=True) for f in facts},
        }
        required = sorted(f.name for f in facts if f.required)
        if required:
            schema["required"] = required
        schemas[name] = schema
        if hook.auth == "hmac":
            how = (
                f"Signed: {hook.header}: sha256=<hex HMAC-SHA256 of the raw body under the "
                f"shared secret ({hook.secret_env})>. Runs as {hook.run_as}."
            )
            security: list[dict[str, list[str]]] = []
        else:
            how = f"With an API key of the roles {', '.join(hook.roles)}; runs as its service user."
            security = [{"api_key": []}, {"bearer": []}]
        paths[f"/hooks/{hook.name}"] = {
            "post": {
                "operationId": f"inbound_{hook.name}",
                "summary": hook.label.get(locale, locale) or hook.name,
                "description": f"An inbound webhook. {how} The idempotency key is "
                f"{hook.idempotency.source.strip()}: a replayed event changes nothing.",
                "tags": ["inbound"],
                "security": security,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(name)}},
                },
                "responses": {
                    "200": _json(answer, "The event was taken (or was a duplicate)"),
                    **_errors("400"),
                    "401": _error("No valid signature (or API key)"),
                    "403": _error("The API key's role may not send to this hook"),
                    "409": _error("The event conflicts with a record that exists already"),
                    "413": _error("The body is too large"),
                    "415": _error(NOT_JSON),
                    **_errors("422"),
                    "503": _error("The hook is not configured yet (its secret or user)"),
                },
            }
        }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json({"$ref": "#/components/schemas/Error"}, description)


def _errors(*statuses: str) -> dict[str, Any]:
    return {status: _error(ERROR_STATUSES[status]) for status in statuses}


def _ref(name: str, kind: str = "schemas") -> dict[str, Any]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


# A back side on an entity: (its name, the entity holding the relation, the relation field).
Back = tuple[str, ResourceFacts, FieldFacts]


def _backs(facts: list[ResourceFacts], r: ResourceFacts) -> list[Back]:
    """The back sides of relations on ``r``'s entity whose holding entity the API lists."""
    return [
        (f.back, source, f)
        for source in facts
        if "list" in source.entity.api
        for f in source.fields
        if f.back and f.target == r.entity.name
    ]


def _columns(r: ResourceFacts) -> list[tuple[str, str]]:
    """(name, type) of each column a list filters on: the system columns, then the fields."""
    columns: list[tuple[str, str]] = [("id", "integer")]
    if r.entity.timestamps:
        columns += [("created_at", "datetime"), ("updated_at", "datetime")]
    # an encrypted field filters by equality through its blind index, or by emptiness only
    return columns + [
        (f.name, ("encrypted_blind" if f.blind else "encrypted") if f.encrypted else f.type)
        for f in r.fields
    ]


def _families(r: ResourceFacts) -> dict[tuple[str, ...], list[str]]:
    """The filter operators of each column, grouped: operators -> the columns taking them."""
    families: dict[tuple[str, ...], list[str]] = {}
    for name, type_ in _columns(r):
        if type_ in ("json", "encrypted"):
            ops: tuple[str, ...] = ("isnull",)
        elif type_ == "encrypted_blind" or type_ == "refs":
            ops = ("in", "isnull")
        elif type_ == "boolean":
            ops = ("ne", "in", "isnull")
        elif fields.field_type(type_).text:
            ops = (*ORDERED_OPS, "contains")
        else:
            ops = ORDERED_OPS
        families.setdefault(ops, []).append(name)
    return families


def _back_patterns(backs: list[Back]) -> dict[str, Any]:
    """The ``filters`` patterns of the back sides: ``deals__eq|in|isnull`` and
    ``deals__FIELD[__op]`` (every filter of the related entity's own list)."""
    patterns: dict[str, Any] = {}
    for name, source, _ in backs:
        patterns[f"^{name}__(eq|in|isnull)$"] = {"type": "string"}
        for ops, names in sorted(_families(source).items()):
            fields_ = "|".join(sorted(names))
            optional = "" if ops == ("isnull",) else "?"  # a json field: only __isnull
            pattern = f"^{name}__({fields_})(__({'|'.join(ops)})){optional}$"
            patterns[pattern] = {"type": "string"}
    return patterns


def _filter_params(r: ResourceFacts, backs: list[Back]) -> list[dict[str, Any]]:
    """``field=value`` per field and ``back=id`` per back side, and one free-form parameter
    for ``field__op=value`` and the filters over back sides (``deals__stage=won``)."""
    params = []
    families = _families(r)
    for name, type_ in _columns(r):
        if type_ in ("json", "encrypted"):
            continue
        if type_ in ("integer", "ref", "refs"):
            schema: dict[str, Any] = {"type": "integer"}
        elif type_ == "boolean":
            schema = {"type": "boolean"}
        elif type_ in ("date", "datetime"):
            schema = {"type": "string", "format": "date" if type_ == "date" else "date-time"}
        elif type_ in ("bigint", "float", "time"):
            schema = dict(fields.field_type(type_).api_schema or {})
        else:
            schema = {"type": "string"}
        if name in QUERY_PARAMETERS:  # ?name= is the list parameter: the field takes __eq
            params.append(
                _param(
                    f"{name}__eq",
                    f"only records whose {name} is this value (?{name}= is the list parameter)",
                    schema,
                )
            )
            continue
        params.append(_param(name, f"only records whose {name} is this value", schema))
    for name, source, _ in backs:
        what = f"only records having this {source.entity.name} among their {name}"
        params.append(_param(name, what, {"type": "integer"}))
    patterns = {
        f"^({'|'.join(sorted(names))})__({'|'.join(ops)})$": {"type": "string"}
        for ops, names in sorted(families.items())
    }
    patterns.update(_back_patterns(backs))
    described = (
        "field__op=value: ne, gt, gte, lt, lte, in (comma-separated), contains (text), "
        "isnull (true/false)"
    )
    if backs:
        described += (
            "; over the back sides of relations: back__field[__op]=value (having a related"
            " record that passes; the filters on one back side hold for the same record),"
            " back__in=ids, back__isnull=true (having none) or false (having some)"
        )
    params.append(
        {
            "name": "filters",
            "in": "query",
            "required": False,
            "style": "form",
            "explode": True,
            "description": described,
            "schema": {
                "type": "object",
                "patternProperties": patterns,
                "additionalProperties": False,
            },
        }
    )
    return params


def _list_params(r: ResourceFacts, backs: list[Back]) -> list[dict[str, Any]]:
    """The query parameters of ``r``'s list (and of each back side listing its records)."""
    return [
        _param(
            "limit",
            "page size (default 50)",
            {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
        ),
        _param(
            "cursor",
            "the next_cursor (or prev_cursor) of a page of the same query: the page after (before) it",
            {"type": "string"},
        ),
        _param(
            "offset",
            "records to skip (instead of cursor), at most LIST_MAX_OFFSET (default 10000); more"
            " is a 400 offset_too_large: page further with cursor",
            {"type": "integer", "minimum": 0},
        ),
        _param(
            "count",
            "how to count total: exact; estimate (the default: exact up to"
            " LIST_EXACT_COUNT_LIMIT, default 10000, then the planner's estimate of this query);"
            " none (total null). A field named count is filtered with count__eq",
            {"enum": ["exact", "estimate", "none"], "default": "estimate"},
        ),
        _param(
            "sort",
            "fields, comma-separated; '-' for descending (e.g. name,-created_at)",
            {"type": "string"},
        ),
        _param("q", "search in " + (", ".join(r.search) or "nothing"), {"type": "string"}),
        *_filter_params(r, backs),
    ]


def _list_refs(
    r: ResourceFacts, backs: list[Back], parameters: dict[str, Any]
) -> list[dict[str, Any]]:
    """References to ``r``'s list parameters, put in ``parameters`` (the document's
    ``components``) once: the list and each back side listing ``r``'s records share them."""
    refs = []
    for param in _list_params(r, backs):
        key = (
            param["name"] if param["name"] in SHARED_PARAMS else f"{r.entity.name}.{param['name']}"
        )
        parameters.setdefault(key, param)
        refs.append(_ref(key, "parameters"))
    return refs


def _back_path(r: ResourceFacts, back: Back, listing: list[dict[str, Any]]) -> dict[str, Any]:
    """``GET /api/<path>/{id}/<back>``: the records on a back side of one record (``listing``:
    the parameters of their entity's list)."""
    name, source, field = back
    e, kind = r.entity, field.relation.replace("_", "-")
    return {
        "get": {
            "operationId": f"list_{e.api_path}_{name}",
            "summary": f"The {source.entity.name} records whose {field.name} is this {e.name}",
            "description": (
                f"The back side '{name}' of the {kind} relation {source.entity.name}.{field.name}"
                f": a page of the {source.entity.name} list (its parameters, order and answer)"
                f" limited to the records linked to this {e.name}. The {e.name} must be one the"
                f" caller may read (404 otherwise, as GET /api/{e.api_path}/{{id}}); the records"
                " are those the caller's role may list."
                + (" A one-to-one relation: at most one record." if kind == "one-to-one" else "")
            ),
            "tags": [e.name],
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": _ID_SCHEMA},
                *listing,
            ],
            "responses": {
                "200": _json(_ref(f"{source.entity.name}List"), "One page"),
                **_errors("400", "401", "403", "404"),
            },
        }
    }


_ID_SCHEMA = {"type": "integer", "minimum": 1}


def _entity_paths(r: ResourceFacts, listing: list[dict[str, Any]]) -> dict[str, Any]:
    e = r.entity
    name = e.name
    actions = set(e.api)
    paths: dict[str, Any] = {}
    collection: dict[str, Any] = {}
    tag = [name]
    if "list" in actions:
        collection["get"] = {
            "operationId": f"list_{e.api_path}",
            "summary": f"List {name} records",
            "tags": tag,
            "parameters": listing,
            "responses": {
                "200": _json(_ref(f"{name}List"), "One page"),
                **_errors("400", "401", "403"),
            },
        }
    if "create" in actions:
        collection["post"] = {
            "operationId": f"create_{e.api_path}",
            "summary": f"Create a {name}",
            "tags": tag,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(f"{name}Create")}},
            },
            "responses": {
                "201": {
                    **_json(_ref(name), "Created"),
                    "headers": {
                        "Location": {
                            "schema": {"type": "string"},
                            "description": "the URL of the new record",
                        }
                    },
                },
                **_errors("400", "401", "403", "409", "422"),
            },
        }
    if e.duplicates and "post" in collection:
        collection["post"]["parameters"] = [
            _param(
                "confirm_duplicate",
                "true: create the record even if it likely duplicates others (else 409 "
                "possible_duplicate, with candidates and others in the error)",
                {"type": "boolean"},
            )
        ]
    if collection:
        paths[f"/api/{e.api_path}"] = collection
    if e.duplicates:
        paths.update(_duplicate_paths(r))
    item: dict[str, Any] = {}
    id_param = {"name": "id", "in": "path", "required": True, "schema": _ID_SCHEMA}
    if "read" in actions:
        item["get"] = {
            "operationId": f"read_{e.api_path}",
            "summary": f"Read a {name}",
            "tags": tag,
            "responses": {"200": _json(_ref(name), "The record"), **_errors("401", "403", "404")},
        }
    if "update" in actions:
        item["patch"] = {
            "operationId": f"update_{e.api_path}",
            "summary": f"Change a {name} (send version to detect concurrent changes)",
            "tags": tag,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(f"{name}Update")}},
            },
            "responses": {
                "200": _json(_ref(name), "The changed record"),
                **_errors("400", "401", "403", "404", "409", "422"),
            },
        }
    if "delete" in actions:
        item["delete"] = {
            "operationId": f"delete_{e.api_path}",
            "summary": f"Delete a {name}",
            "tags": tag,
            "responses": {"204": {"description": "Deleted"}, **_errors("401", "403", "404", "409")},
        }
    if item:
        item["parameters"] = [id_param]
        paths[f"/api/{e.api_path}/{{id}}"] = item
    return paths


def _duplicate_paths(r: ResourceFacts) -> dict[str, Any]:
    """``GET /api/<path>/duplicates`` and ``POST /api/<path>/{id}/merge`` of an entity with
    duplicate rules (``crmgen_runtime.duplicates``, ``merging``)."""
    e = r.entity
    actions = set(e.api)
    tag = [e.name]
    paths: dict[str, Any] = {}
    side = {
        "type": "object",
        "properties": {
            "id": _ID_SCHEMA,
            "label": {"type": "string"},
            "link": {"type": "string", "description": "the record's web page"},
        },
    }
    if "read" in actions:
        pair = {
            "type": "object",
            "properties": {
                "a": side,
                "b": side,
                "rules": {"type": "array", "items": {"type": "string"}},
                "score": {"type": "number"},
                "merge": {"type": "string", "description": "the merge page of the pair"},
            },
        }
        paths[f"/api/{e.api_path}/duplicates"] = {
            "get": {
                "operationId": f"duplicates_{e.api_path}",
                "summary": f"Pairs of likely duplicate {e.name} records the caller may read",
                "tags": tag,
                "parameters": [
                    _param(
                        "limit",
                        "at most this many pairs",
                        {"type": "integer", "minimum": 1, "maximum": 200},
                    )
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"pairs": {"type": "array", "items": pair}},
                        },
                        "The pairs, best first",
                    ),
                    **_errors("400", "401", "403"),
                },
            }
        }
    if "update" in actions and "delete" in actions:
        body = {
            "type": "object",
            "required": ["other"],
            "additionalProperties": False,
            "properties": {
                "other": {**_ID_SCHEMA, "description": "the record folded into this one"},
                "take": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "fields whose value comes from other (default: the empty ones)",
                },
            },
        }
        paths[f"/api/{e.api_path}/{{id}}/merge"] = {
            "post": {
                "operationId": f"merge_{e.api_path}",
                "summary": f"Merge another {e.name} into this one (then deleted)",
                "tags": tag,
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": _ID_SCHEMA}
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": body}},
                },
                "responses": {
                    "200": _json(_ref(e.name), "The kept record"),
                    **_errors("400", "401", "403", "404", "409", "422"),
                },
            }
        }
    return paths


def _auth_paths() -> dict[str, Any]:
    credentials = {
        "type": "object",
        "required": ["email", "password"],
        "properties": {
            "email": {"type": "string"},
            "password": {"type": "string"},
            "code": {
                "type": "string",
                "description": "With two-factor sign-in: a code from the app or a recovery code "
                "(or send it to POST /api/auth/login/code after the 401)",
            },
        },
    }
    token = {
        "type": "object",
        "required": ["access_token", "token_type", "csrf_token"],
        "properties": {
            "access_token": {"type": "string"},
            "token_type": {"const": "bearer"},
            "csrf_token": {
                "type": "string",
                "description": "Send as X-CSRF-Token with state-changing requests that "
                "are signed in by the session cookie instead of the bearer token.",
            },
        },
    }
    return {
        "/api/auth/login": {
            "post": {
                "operationId": "auth_login",
                "summary": "Sign in: a bearer token and a session cookie",
                "tags": ["auth"],
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": credentials}},
                },
                "responses": {
                    "200": _json(token, "Signed in"),
                    "400": _error(ERROR_STATUSES["400"]),
                    "401": _error(
                        "Wrong e-mail, password or code; or two_factor_required: the error's "
                        "two_factor_token goes to POST /api/auth/login/code with a code"
                    ),
                    "403": _error(
                        "Deactivated; or two_factor_setup_required: the error's "
                        "two_factor_token sets it up (POST /api/auth/two-factor/setup, confirm)"
                    ),
                    "415": _error(NOT_JSON),
                    "422": _error(ERROR_STATUSES["422"]),
                    "423": _error("Locked for a while after too many failed attempts"),
                },
            }
        },
        "/api/auth/logout": {
            "post": {
                "operationId": "auth_logout",
                "summary": "Sign out (ends the session)",
                "tags": ["auth"],
                "responses": {"204": {"description": "Signed out"}},
            }
        },
        "/api/auth/me": {
            "get": {
                "operationId": "auth_me",
                "summary": "The signed-in user",
                "tags": ["auth"],
                "responses": {
                    "200": _json({"type": "object"}, "The user"),
                    "401": _error(ERROR_STATUSES["401"]),
                },
            }
        },
        "/api/auth/password-reset": {
            "post": {
                "operationId": "auth_password_reset",
                "summary": "Send a password reset link by e-mail",
                "tags": ["auth"],
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"email": {"type": "string"}},
                            }
                        }
                    },
                },
                "responses": {
                    "202": _json(
                        {
                            "type": "object",
                            "properties": {
                                "status": {"const": "accepted"},
                                "message": {"type": "string"},
                            },
                        },
                        "Accepted, whether or not the account exists: a link is mailed to an "
                        "active account unless its or the client address's limit is reached",
                    ),
                    "400": _error(ERROR_STATUSES["400"]),
                    "415": _error(NOT_JSON),
                    "422": _error(ERROR_STATUSES["422"]),
                },
            }
        },
        "/api/auth/password-reset/confirm": {
            "post": {
                "operationId": "auth_password_reset_confirm",
                "summary": "Set a new password with the token of the link",
                "tags": ["auth"],
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "token": {"type": "string"},
                                    "password": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "204": {"description": "Password changed"},
                    "400": _error(ERROR_STATUSES["400"]),
                    "415": _error(NOT_JSON),
                    "422": _error(ERROR_STATUSES["422"]),
                },
            }
        },
    }
