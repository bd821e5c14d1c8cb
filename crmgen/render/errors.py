"""The one error the render stage raises: a problem the user can fix (a template, an OUT folder)."""

from __future__ import annotations


class GenerateError(Exception):
    """Rendering, formatting or writing the app failed; the message says where and why.

    OUT is never touched when this is raised: everything happens in a temporary folder first.
    """
