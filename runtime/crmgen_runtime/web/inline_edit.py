"""Cells of a list edited in place, for entities whose spec turns on ``inline_edit``.

The list page marks each cell the user may change (a field their rules let them update, of a
kind a single input edits: text, numbers, dates, times, choices, yes/no) with the field's name,
its input and its current value; ``static/inline_edit.js`` turns such a cell into an input on a
click or Enter and saves it through the record's own ``PATCH /api/<path>/{id}`` with the row's
``version``: a record changed meanwhile answers 409 and the cell says so, a value the field
refuses answers 422 and the cell shows the field's message. Without JavaScript the cells stay
text and the record's edit page is one click away.
"""

from __future__ import annotations

from typing import Any

from crmgen_runtime import permissions, workflows
from crmgen_runtime.principal import CurrentUser
from crmgen_runtime.resources import Resource
from crmgen_runtime.web.site import Site, allowed

# The form widgets a cell's single input stands for (a moment, a link or a file needs a form).
INPUTS = {
    "text": "text",
    "email": "email",
    "tel": "tel",
    "url": "url",
    "textarea": "text",
    "number": "number",
    "date": "date",
    "time": "time",
    "select": "select",
    "checkbox": "checkbox",
}


def editable(
    site: Site, entity: dict[str, Any], resource: Resource, user: CurrentUser
) -> dict[str, str]:
    """The fields of ``entity``'s list ``user`` may edit in place, each with its input."""
    if not entity["lists"].get("inline_edit") or not allowed(resource, user, "update"):
        return {}
    if "update" not in resource.actions:
        return {}
    writable = permissions.writable(resource, user, "update")
    found = {}
    for name, meta in entity["fields"].items():
        kind = INPUTS.get(meta.get("widget") or "")
        if kind and meta.get("editable") and name in writable:
            found[name] = kind
    return found


def cell(
    site: Site,
    edits: dict[str, str],
    meta: dict[str, Any],
    item: dict[str, Any],
    locale: str,
    *,
    first: bool,
    resource: Resource | None = None,
    user: CurrentUser | None = None,
) -> dict[str, Any]:
    """What a cell of ``item`` adds for editing in place (nothing when it is not editable; the
    first column is the record's link). The field of ``resource``'s workflow offers only the
    record's state and the states ``user`` may move it to (``states``)."""
    kind = edits.get(meta["name"])
    if kind is None or first:
        return {}
    edit: dict[str, Any] = {
        "field": meta["name"],
        "input": kind,
        "value": site.form_value(meta, item.get(meta["name"])),
    }
    workflow = resource.workflow if resource is not None else None
    if workflow is not None and workflow.field == meta["name"]:
        superuser = user is not None and site.catalog.is_superuser(user)
        state = item.get(meta["name"])
        edit["states"] = " ".join(workflows.offered(workflow, state, user, superuser))
    return {"edit": edit}


def context(
    site: Site, edits: dict[str, str], resource: Resource, locale: str
) -> dict[str, Any] | None:
    """What the list page's table needs to edit its cells (None: nothing is editable): the
    record API, each editable field's choices and step, the words the script says."""
    if not edits:
        return None
    entity = site.entities[resource.path]
    fields: dict[str, Any] = {}
    for name, kind in edits.items():
        meta = entity["fields"][name]
        fields[name] = {
            "input": kind,
            "required": bool(meta.get("required")),
            "step": meta.get("step"),
            "max_length": meta.get("max_length"),
            "choices": [[value, site.pick(label, locale)] for value, label in meta["choices"]],
        }
    return {"api": f"/api/{resource.path}/", "fields": fields}
