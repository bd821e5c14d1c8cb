"""Field behaviour by type name: what the API accepts, how pages show a value, what is text.

Each field type the app uses has a ``FieldType`` here: ``coerce`` turns an API value into what
the column stores (raising ``crmgen_runtime.validation.Invalid``, whose message the API
answers), ``format`` gives the text the list and detail pages show (None: the pages' own
formatting), ``text`` says the column holds text (searched and filtered with ``contains``),
``assets`` names a package whose ``templates/`` and ``messages/`` folders the web UI reads (a
form widget of the type's own, ``templates/widgets/<name>.html``, and its words).
An imported cell reaches the API as text and goes through ``coerce`` like any request.

The built-in types register when ``crmgen_runtime.validation`` is imported. A plugin field
type brings its runtime half through the ``crmgen_runtime.fields`` entry point (the object is
a ``FieldType``); ``lookup`` reads the installed entry points when it meets a name it does not
know, and ``require`` lets an app check at import that every type it uses is there.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from importlib.resources import files
from pathlib import Path
from typing import Any

ENTRY_POINTS = "crmgen_runtime.fields"

Coerce = Callable[[Any, Any], Any]  # (FieldInfo, value) -> the stored value
Format = Callable[[Any], str]


@dataclass(frozen=True)
class FieldType:
    """The runtime behaviour of one field type."""

    name: str
    coerce: Coerce
    text: bool = False  # stored as text: searchable, filtered with contains
    number: bool = False  # a number: a filter compares with any value of the type, out of range too
    format: Format | None = None  # the value as pages show it (None: the pages' own rules)
    assets: str | None = None  # a package with templates/ and messages/ for the web UI


REGISTRY: dict[str, FieldType] = {}


class MissingFieldType(RuntimeError):
    """The app uses a field type whose plugin is not installed."""


def register(field_type: FieldType) -> FieldType:
    """Add (or replace) the behaviour of ``field_type.name``."""
    REGISTRY[field_type.name] = field_type
    return field_type


def load_plugins() -> list[str]:
    """Register every installed ``crmgen_runtime.fields`` entry point; the names loaded."""
    loaded = []
    for point in entry_points(group=ENTRY_POINTS):
        item = point.load()
        if not isinstance(item, FieldType):
            raise TypeError(f"the entry point {point.value} is not a crmgen_runtime FieldType")
        register(item)
        loaded.append(item.name)
    return loaded


def lookup(name: str) -> FieldType | None:
    """The behaviour of type ``name``: built-in, registered, or from an installed plugin."""
    if "string" not in REGISTRY:
        importlib.import_module("crmgen_runtime.validation")  # registers the built-ins
    found = REGISTRY.get(name)
    if found is None and load_plugins():
        found = REGISTRY.get(name)
    return found


def require(names: Iterable[str]) -> None:
    """Check that every type in ``names`` has its behaviour; raises ``MissingFieldType``."""
    missing = sorted(name for name in set(names) if lookup(name) is None)
    if missing:
        raise MissingFieldType(
            f"this app uses the field type(s) {', '.join(missing)}, but no installed package "
            f"provides them (entry point group {ENTRY_POINTS!r}); install the plugin the app "
            "depends on (see its pyproject.toml)"
        )


def is_text(name: str) -> bool:
    """Whether fields of type ``name`` hold text."""
    found = lookup(name)
    return found is not None and found.text


def display(name: str, value: Any) -> str | None:
    """``value`` as the type's ``format`` shows it, or None when the type has no formatter."""
    found = lookup(name)
    if found is None or found.format is None:
        return None
    return found.format(value)


def asset_folders(names: Iterable[str], kind: str) -> list[Path]:
    """The ``kind`` folders (``templates``, ``messages``) of the packages that the types
    ``names`` name as their ``assets``, by type name; packages without one are left out."""
    packages = dict.fromkeys(
        found.assets
        for name in sorted(set(names))
        if (found := lookup(name)) is not None and found.assets is not None
    )
    folders = [Path(str(files(package) / kind)) for package in packages]
    return [folder for folder in folders if folder.is_dir()]
