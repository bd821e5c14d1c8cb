"""The Jinja environment that renders the app: template search path, filters and globals.

Templates are looked up file by file in the user's override folder first, then in the built-in
``templates/`` folder, so an override replaces only the files it contains (like JHipster
blueprints). Spec strings reach generated Python only through the ``py`` filter (a ``repr``-safe
literal) and names only through ``ident`` (which refuses anything that is not a plain identifier),
so no label, quote or brace in a spec can change the meaning of the generated code.
"""

from __future__ import annotations

import hashlib
import json
import keyword
import math
import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

from jinja2 import BytecodeCache, Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.bccache import Bucket
from jinja2.runtime import Context

from crmgen.bundled import templates_dir
from crmgen.language.fields import FieldType, field_type
from crmgen.language.names import attribute, snake_case
from crmgen.language.text import Text
from crmgen.render.errors import GenerateError
from crmgen.render.markdown import code, code_cell, md

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# PostgreSQL truncates identifiers to 63 bytes; SQLAlchemy refuses longer explicit names.
MAX_DB_NAME = 63


def search_path(override: str | Path | None = None) -> list[Path]:
    """The folders templates are read from, first match wins."""
    folders = [templates_dir()]
    if override is not None:
        folder = Path(override)
        if not folder.is_dir():
            raise GenerateError(f"template folder {folder} does not exist or is not a folder")
        folders.insert(0, folder)
    return folders


class _CompiledTemplates(BytecodeCache):
    """The templates' compiled code, kept for the life of the process: every environment made
    here has the same settings, and a bucket is keyed by the template's file and checked
    against its source, so an edited or overriding template is compiled afresh. Compiling the
    app's templates took a quarter of each ``generate`` (``crmgen serve`` regenerates on every
    save of the spec)."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


def make_environment(override: str | Path | None = None) -> Environment:
    """A strict environment over the override folder (if any) and the built-in templates."""
    env = Environment(
        loader=FileSystemLoader([str(p) for p in search_path(override)]),
        bytecode_cache=_COMPILED,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=lambda name: name is not None and name.endswith((".html", ".html.j2")),
    )
    env.filters.update(
        py=py_literal,
        ident=identifier,
        snake=snake_case,
        attr=attribute,
        oneline=oneline,
        toml=toml_string,
        dbname=db_name,
        tr=translate,
        docstring=docstring,
        json=json_value,
        field_type=type_of,
        md=md,
        code=code,
        code_cell=code_cell,
    )
    env.globals.update(fail=fail, column_imports=column_imports)
    return env


def type_of(field: Any) -> FieldType:
    """The registered type object of a field or a type name (``f|field_type``): templates read
    it, never a list of type names."""
    name = field if isinstance(field, str) else field.type
    try:
        return field_type(name)
    except KeyError as exc:
        raise GenerateError(f"{getattr(field, 'name', name)}: {exc.args[0]}") from None


def column_imports(type_names: list[str]) -> dict[str, list[str]]:
    """The import lines the columns of these field types need, sorted, by section: ``stdlib``,
    ``third_party`` (beside sqlalchemy's) and ``runtime`` (crmgen_runtime's)."""
    sections: dict[str, set[str]] = {"stdlib": set(), "third_party": set(), "runtime": set()}
    for name in type_names:
        for line in field_type(name).imports:
            top = line.split()[1].split(".")[0]
            section = (
                "runtime"
                if top == "crmgen_runtime"
                else "stdlib"
                if top in sys.stdlib_module_names
                else "third_party"
            )
            sections[section].add(line)
    return {key: sorted(lines) for key, lines in sections.items()}


def json_value(value: Any) -> str:
    """``value`` as JSON (exec-form command lists in Dockerfiles and YAML)."""
    return json.dumps(value, ensure_ascii=False)


def py_literal(value: Any) -> str:
    """``value`` as Python source that evaluates back to it; text is never pasted raw.

    Strings prefer double quotes (as black writes them) when that needs no extra escapes.
    """
    if isinstance(value, Text):
        raise GenerateError("a Text reached the py filter: pick a locale first (e.g. label|tr)")
    if isinstance(value, str):
        literal = repr(value)
        return f'"{literal[1:-1]}"' if '"' not in value else literal
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise GenerateError(f"{value!r} cannot be written as a Python literal")
        return repr(value)
    if isinstance(value, Decimal):
        return f"Decimal({py_literal(str(value))})"
    if isinstance(value, (tuple, list)):
        items = [py_literal(v) for v in value]
        if isinstance(value, list):
            return "[" + ", ".join(items) + "]"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, dict):
        pairs = [f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items()]
        return "{" + ", ".join(pairs) + "}"
    raise GenerateError(f"cannot write a {type(value).__name__} as a Python literal: {value!r}")


def docstring(value: str) -> str:
    """A one-line docstring: triple-quoted when the text allows, else a safe literal."""
    text = oneline(value)
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"""{text}"""'
    return py_literal(text)


def identifier(value: Any) -> str:
    """``value`` unchanged when it is a plain Python identifier (validated names are); else fail."""
    if not isinstance(value, str) or not IDENTIFIER.match(value) or keyword.iskeyword(value):
        raise GenerateError(
            f"{value!r} is not a valid Python identifier; it cannot name generated code"
        )
    return value


def oneline(value: str) -> str:
    """Whitespace (newlines included) collapsed to single spaces: for docstrings and headings."""
    return " ".join(str(value).split())


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(str(value), ensure_ascii=False)


def db_name(value: str) -> str:
    """A database object name that fits PostgreSQL: long names keep a stable hash suffix."""
    if len(value) <= MAX_DB_NAME:
        return value
    digest = hashlib.sha1(value.encode()).hexdigest()[:8]
    return f"{value[: MAX_DB_NAME - 9]}_{digest}"


def fail(message: str) -> NoReturn:
    """Stop rendering with ``message`` (templates call it for cases they cannot handle)."""
    raise GenerateError(message)


@pass_context
def translate(context: Context, text: Text, locale: str | None = None) -> str:
    """A ``Text`` in ``locale`` (default: the app's default locale), falling back as Text does."""
    app = context["app"]
    return text.get(locale or app.default_locale, app.default_locale)
