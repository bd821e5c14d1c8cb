"""Located problems found in a spec, and how they are printed."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Position:
    """Where a node starts in a spec file (1-based line and column)."""

    file: str
    line: int
    column: int


NOWHERE = Position("<spec>", 1, 1)

# Characters that end a line for str.splitlines (and so for tools reading our output).
_ESCAPE_BREAKS = str.maketrans({c: repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"})


@dataclass(frozen=True)
class Diagnostic:
    """One problem: where it is, how bad it is, a stable code and a message for people."""

    position: Position
    severity: Severity
    code: str
    message: str

    def format_text(self) -> str:
        """One line, always: line breaks inside names or values quoted in it are escaped."""
        p = self.position
        return f"{p.file}:{p.line}:{p.column}: {self.severity}: {self.message}".translate(
            _ESCAPE_BREAKS
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.position.file,
            "line": self.position.line,
            "column": self.position.column,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }


class SpecError(Exception):
    """Raised when a spec has errors; carries every diagnostic found (warnings too)."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sort_diagnostics(diagnostics)
        errors = [d for d in self.diagnostics if d.severity == "error"]
        first = errors[0].format_text() if errors else "spec has errors"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(first + more)


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """File order, then line and column; duplicates removed."""
    unique = dict.fromkeys(diagnostics)
    return sorted(unique, key=lambda d: (d.position, d.severity, d.code, d.message))


def render_text(diagnostics: Iterable[Diagnostic]) -> str:
    return "".join(d.format_text() + "\n" for d in diagnostics)


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    return json.dumps([d.as_dict() for d in diagnostics], ensure_ascii=False, indent=2) + "\n"


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A hint like "; did you mean 'label'?", or "" when nothing is close."""
    pool = sorted(set(candidates))
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return f"; did you mean '{lowered[word.lower()]}'?"
    scored = [(edit_distance(word.lower(), c.lower()), c) for c in pool]
    limit = max(1, min(3, len(word) // 3))
    close = sorted(
        (d, -difflib.SequenceMatcher(None, word, c).ratio(), c) for d, c in scored if d <= limit
    )
    if close:
        return f"; did you mean '{close[0][2]}'?"
    matches = difflib.get_close_matches(word, pool, n=1, cutoff=0.75)
    return f"; did you mean '{matches[0]}'?" if matches else ""


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, transpositions."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


__all__ = [
    "NOWHERE",
    "Diagnostic",
    "Position",
    "Severity",
    "SpecError",
    "did_you_mean",
    "render_json",
    "render_text",
    "sort_diagnostics",
]
