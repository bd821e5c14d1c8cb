"""Spec text made safe for the app's documentation: Markdown and SVG (XML).

Nothing a spec author types reaches ``docs/`` unescaped. ``md`` makes any text literal Markdown
(inline, safe in a table cell and in a heading): control and bidirectional-override characters
dropped, line breaks joined, ``<``, ``>`` and ``&`` as entities and Markdown's punctuation
backslash-escaped. ``code`` wraps text in a code span whose fence no backtick in it can close.
``xml_text`` is text for an SVG element or attribute: characters XML 1.0 cannot hold dropped,
the rest escaped.
"""

from __future__ import annotations

import re
import unicodedata

# C0/C1 controls (but tab, kept as a space) and the bidi embeddings, overrides and isolates, which
# could reorder what follows them on the line (a label's own RTL text needs none of them).
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
# Characters XML 1.0 cannot hold at all (surrogates cannot occur in a str from YAML or JSON).
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Markdown's active punctuation anywhere on a line: emphasis, code, links, images, headings,
# tables, HTML (as entities below), autolinks (``:``), strike-through, math on GitHub ($) and
# footnotes (^); ``-``, ``+``, ``=`` and a number's ``.`` or ``)`` only at the start of a line
# (lists, rules, setext headings), where the text may land.
_MD_ACTIVE = re.compile(r"([\\`*_{}\[\]()#!|~$^:])")
_MD_START = re.compile(r"^([-+=])|^([0-9]+)([.)])")


def plain(text: object) -> str:
    """``text`` as one line: invisible characters dropped, whitespace runs one space."""
    return " ".join(_INVISIBLE.sub("", str(text)).split())


def md(text: object) -> str:
    """``text`` as literal Markdown on one line (also safe in a table cell or a heading)."""
    line = plain(text)
    line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    line = _MD_ACTIVE.sub(r"\\\1", line)
    return _MD_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", line)


def code(text: object, *, cell: bool = False) -> str:
    """``text`` as a Markdown code span, on one line; with ``cell`` for a table cell (GitHub
    splits cells at ``|`` even in code spans, so it is written ``\\|`` there)."""
    line = plain(text)
    if not line:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", line)), default=0)
    fence = "`" * (longest + 1)
    if line.startswith("`") or line.endswith("`") or longest:
        line = f" {line} "
    if cell:
        line = line.replace("|", "\\|")
    return f"{fence}{line}{fence}"


def code_cell(text: object) -> str:
    return code(text, cell=True)


def xml_text(text: object, limit: int | None = None) -> str:
    """``text`` for SVG: one line, at most ``limit`` display columns (then an ellipsis),
    escaped for element content and double-quoted attributes."""
    line = _NOT_XML.sub("", plain(text))
    if limit is not None and width(line) > limit:
        kept = ""
        for char in line:
            if width(kept + char) > limit - 1:
                break
            kept += char
        line = kept + "…"
    return (
        line.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def width(text: str) -> int:
    """Display columns of ``text`` in a monospace font: wide (CJK, emoji) characters count two,
    combining marks none."""
    total = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total
