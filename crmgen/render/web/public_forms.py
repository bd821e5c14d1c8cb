"""The public forms' data in ``ui.json`` (``forms``): what ``crmgen_runtime.web.public_forms``
serves at ``/f/<name>``. Absent when the spec has no ``forms:``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crmgen.language.model import Entity, Field, Spec
from crmgen.render.web.labels import text_of

FieldData = Callable[[Spec, Entity, Field], dict[str, Any]]


def site_data(spec: Spec, field_data: FieldData) -> dict[str, Any] | None:
    """Each form by name: its entity's API path, its fields as the form shows them (their
    labels replaced where the form gives its own), its texts, origins, owner and utm fields."""
    if not spec.forms:
        return None
    out: dict[str, Any] = {}
    for form in spec.forms:
        entity = spec.entity(form.entity)
        assert entity is not None
        by_name = {f.name: f for f in entity.fields}
        labels = dict(form.labels)
        fields = []
        for name in form.fields:
            meta = field_data(spec, entity, by_name[name])
            if name in labels:
                meta["label"] = text_of(spec, labels[name])
            fields.append(meta)
        out[form.name] = {
            "entity": entity.name,
            "path": entity.api_path,
            "title": text_of(spec, form.title, form.name),
            "fields": fields,
            "consent": text_of(spec, form.consent) if form.consent else None,
            "success": text_of(spec, form.success),
            "origins": list(form.origins),
            "owner": (
                {"user": form.owner_user}
                if form.owner_user is not None
                else {"round_robin": form.owner_role}
            ),
            "utm": list(form.utm),
        }
    return out
