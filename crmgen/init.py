"""``crmgen init``: a starter spec that validates and publishes as it is, and its ``custom/``
folder with commented examples of the app's own code."""

from __future__ import annotations

import json
from pathlib import Path

import click
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from crmgen.bundled import templates_dir
from crmgen.language.custom_code import FOLDER as CUSTOM
from crmgen.language.names import name_problem, snake_case
from crmgen.language.schema import spec_schema

STARTER = "crm.yaml"
SCHEMA_FILE = "crmgen-schema.json"  # the starter's first line points editors at it


def write_starter(directory: Path, name: str | None, force: bool) -> Path:
    app_name = name or snake_case(directory.resolve().name).replace("-", "_").strip("_") or "crm"
    if name_problem(app_name, "app"):
        if name:
            raise click.ClickException(name_problem(app_name, "app") or "")
        app_name = "crm"
    target = directory / STARTER
    if target.exists() and not force:
        raise click.ClickException(f"{target} already exists (use --force to overwrite)")
    env = Environment(
        loader=FileSystemLoader(templates_dir() / "init"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    text = env.get_template("crm.yaml.j2").render(name=app_name)
    directory.mkdir(parents=True, exist_ok=True)
    _write_atomic(target, text)
    _write_atomic(
        directory / SCHEMA_FILE, json.dumps(spec_schema(), indent=2, ensure_ascii=False) + "\n"
    )
    write_custom_starter(directory)
    return target


def write_custom_starter(directory: Path) -> list[Path]:
    """The custom folder beside the spec (``custom/``) with commented examples, each file
    written only when it is not there yet (custom code is the user's: never overwritten)."""
    folder = directory / CUSTOM
    written = []
    for source in sorted((templates_dir() / "init" / CUSTOM).glob("*.py")):
        target = folder / source.name
        if not target.exists():
            folder.mkdir(parents=True, exist_ok=True)
            _write_atomic(target, source.read_text(encoding="utf-8"))
            written.append(target)
    return written


def _write_atomic(target: Path, text: str) -> None:
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
