"""Form widgets: one Jinja partial per widget, ``widgets/<name>.html``, found by the site's
loader (the app's templates first, then the field types' packages, then the runtime's).

A field's widget is a name in ``ui.json`` (``text``, ``textarea``, ``select``, ``ref``, a
plugin's ``iban``...). The inputs whose HTML type is the widget's name (``INPUT_TYPES``) share
``widgets/input.html`` unless a ``widgets/<name>.html`` of their own is found. ``form.html``
includes the partial of each field, then its help text and its error; a partial renders the
label and the control, and sees:

- ``f``: the field's data from ``ui.json`` (``name``, ``label``, ``type``, ``widget``,
  ``required``, ``max_length``, ``choices``, ``help``; numbers also ``step``, ``min``, ``max``
  and ``currency``);
- ``value``: what the input shows (text; a list of ids for ``multi``);
- ``id``: the control's id (``f_<name>``; the error's is ``<id>_error``);
- ``error``: the field's error message, or None;
- ``described``: the control's ``aria-invalid`` and ``aria-describedby`` when there is an error;
- ``choice``: a reference's records to choose from (``options``, ``url``...), or None;
- ``t(key)``, ``pick(text)`` and ``locale``: the UI's words, a spec label, the language.

``widgets/_label.html`` is the label the built-in partials include. ``templates`` resolves
every widget the app uses when the site starts, so a widget nobody provides stops the app with
``MissingWidget`` instead of failing on the first form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import jinja2

FOLDER = "widgets"
INPUT = f"{FOLDER}/input.html"
INPUT_TYPES = frozenset({"text", "number", "email", "tel", "url", "date", "datetime-local", "time"})
NAME = re.compile(r"[a-z][a-z0-9_-]*")


class MissingWidget(RuntimeError):
    """A field's widget has no template the site can find."""


def template_of(environment: jinja2.Environment, widget: str) -> str | None:
    """The template of ``widget``: ``widgets/<widget>.html``, else the shared input of an HTML
    input type, else None."""
    if not NAME.fullmatch(widget):
        return None
    own = f"{FOLDER}/{widget}.html"
    try:
        environment.get_template(own)
    except jinja2.TemplateNotFound:
        return INPUT if widget in INPUT_TYPES else None
    return own


def templates(environment: jinja2.Environment, used: Mapping[str, str]) -> dict[str, str]:
    """The template of each widget in ``used`` (widget -> a field that uses it, for the
    message); raises ``MissingWidget`` naming the field when one has none."""
    found: dict[str, str] = {}
    for widget, where in sorted(used.items()):
        name = template_of(environment, widget)
        if name is None:
            raise MissingWidget(
                f"the field {where} uses the form widget {widget!r}, but no template "
                f"{FOLDER}/{widget}.html is found in the app's templates/, in the packages its "
                "field types name (crmgen_runtime.fields.FieldType(..., assets=...)) or in "
                "crmgen_runtime: install the plugin that provides it, or add the template"
            )
        found[widget] = name
    return found
