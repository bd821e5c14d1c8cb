"""Enum values as coloured badges, and people as initials avatars, in lists and on detail pages.

The Content-Security-Policy allows no ``style`` attributes, so a badge cannot carry the spec's
colour itself: each value gets one of ``TONES`` colour classes (``tone-0`` ... ``tone-7``, their
light and dark colours in ``static/tokens.css``, checked for contrast in both themes). A value
with a spec ``color`` gets the tone nearest in hue (grey for an unsaturated colour); one without
gets a tone from its name's checksum, so it keeps its colour when values are added or reordered.

A user (the header's, an owner or assignee cell) shows as a round avatar with their initials, in
the tone of their name's checksum.
"""

from __future__ import annotations

import colorsys
import zlib
from typing import Any

TONES = 8
# the hue (degrees) of each tone in tokens.css; None: the neutral (slate) tone
HUES: tuple[float | None, ...] = (220.0, 140.0, 40.0, 270.0, 180.0, 0.0, None, 330.0)
NEUTRAL = HUES.index(None)


def tone_of_color(color: str) -> int:
    """The tone nearest to ``color`` (``#rrggbb``, as the spec language checks)."""
    red, green, blue = (int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    hue, lightness, saturation = colorsys.rgb_to_hls(red, green, blue)
    if saturation < 0.2 or lightness < 0.12 or lightness > 0.92:
        return NEUTRAL
    degrees = hue * 360

    def distance(tone: int) -> float:
        target = HUES[tone]
        if target is None:
            return 360.0
        gap = abs(degrees - target) % 360
        return min(gap, 360 - gap)

    return min(range(TONES), key=distance)


def tone(meta: dict[str, Any], value: Any) -> int | None:
    """The tone of ``value`` of the enum field ``meta``; None for other fields, empty values,
    lists and values not among the field's choices."""
    if not isinstance(value, str) or not meta.get("choices"):
        return None
    if not any(name == value for name, _ in meta["choices"]):
        return None
    color = (meta.get("colors") or {}).get(value)
    if isinstance(color, str) and len(color) == 7 and color.startswith("#"):
        return tone_of_color(color)
    return zlib.crc32(value.encode("utf-8")) % TONES


def name_tone(text: str) -> int:
    """A stable tone for a person's name (or e-mail address)."""
    return zlib.crc32(text.encode("utf-8")) % TONES


def initials(text: str) -> str:
    """Up to two initials of a name ("Ada Lovelace" -> "AL"), or of an e-mail address's local
    part ("ada.lovelace@x" -> "AL"); "?" when there is nothing to take them from."""
    name = text.split("@", 1)[0] if "@" in text and " " not in text.strip() else text
    words = [w for w in name.replace(".", " ").replace("_", " ").replace("-", " ").split() if w]
    letters = [next((c for c in w if c.isalnum()), "") for w in words]
    letters = [c for c in letters if c]
    if not letters:
        return "?"
    picked = letters[0] + (letters[-1] if len(letters) > 1 else "")
    return picked.upper()


def user_path(entities: dict[str, dict[str, Any]], user_entity: str) -> str | None:
    """The API path of the users' entity (named ``user_entity``) among ``entities``."""
    return next((path for path, e in entities.items() if e.get("name") == user_entity), None)


def avatar(
    meta: dict[str, Any], value: Any, users: str | None, shown: str
) -> dict[str, Any] | None:
    """The avatar of a reference to a user (``meta`` targets ``users``) shown as ``shown``."""
    if users is None or meta.get("target") != users or not isinstance(value, dict) or not shown:
        return None
    return {"initials": initials(shown), "tone": name_tone(shown)}
