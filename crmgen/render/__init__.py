"""The render stage: a spec model in, the files of the generated app out.

``environment`` (Jinja setup and the safe filters), ``plan`` (which files from which templates),
``planned`` (one planned file and its bytes), ``relations`` (both sides of every relation),
``writer`` (``Staging``: render into a folder beside OUT and swap it in), ``marker`` (the files
crmgen owns in OUT and their digests) and ``formatting`` (ruff format, or black), ``custom_copy`` (the spec's ``custom/`` into the app).
"""

from __future__ import annotations

from crmgen.render.custom_copy import copy_custom
from crmgen.render.environment import make_environment
from crmgen.render.errors import GenerateError, HandEdited
from crmgen.render.plan import build_plan
from crmgen.render.planned import PlannedFile
from crmgen.render.writer import HandEditPolicy, Staging

__all__ = [
    "GenerateError",
    "HandEditPolicy",
    "HandEdited",
    "PlannedFile",
    "Staging",
    "build_plan",
    "copy_custom",
    "make_environment",
]
