"""The one error the render stage raises: a problem the user can fix (a template, an OUT folder)."""

from __future__ import annotations


class GenerateError(Exception):
    """Rendering, formatting or writing the app failed; the message says where and why.

    OUT is never touched when this is raised: everything happens in a temporary folder first.
    """


class HandEdited(GenerateError):
    """Generated files in OUT were changed by hand since crmgen wrote them; OUT is unchanged."""

    def __init__(self, out: object, files: list[str]) -> None:
        self.files = files
        listing = "".join(f"\n  {path}" for path in files)
        super().__init__(
            f"{out}: {len(files)} generated file(s) changed by hand since crmgen wrote them:"
            f"{listing}\n{out} is unchanged. Regenerating would replace them: put custom code "
            "beside the spec in custom/ (see docs/extending.md), or run again with --force to "
            "overwrite them and keep each edited copy as FILE.orig beside the new file."
        )
