"""The web UI's files and the documents' fonts: the runtime's own, under an app's overrides.

The runtime carries the page templates (``web/templates``), the static files (``web/static``),
the UI's words (``web/messages``, one JSON file per part of the UI: ``{key: {locale: text}}``)
and the PDF fonts (``fonts``, DejaVu Sans with its licence). An app may put files of the same
names in its own ``templates/``, ``static/`` and ``messages/`` folders, and in those of its
custom code (``custom/templates/`` ..., which win over both): a template or static file there
replaces the runtime's of that name, and a message there replaces that key's texts. A plugin
field type's package may bring ``templates/`` and ``messages/`` too (its form widget and its
words, ``crmgen_runtime.fields.FieldType.assets``): they come after the app's, before the
runtime's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import jinja2
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

ROOT = Path(__file__).resolve().parent
WEB = ROOT / "web"
FONTS = ROOT / "fonts"
FOLDERS = ("templates", "static", "messages")
CUSTOM = "custom"  # the app's own code, whose files win over the generated ones
# Third-party files shipped in versioned folders (``static/vendor/<package>-<version>/``,
# ``web/vendor.json``): a new version is a new URL, so browsers may keep them for a year.
VENDOR = "vendor/"
IMMUTABLE = "public, max-age=31536000, immutable"


def folders(name: str, app: Path | None, plugins: Sequence[Path] = ()) -> list[Path]:
    """Where files of kind ``name`` are looked for, first match wins: the app's custom code
    (``custom/<name>``, copied from beside the spec), the app's, the ``plugins`` folders (the
    field types' packages, ``crmgen_runtime.fields.asset_folders``), the runtime's."""
    own = [app / CUSTOM / name, app / name] if app is not None else []
    return [*(folder for folder in own if folder.is_dir()), *plugins, WEB / name]


def template_loader(app: Path | None = None, plugins: Sequence[Path] = ()) -> jinja2.BaseLoader:
    """The page templates: the app's ``templates/`` first, then the plugins', the runtime's."""
    return jinja2.FileSystemLoader([str(p) for p in folders("templates", app, plugins)])


def static_files(app: Path | None = None) -> StaticFiles:
    """The ``/static`` files: the app's own (``custom/static/``, ``static/``) first, then the
    runtime's."""
    return LayeredStaticFiles(folders("static", app))


class LayeredStaticFiles(StaticFiles):
    """``StaticFiles`` over several folders, the first that has a file wins (Starlette's own
    takes one folder and packages). Files below ``vendor/`` are cached for a year
    (``IMMUTABLE``); the rest keep Starlette's validation by ETag and date."""

    def __init__(self, directories: list[Path]) -> None:
        super().__init__(directory=str(directories[0]))
        self.all_directories = [str(folder) for folder in directories]

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if path.replace("\\", "/").startswith(VENDOR) and response.status_code in (200, 304):
            response.headers["Cache-Control"] = IMMUTABLE
        return response


def static_file(name: str, app: Path | None = None) -> bytes:
    """The bytes of one static file (the app's copy when it has one)."""
    for folder in folders("static", app):
        if (folder / name).is_file():
            return (folder / name).read_bytes()
    raise FileNotFoundError(name)


def messages(app: Path | None = None, plugins: Sequence[Path] = ()) -> dict[str, dict[str, str]]:
    """The UI's words, ``{locale: {key: text}}``: the runtime's, then the plugins' and the
    app's over them."""
    merged: dict[str, dict[str, str]] = {}
    for folder in reversed(folders("messages", app, plugins)):
        for file in sorted(folder.glob("*.json")):
            for key, texts in json.loads(file.read_text(encoding="utf-8")).items():
                for locale, text in texts.items():
                    merged.setdefault(locale, {})[key] = text
    return merged


def web_files(app: Path | None = None) -> dict[str, Path]:
    """Every template and static file an app serves, ``{"static/app.css": path, ...}``, each
    name resolved the way the app resolves it (for a proxy or a CDN)."""
    files: dict[str, Path] = {}
    for name in ("templates", "static"):
        for folder in reversed(folders(name, app)):
            for path in folder.rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts:
                    files[f"{name}/{path.relative_to(folder).as_posix()}"] = path
    return dict(sorted(files.items()))
