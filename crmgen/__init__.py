"""crmgen: a declarative YAML spec in, a complete runnable CRM out.

The Python API mirrors the command line: ``crmgen.validate(path)`` checks a spec and returns its
diagnostics, ``crmgen.load(path)`` returns the typed model (or raises ``SpecError``).
"""

from __future__ import annotations

from pathlib import Path

from crmgen.diagnostics import Diagnostic, SpecError
from crmgen.language import check_spec, load_spec
from crmgen.language.model import Spec

__version__ = "0.1.0"


def validate(path: str | Path) -> list[Diagnostic]:
    """Every problem in the spec at ``path`` (errors and warnings), sorted by position."""
    return check_spec(path)[1]


def load(path: str | Path) -> Spec:
    """The typed, immutable model of the spec at ``path``; raises ``SpecError`` on errors."""
    return load_spec(path)


__all__ = ["Diagnostic", "Spec", "SpecError", "__version__", "load", "validate"]
