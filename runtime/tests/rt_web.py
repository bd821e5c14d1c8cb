"""The small CRM's web UI data (``ui.json``) for the runtime's tests of ``crmgen_runtime.web``:
its entities (one on a path the UI keeps for itself), a menu with an entity list, a kanban
view and a dashboard for managers."""

from __future__ import annotations

import copy
from typing import Any

LABELS = {"users": "User", "companies": "Company", "deals": "Deal", "login": "Login"}


def field(name: str, kind: str = "string", **extra: Any) -> dict[str, Any]:
    """A field as ``ui.json`` describes it."""
    return {
        "name": name,
        "label": {"en": name.title(), "ru": name.title() + "-ru"},
        "type": kind,
        "widget": "text",
        "choices": [],
        "currency": None,
        "editable": True,
        "help": None,
        "import": "text",
        "max_length": None,
        "required": False,
        "step": None,
        "target": None,
        **extra,
    }


STAGES = [["new", {"en": "New", "ru": "Новая"}], ["won", {"en": "Won", "ru": "Выиграна"}]]
FIELDS = {
    "users": {"name": field("name"), "email": field("email", "email")},
    "companies": {
        "name": field("name", required=True),
        "owner": field("owner", "ref", target="users"),
    },
    "deals": {
        "title": field("title", required=True),
        "amount": field("amount", "money", currency="USD", step="any", widget="number"),
        "stage": field("stage", "enum", choices=STAGES, widget="select"),
        "company": field("company", "ref", target="companies", widget="ref"),
        "owner": field("owner", "ref", target="users", widget="ref"),
        "partners": field("partners", "refs", target="companies"),
        "created_at": field("created_at", "datetime", editable=False),
    },
}
FORMS = {
    "deals": {
        "form": ["title", "amount", "stage", "company", "partners"],
        "records": {
            "inputs": {"amount": {"currency": "USD", "min": 0, "max": None, "step": "0.01"}},
            "widgets": {"partners": "multi"},
            "sections": [{"fields": ["title", "amount"], "label": {"en": "Main"}}],
            "related": [],
            "actions": [],
        },
    }
}
NO_FORM = {
    "form": [],
    "records": {"inputs": {}, "widgets": {}, "sections": [], "related": [], "actions": []},
}
DISPLAY = {"users": "name", "companies": "name", "deals": "title"}
LISTS = {
    "deals": {
        "export": ["title", "stage", "amount", "company", "created_at"],
        "filters": [
            {"kind": "enum", "name": "stage"},
            {"kind": "ref", "name": "company"},
            {"kind": "ref", "name": "owner"},
            {"kind": "number", "name": "amount"},
            {"kind": "datetime", "name": "created_at"},
            {"kind": "text", "name": "title"},
        ],
    }
}


def ui_data() -> dict[str, Any]:
    """A small ``ui.json`` of the caller's own (a deep copy): the CRM's entities (one on a path
    the UI keeps), a menu with an entity list, a kanban view and a dashboard for managers."""
    entities = {
        path: {
            "label": {"en": label, "ru": label + "-ru"},
            "plural_label": {"en": label + "s"},
            "fields": FIELDS.get(path, {}),
            "display": DISPLAY.get(path, "id"),
            "columns": [n for n in FIELDS.get(path, {}) if n != "created_at"],
            "lists": LISTS.get(path, {"export": list(FIELDS.get(path, {})), "filters": []}),
            "sort": DISPLAY.get(path, "id"),
            "page_size": 2,
            "documents": [],
            **FORMS.get(path, NO_FORM),
        }
        for path, label in LABELS.items()
    }
    nav = [
        {
            "label": {"en": "Sales"},
            "items": [
                {"kind": "entity", "key": "deals", "url": "/deals/", "label": {"en": "Deals"}},
                {
                    "kind": "entity",
                    "key": "deals",
                    "url": "/deals/kanban",
                    "label": {"en": "Deals"},
                    "view": "kanban",
                },
                {
                    "kind": "dashboard",
                    "key": "overview",
                    "url": "/dashboards/overview",
                    "label": {"en": "Overview"},
                    "roles": ["manager"],
                },
            ],
        },
        {
            "label": {"en": "Empty"},
            "items": [{"kind": "report", "url": "/r", "label": {}, "roles": ["x"]}],
        },
    ]
    data = {
        "title": {"en": "Test CRM", "ru": "Малая CRM"},
        "default_locale": "en",
        "locales": ["en", "ru"],
        "roles": {"admin": {"en": "Administrator", "ru": "Администратор"}},
        "entities": entities,
        "nav": nav,
    }
    return copy.deepcopy(data)  # the caller's own: tests change fields and forms
