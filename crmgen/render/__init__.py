"""The render stage: a spec model in, the files of the generated app out.

``environment`` (Jinja setup and the safe filters), ``plan`` (which files from which templates),
``relations`` (both sides of every relation), ``writer`` (render into a temporary folder and swap
it into OUT) and ``formatting`` (ruff format, or black).
"""

from __future__ import annotations

from crmgen.render.environment import make_environment
from crmgen.render.errors import GenerateError
from crmgen.render.plan import PlannedFile, build_plan
from crmgen.render.writer import write_plan

__all__ = ["GenerateError", "PlannedFile", "build_plan", "make_environment", "write_plan"]
