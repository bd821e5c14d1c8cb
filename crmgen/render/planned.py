"""One planned output file of the generated app, and how its bytes are made.

``PlannedFile`` is plain data (a path in OUT, a template, a context); ``produce`` turns it into
bytes: a rendered template (Python checked for syntax) or bytes given as they are.
The plan (``crmgen.render.plan``), the deployment files (``crmgen.render.deployment``) and the writer
(``crmgen.render.writer``) all use this module, and it uses none of them.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, TemplateError, TemplateNotFound, TemplateSyntaxError

from crmgen.render.errors import GenerateError


@dataclass(frozen=True)
class PlannedFile:
    """One output file: its path inside OUT (POSIX, relative), its template and its context.

    A file with ``data`` (the runtime's wheel) is those bytes, not rendered.
    """

    path: str
    template: str
    context: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    data: bytes | None = field(default=None, hash=False, compare=False, repr=False)


def render(env: Environment, planned: PlannedFile) -> str:
    """The text of one planned file; template problems become a located ``GenerateError``."""
    try:
        return env.get_template(planned.template).render(planned.context)
    except TemplateSyntaxError as exc:
        where = f"{exc.filename or exc.name}:{exc.lineno}"
        raise GenerateError(f"{where}: template syntax error: {exc.message}") from exc
    except TemplateNotFound as exc:
        folders = ", ".join(str(p) for p in getattr(env.loader, "searchpath", []))
        raise GenerateError(
            f"template {exc.name!r} not found (looked in {folders}) while rendering {planned.path}"
        ) from exc
    except (TemplateError, GenerateError) as exc:
        raise GenerateError(
            f"{_template_frame(exc, planned)}: {exc} (rendering {planned.path})"
        ) from exc


def produce(env: Environment, planned: PlannedFile) -> bytes:
    """The bytes of one planned file: its ``data``, else rendered (Python syntax-checked)."""
    if planned.data is not None:
        return planned.data
    text = render(env, planned)
    if planned.path.endswith(".py"):
        try:
            compile(text, planned.path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise GenerateError(
                f"{planned.path}:{exc.lineno}: the template {planned.template} produced invalid "
                f"Python: {exc.msg}"
            ) from exc
    return text.encode("utf-8")


def _template_frame(exc: BaseException, planned: PlannedFile) -> str:
    """``file:line`` of the innermost template frame in ``exc``'s traceback."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".j2")]
    if frames:
        return f"{frames[-1].filename}:{frames[-1].lineno}"
    return planned.template
