"""Spec texts as the UI stores them: ``{locale: text}`` for every locale of the app."""

from __future__ import annotations

from crmgen.language.model import Spec
from crmgen.language.text import Text


def text_of(spec: Spec, text: Text, fallback: str = "") -> dict[str, str]:
    """``text`` in each of the app's locales (the default locale's text where one is missing)."""
    default = spec.app.default_locale
    return {loc: (text.get(loc, default) or fallback) for loc in spec.app.locales}
