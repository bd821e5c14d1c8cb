"""English plurals of entity names, from the `inflect` library.

An entity's default plural names its API path and its table (``Company`` -> ``companies``), so
the rule is stable and explained in docs/spec/entities.md:

- the last word of a PascalCase name is made plural, the words before it are kept
  (``CustomerAddress`` -> ``CustomerAddresses``, ``SalesPerson`` -> ``SalesPeople``);
- a last word that already is a plural stays as it is (``Points``, ``CustomerDetails``,
  ``Settings``, ``People``); a word ending in ``s`` counts as a plural unless inflect knows it
  as a singular (``Status``, ``Address``, ``Bus``, ``Canvas``) or it ends like a Latin or Greek
  singular (``-us``, ``-is``, ``-ss``: ``Campus``, ``Analysis``, ``Class``);
- words with no plural of their own stay as they are (``Equipment``, ``News``, ``Series``);
- an acronym gets an ``s`` (``KPI`` -> ``KPIs``).

``plural:`` on an entity overrides all of this.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache
from types import ModuleType


def _import_inflect() -> ModuleType:
    """``inflect``, imported without typeguard's run-time checks of its arguments.

    inflect decorates its functions with ``typeguard.typechecked``, which re-compiles each of
    them when the module is imported: about 1.5 s of every crmgen start, for checks of argument
    types that our own calls (plain strings) never need. While inflect is imported the decorator
    is the identity; the words it answers are the same.
    """
    if "inflect" in sys.modules:
        return sys.modules["inflect"]
    try:
        import typeguard
    except ImportError:  # an inflect without typeguard: nothing to skip
        import inflect

        return inflect
    checked = typeguard.typechecked
    typeguard.typechecked = lambda target=None, **_options: target  # type: ignore[assignment]
    try:
        import inflect
    finally:
        typeguard.typechecked = checked
    return inflect


inflect = _import_inflect()
_ENGINE = inflect.engine()
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+|[A-Z]+[0-9]*")
# Words ending in "s" that inflect's own rules treat as singular (gas, lens, alias, ...).
_SINGULAR_S = re.compile(f"^{inflect.pl_sb_singular_s}$")
_LATIN_SINGULAR = ("us", "is", "ss")


def pluralize(name: str) -> str:
    """The plural of a PascalCase entity name (``plural:`` in the spec overrides it)."""
    words = _WORDS.findall(name)
    if not words or not name.endswith(words[-1]):
        return name + "s"
    last = words[-1]
    head = name[: len(name) - len(last)]
    if last.isupper() or not last[-1].isalpha():  # KPI -> KPIs, Phase2 -> Phase2s
        return name + "s"
    plural = _plural_word(last.lower())
    return head + (plural[:1].upper() + plural[1:] if last[0].isupper() else plural)


@lru_cache(maxsize=512)
def _plural_word(word: str) -> str:
    if _is_plural(word):
        return word
    plural = _ENGINE.plural_noun(word) or word + "s"
    if word.endswith("s") and plural == word + "s":  # inflect's "tenniss"
        return word + "es"
    return plural


def _is_plural(word: str) -> bool:
    if word.endswith("s") and (_SINGULAR_S.match(word) or word.endswith(_LATIN_SINGULAR)):
        return False
    singular = _ENGINE.singular_noun(word)
    return bool(singular) and _ENGINE.plural_noun(singular) == word
