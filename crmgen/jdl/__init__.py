"""``crmgen import jdl``: a JHipster JDL file converted into a crmgen spec folder
(see ../../docs/import-jdl.md)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmgen.jdl.convert import ConversionError, Note, convert
from crmgen.jdl.parser import JdlError, parse_jdl

SPEC_FILE = "crm.yaml"


class ImportFailure(Exception):
    """Bad JDL or an existing folder: one printable line."""


@dataclass
class Imported:
    path: Path  # the spec file written
    notes: list[Note]


def import_jdl(source: Path, out: Path, force: bool = False) -> Imported:
    """Convert the JDL file ``source`` into ``out``/crm.yaml. A non-empty ``out`` is refused
    unless ``force`` (then only crm.yaml is replaced)."""
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ImportFailure(f"{source}: cannot read: {error}") from error
    try:
        model = parse_jdl(text)
        conversion = convert(model, source.stem)
    except (JdlError, ConversionError) as error:
        raise ImportFailure(
            f"{source}:{error.line}:{error.column}: error: {error.message}"
        ) from error
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise ImportFailure(f"{out} exists and is not empty (use --force to replace {SPEC_FILE})")
    if out.exists() and not out.is_dir():
        raise ImportFailure(f"{out} is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    target = out / SPEC_FILE
    header = f"# Imported from {source.name} by `crmgen import jdl`.\n"
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(header + to_yaml(conversion.spec), encoding="utf-8")
    tmp.replace(target)
    return Imported(target, conversion.notes)


def to_yaml(data: dict[str, Any]) -> str:
    """The spec as block YAML, each field on one line in flow style."""
    lines: list[str] = []
    _block(data, 0, lines)
    return "\n".join(lines) + "\n"


def _block(data: dict[str, Any], indent: int, lines: list[str]) -> None:
    pad = "  " * indent
    for key, value in data.items():
        inline = indent >= 3 or not isinstance(value, dict) or not value
        if key in ("list",) and isinstance(value, dict):
            inline = True
        if inline:
            lines.append(f"{pad}{_scalar(key)}: {_flow(value)}")
        else:
            if indent == 0 and lines:
                lines.append("")
            lines.append(f"{pad}{_scalar(key)}:")
            _block(value, indent + 1, lines)


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_/]*([ .\-][A-Za-z0-9_/]+)*")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text, ensure_ascii=False)
