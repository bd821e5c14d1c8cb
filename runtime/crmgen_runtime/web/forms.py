"""Create and edit forms: a widget per field type in the spec's form sections, the API's errors
next to each field, stale-edit conflicts shown with nothing the user typed lost.

References are selects of the target's records (``picker.js`` turns them into type-to-search
boxes over ``GET /api/<target>?q=``); a target the user may not list is a number input.
Lists of references are multi-selects (the picker shows their chosen records as removable
chips and searches the same way), JSON is a textarea checked before the API is called, and a
``/new`` page takes initial values from its query string (``?company=5``).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import orjson
import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import consent, crud, links, permissions, workflows
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import Resource
from crmgen_runtime.web import attachments, duplicate_pages, people
from crmgen_runtime.web.site import (
    Site,
    client_ip,
    csrf_ok,
    fetch_record,
    redirect,
    site_of,
)

CONFIRM_FIELD = "_confirm_duplicate"  # the "Create anyway" button of a likely duplicate
CHOICES_LIMIT = 200  # records offered by a select; the picker searches the rest
MULTI_WIDGETS = frozenset({"multi"})
# What a submitted form holds: one text per field, a list of texts for multi-selects.
Values = dict[str, Any]


# --- fields --------------------------------------------------------------------------------


def field_metas(entity: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The fields' shared data with this part's additions: the widgets of lists of
    references, JSON and files, and number inputs' step, bounds and currency."""
    extra = entity["records"]
    metas = {}
    for name, meta in entity["fields"].items():
        merged = {**meta, **extra["inputs"].get(name, {})}
        widget = extra["widgets"].get(name)
        if widget is not None:
            merged.update(widget=widget, editable=True)
        metas[name] = merged
    return metas


def value_of(site: Site, meta: dict[str, Any], value: Any) -> Any:
    """A stored value as the form shows it."""
    if meta["widget"] in MULTI_WIDGETS:
        return [str(i) for i in value or []]
    if meta["widget"] == "json":
        return "" if value is None else json.dumps(value, ensure_ascii=False, indent=2)
    return site.form_value(meta, value)


def moment_of(raw: str, zone: dt.tzinfo) -> str:
    """A ``datetime-local`` input (the app's time zone) as the API takes it; text that is
    not a date and time goes as it is, for the API to name the field."""
    try:
        local = dt.datetime.fromisoformat(raw)
    except ValueError:
        return raw
    return (local if local.tzinfo else local.replace(tzinfo=zone)).isoformat()


def submitted(metas: list[dict[str, Any]], pairs: list[tuple[str, str]]) -> Values:
    """The form's values; a multi-select's are all its chosen ids (a typed ``1, 2`` too)."""
    values: Values = dict(pairs)
    for meta in metas:
        if meta["widget"] in MULTI_WIDGETS:
            texts = [v for k, v in pairs if k == meta["name"]]
            values[meta["name"]] = [p.strip() for v in texts for p in v.split(",") if p.strip()]
    return values


def _number(raw: str, kind: type) -> Any:
    try:
        return kind(raw)
    except ValueError:
        return raw  # the API names the field in its 422


def defaults(shown: list[dict[str, Any]]) -> Values:
    """The spec's constant defaults of a new record's form fields, written as the form sends
    them (a ticked box is ``on``): a new deal starts in its first stage, a box whose field
    defaults to true starts ticked, so saving the form keeps the default."""
    values: Values = {}
    for meta in shown:
        default = meta.get("default")
        if default is None or meta["widget"] in MULTI_WIDGETS:
            continue
        if isinstance(default, bool):
            if default and meta["widget"] == "checkbox":
                values[meta["name"]] = "on"
        elif meta["widget"] != "checkbox":
            values[meta["name"]] = str(default)
    return values


