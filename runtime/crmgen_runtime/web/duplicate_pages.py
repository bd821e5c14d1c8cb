"""The pages of likely duplicates (``crmgen_runtime.duplicates``) of an entity with rules.

- ``/<path>/duplicates``: the pairs of likely duplicates the user may read, with the rule that
  matched, the score, and a link to merge each pair;
- ``/<path>/{id}/merge?other=N``: the two records side by side, a choice per field of which
  value to keep (lists keep the values of both); saving folds ``N`` into ``id``
  (``merging.merge_record``) and opens the kept record.

The create form's warning about a likely duplicate is in ``forms`` (``duplicate_warning``).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crmgen_runtime import duplicates, merging, permissions, validation
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import Resource
from crmgen_runtime.web.site import (
    Site,
    allowed,
    client_ip,
    csrf_ok,
    fetch_record,
    read_form,
    redirect,
    site_of,
)


def _pairs(database: Any, resource: Resource, user: CurrentUser) -> list[dict[str, Any]]:
    with database.session() as session:
        return duplicates.readable_pairs(session, resource, user)


def warning(site: Site, path: str, exc: ApiError, locale: str) -> dict[str, Any] | None:
    """What the create form shows of a 409 ``possible_duplicate`` (None for another error)."""
    if exc.code != "possible_duplicate":
        return None
    candidates = exc.extra.get("candidates", [])
    for candidate in candidates:
        candidate["rule_text"] = rule_text(site, path, candidate["rule"], locale)
    return {"candidates": candidates, "others": exc.extra.get("others", 0)}


def rule_text(site: Site, path: str, rule: str, locale: str) -> str:
    """A rule's name for people, with its fields' labels: "same e-mail (E-mail)", "similar
    Full name"."""
    kind, _, names = rule.partition(":")
    fields = site.entities[path]["fields"]
    labels = ", ".join(
        site.pick(fields[name]["label"], locale) if name in fields else name
        for name in names.split("+")
    )
    return site.translator(locale)(f"duplicate_rule_{kind}").replace("{fields}", labels)


def _compare(
    site: Site,
    path: str,
    resource: Resource,
    user: CurrentUser,
    kept: dict[str, Any],
    other: dict[str, Any],
    locale: str,
) -> list[dict[str, Any]]:
    """The rows of the merge page: per field its label, both values and whether (and which)
    value the user chooses."""
    fields = site.entities[path]["fields"]
    writable = permissions.writable(resource, user, "update")
    rows = []
    for name, meta in fields.items():
        info = resource.fields.get(name)
        if info is None or (name not in kept and name not in other):
            continue
        this_text = site.cell(meta, kept.get(name), locale)
        other_text = site.cell(meta, other.get(name), locale)
        choosable = (
            name in writable and not info.read_only and not info.is_list and this_text != other_text
        )
        rows.append(
            {
                "name": name,
                "label": site.pick(meta["label"], locale),
                "this": this_text,
                "other": other_text,
                "choosable": choosable,
                "take": choosable and not this_text and bool(other_text),
                "union": info.is_list,
            }
        )
    return rows


def entity_routes(path: str, resource: Resource) -> list[BaseRoute]:
    """The pairs page and the merge page of the entity at ``path`` (none without rules)."""
    if not resource.duplicates:
        return []

    async def pairs_page(request: Request) -> Response:
        site = site_of(request)
        user, stop = await site.guard(request, resource, "read")
        if stop is not None:
            return stop
        locale = site.locale_of(request)
        found = await run_in_threadpool(_pairs, request.app.state.db, resource, user)
        for pair in found:
            pair["rule_texts"] = [rule_text(site, path, rule, locale) for rule in pair["rules"]]
        may_merge = allowed(resource, user, "update") and allowed(resource, user, "delete")
        context = site.entity_context(path, locale, pairs=found, may_merge=may_merge)
        return site.render(request, "duplicates.html", context, user=user)

    async def merge_page(request: Request) -> Response:
        site = site_of(request)
        user, stop = await site.guard(request, resource, "update")
        if stop is not None:
            return stop
        if not allowed(resource, user, "delete"):
            return site.error_page(request, 403, "forbidden", user)
        locale = site.locale_of(request)
        record_id = request.path_params["id"]
        raw = request.query_params.get("other", "")
        if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= validation.MAX_ID:
            return site.error_page(request, 404, "not_found", user)
        other_id = int(raw)
        database = request.app.state.db
        problem = None
        if request.method == "POST":
            form = await read_form(request)
            if not csrf_ok(request, form):
                return site.error_page(request, 403, "csrf", user)
            take = [name[5:] for name, value in form.items() if name.startswith("take_")]
            take = [name for name in take if form[f"take_{name}"] == "other"]
            try:
                await run_in_threadpool(
                    merging.merge_record,
                    database,
                    resource,
                    user,
                    client_ip(request),
                    record_id,
                    other_id,
                    take,
                )
            except ApiError as exc:
                if exc.status == 404:
                    return site.error_page(request, 404, "not_found", user)
                problem = exc.message
            else:
                return redirect(request, f"/{path}/{record_id}?merged={other_id}")
        kept = await run_in_threadpool(fetch_record, database, resource, user, record_id, "update")
        other = await run_in_threadpool(fetch_record, database, resource, user, other_id, "delete")
        if kept is None or other is None or record_id == other_id:
            return site.error_page(request, 404, "not_found", user)
        display = site.entities[path]["display"]
        fields = site.entities[path]["fields"]

        def title(record: dict[str, Any]) -> str:
            return site.cell(fields.get(display, {}), record.get(display), locale) or (
                f"#{record['id']}"
            )

        context = site.entity_context(
            path,
            locale,
            record_id=record_id,
            other_id=other_id,
            this_title=title(kept),
            other_title=title(other),
            rows=_compare(site, path, resource, user, kept, other, locale),
            problem=problem,
        )
        status = 422 if problem else 200
        return site.render(request, "merge.html", context, user=user, status=status)

    return [
        Route(f"/{path}/duplicates", pairs_page, methods=["GET"]),
        Route(f"/{path}/{{id:int}}/merge", merge_page, methods=["GET", "POST"]),
    ]


def routes() -> list[BaseRoute]:
    return []