def payload_of(
    site: Site, metas: list[dict[str, Any]], values: Values, *, partial: bool, locale: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The API payload of a submitted form (values typed as the API expects them), and the
    errors found before asking the API (JSON that does not parse)."""
    payload: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for meta in metas:
        name, widget = meta["name"], meta["widget"]
        if widget == "checkbox":
            payload[name] = values.get(name) == "on"
            continue
        if widget in MULTI_WIDGETS:
            ids = [_number(v, int) for v in values.get(name) or []]
            if ids or partial:
                payload[name] = ids
            continue
        raw = values.get(name, "")
        if not isinstance(raw, str) or not raw.strip():
            if partial:
                payload[name] = None
            continue
        if widget == "json":
            try:
                payload[name] = orjson.loads(raw)  # nesting is capped (no RecursionError)
            except ValueError as exc:
                errors[name] = site.translator(locale)("json_invalid").format(
                    line=getattr(exc, "lineno", 1), column=getattr(exc, "colno", 1)
                )
        elif meta["type"] in ("integer", "bigint") or widget == "ref":
            payload[name] = _number(raw, int)
        elif meta["type"] == "float":
            payload[name] = _number(raw, float)
        elif widget == "datetime-local":
            payload[name] = moment_of(raw, site.catalog.config.clock.zone)
        else:
            payload[name] = raw
    return payload, errors


# --- choices of references -------------------------------------------------------------------


def _chosen(value: Any) -> list[str]:
    texts = value if isinstance(value, list) else [value]
    return [v for v in texts if isinstance(v, str) and v.isdigit() and len(v) <= 18]


def choices(
    site: Site, database: Any, user: CurrentUser, metas: list[dict[str, Any]], values: Values
) -> dict[str, dict[str, Any]]:
    """For each reference field whose target the user may list: the first records they may
    link to (list and read) as ``(id, text)`` options, plus the chosen ones (a chosen record
    out of the user's reach shows as ``#id``, so saving the form as shown keeps the link),
    whether that is all of them, and what the picker script needs to search the target. The
    other references are number inputs."""
    result: dict[str, dict[str, Any]] = {}
    for meta in metas:
        target = site.catalog.resources.get(meta.get("target") or "")
        if meta["widget"] not in ("ref", *MULTI_WIDGETS) or target is None:
            continue
        try:
            first = [("limit", str(CHOICES_LIMIT))]
            page = crud.list_records(database, target, user, first, count=False, linkable=True)
        except ApiError:
            continue
        shown = meta.get("display") or target.display  # the target's field the link shows
        options = [
            (str(item["id"]), links.text(item["id"], item.get(shown))) for item in page["items"]
        ]
        offered = {value for value, _ in options}
        missing = [i for i in _chosen(values.get(meta["name"])) if i not in offered]
        if missing:
            with database.engine.connect() as connection:
                named = links.names(connection, target, user, [int(i) for i in missing], shown)
            options += [(i, named.get(int(i)) or f"#{i}") for i in missing]
        readable = permissions.readable(target, user)
        result[meta["name"]] = {
            "options": options,
            "complete": page["next_cursor"] is None,  # no more than the limit
            "url": f"/api/{meta['target']}",
            "display": shown,
            "search": any(name in readable for name in target.search),
        }
    return result


# --- pages ---------------------------------------------------------------------------------


class EntityForm:
    """The create and edit forms of one entity on one app's site."""

    def __init__(self, site: Site, path: str, resource: Resource) -> None:
        self.site = site
        self.path = path
        self.resource = resource
        self.entity = site.entities[path]
        self.metas = field_metas(self.entity)

    def form_fields(self, user: CurrentUser, action: str) -> list[dict[str, Any]]:
        """The fields ``user`` may write doing ``action``, in the form's order."""
        writable = permissions.writable(self.resource, user, action)
        metas = self.metas
        return [
            metas[name]
            for name in self.entity["form"]
            if metas[name]["editable"] and name in writable
        ]

    def with_workflow(
        self, database: Any, user: CurrentUser, shown: list[dict[str, Any]], record_id: int | None
    ) -> list[dict[str, Any]]:
        """``shown`` with the workflow's field offering only what the workflow lets ``user``
        choose: on a new record the start states, else the stored state and its next states."""
        workflow = self.resource.workflow
        if workflow is None or not any(m["name"] == workflow.field for m in shown):
            return shown
        state = None
        if record_id is not None:
            model = self.resource.model
            column = self.resource.attribute(workflow.field)
            with database.engine.connect() as connection:
                state = connection.scalar(sa.select(column).where(model.id == record_id))
        superuser = self.site.catalog.is_superuser(user)
        allowed = workflows.offered(workflow, state, user, superuser)
        return [
            {**m, "choices": [c for c in m["choices"] if c[0] in allowed]}
            if m["name"] == workflow.field
            else m
            for m in shown
        ]

    def sections(self, shown: list[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
        """The spec's form sections holding the shown fields (empty sections left out)."""
        by_name = {meta["name"]: meta for meta in shown}
        result = []
        for section in self.entity["records"]["sections"]:
            fields = [by_name.pop(n) for n in section["fields"] if n in by_name]
            if fields:
                result.append({"label": self.site.pick(section["label"], locale), "fields": fields})
        if by_name:
            result.append({"label": "", "fields": list(by_name.values())})
        return result

    async def show(
        self,
        request: Request,
        user: CurrentUser,
        action: str,
        *,
        values: Values,
        errors: dict[str, str],
        message: str | None = None,
        record_id: int | None = None,
        version: Any = None,
        status: int = 200,
        duplicate: dict[str, Any] | None = None,
    ) -> Response:
        """The form page with ``values`` and ``errors`` (and the likely duplicates
        ``duplicate`` of a record about to be created, with a "Create anyway" button)."""
        site, path = self.site, self.path
        locale = site.locale_of(request)
        database = request.app.state.db
        shown = self.form_fields(user, action)
        shown = await run_in_threadpool(self.with_workflow, database, user, shown, record_id)
        options = await run_in_threadpool(choices, site, database, user, shown, values)
        action_url = f"/{path}/new" if record_id is None else f"/{path}/{record_id}/edit"
        context = site.entity_context(
            path,
            locale,
            sections=self.sections(shown, locale),
            values=values,
            errors=errors,
            message=message,
            options=options,
            widgets=site.widgets,
            action_url=action_url,
            record_id=record_id,
            version=version,
            roles_field=people.roles_field(site, self.resource, user, values, record_id, locale),
            duplicate=duplicate,
        )
        return site.render(request, "form.html", context, user=user, status=status)

    def failed(self, exc: ApiError, locale: str) -> tuple[str, dict[str, str]]:
        """The message and field errors (in the user's language) of a refused save."""
        if exc.fields:
            return self.site.translator(locale)("fix_errors"), self.site.field_errors(
                exc.fields, locale
            )
        return exc.message, {}


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    """The ``/new`` and ``/<id>/edit`` pages of the entity at ``path``."""

    async def new_page(request: Request) -> Response:
        site = site_of(request)
        user, stop = await site.guard(request, resource, "create")
        if stop is not None:
            return stop
        form = EntityForm(site, path, resource)
        locale = site.locale_of(request)
        shown = form.form_fields(user, "create")
        if request.method == "GET":  # initial values from the query string: /contacts/new?company=5
            query = request.query_params
            values: Values = {
                **defaults(shown),
                **{
                    meta["name"]: (
                        query.getlist(meta["name"])
                        if meta["widget"] in MULTI_WIDGETS
                        else query[meta["name"]]
                    )
                    for meta in shown
                    if meta["name"] in query
                },
            }
            return await form.show(request, user, "create", values=values, errors={})
        t = site.translator(locale)
        pairs, upload_errors = await attachments.form_pairs(request, resource, user, t)
        if not csrf_ok(request, dict(pairs)):
            return site.error_page(request, 403, "csrf", user)
        values = submitted(shown, pairs)
        payload, errors = payload_of(site, shown, values, partial=False, locale=locale)
        roles = people.roles_payload(site, resource, user, pairs, None)
        if roles is not None:
            payload["roles"] = values["roles"] = roles
        errors.update(upload_errors)  # files refused for their type or size
        if errors:
            message = site.translator(locale)("fix_errors")
            return await form.show(
                request, user, "create", values=values, errors=errors, message=message, status=422
            )
        confirmed = dict(pairs).get(CONFIRM_FIELD) == "1"  # "Create anyway"
        try:
            record = await run_in_threadpool(
                consent.within,
                "user",
                lambda: crud.create_record(
                    request.app.state.db,
                    resource,
                    user,
                    payload,
                    client_ip(request),
                    check_duplicates=not confirmed,
                ),
            )
        except ApiError as exc:
            duplicate = duplicate_pages.warning(site, path, exc, locale)
            message, errors = form.failed(exc, locale)
            if duplicate is not None:
                message = t("duplicate_warning")
            return await form.show(
                request,
                user,
                "create",
                values=values,
                errors=errors,
                message=message,
                status=exc.status,
                duplicate=duplicate,
            )
        return redirect(request, f"/{path}/{record['id']}")

    async def edit_page(request: Request) -> Response:
        site = site_of(request)
        user, stop = await site.guard(request, resource, "update")
        if stop is not None:
            return stop
        form = EntityForm(site, path, resource)
        locale = site.locale_of(request)
        record_id = request.path_params["id"]
        database = request.app.state.db
        if request.method == "GET":
            record = await run_in_threadpool(
                fetch_record, database, resource, user, record_id, "update"
            )
            if record is None:
                return site.error_page(request, 404, "not_found", user)
            values = {
                name: value_of(site, meta, record.get(name)) for name, meta in form.metas.items()
            }
            values["roles"] = record.get("roles") or []
            return await form.show(
                request,
                user,
                "update",
                values=values,
                errors={},
                record_id=record_id,
                version=record.get("version"),
            )
        t = site.translator(locale)
        pairs, upload_errors = await attachments.form_pairs(request, resource, user, t)
        given = dict(pairs)
        if not csrf_ok(request, given):
            return site.error_page(request, 403, "csrf", user)
        shown = form.form_fields(user, "update")
        values = submitted(shown, pairs)
        version = given.get("version")
        payload, errors = payload_of(site, shown, values, partial=True, locale=locale)
        roles = people.roles_payload(site, resource, user, pairs, record_id)
        if roles is not None:
            payload["roles"] = values["roles"] = roles
        errors.update(upload_errors)  # files refused for their type or size
        if errors:
            message = site.translator(locale)("fix_errors")
            return await form.show(
                request,
                user,
                "update",
                values=values,
                errors=errors,
                message=message,
                record_id=record_id,
                version=version,
                status=422,
            )
        try:
            payload["version"] = int(version or "")
        except ValueError:
            pass
        try:
            await run_in_threadpool(
                consent.within,
                "user",
                crud.update_record,
                database,
                resource,
                user,
                record_id,
                payload,
                client_ip(request),
            )
        except ApiError as exc:
            if exc.status == 404:
                return site.error_page(request, 404, "not_found", user)
            if exc.status == 409 and exc.code == "stale":
                current = await run_in_threadpool(
                    fetch_record, database, resource, user, record_id, "update"
                )
                if current is None:
                    return site.error_page(request, 404, "not_found", user)
                message, errors = site.translator(locale)("conflict"), {}
                version = current.get("version")  # saving again overwrites, knowingly
            else:
                message, errors = form.failed(exc, locale)
            return await form.show(
                request,
                user,
                "update",
                values=values,
                errors=errors,
                message=message,
                record_id=record_id,
                version=version,
                status=exc.status,
            )
        return redirect(request, f"/{path}/{record_id}")

    return [
        Route(f"/{path}/new", new_page, methods=["GET", "POST"]),
        Route(f"/{path}/{{id:int}}/edit", edit_page, methods=["GET", "POST"]),
    ]


def routes() -> list[BaseRoute]:
    return []
