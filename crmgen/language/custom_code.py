"""The app's own code beside the spec: the ``custom/`` package folder.

A spec folder ``SPEC/`` has it as ``SPEC/custom/``; a single spec file ``crm.yaml`` has it beside
the file (``custom/``). ``generate``, ``serve`` and ``publish`` copy it into the app as
``PKG/custom/`` byte for byte; crmgen never writes to it. What the app picks up from it, by
module name (see docs/extending.md): ``hooks.py`` (``register(events)``), ``routes.py``
(``routes``), ``middleware.py`` (``middleware``), ``templates/`` and ``static/``, and any
function a process step ``call: custom.<module>.<function>`` names.

Validation reads the source (``ast``) and never imports it: the code may need the generated app
to import, and checking a spec must not run anyone's code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from crmgen.diagnostics import did_you_mean

FOLDER = "custom"
SKIPPED = ("__pycache__",)
# Modules the generated app imports when they are there, with what each must define.
WIRED = {"hooks": "register", "routes": "routes", "middleware": "middleware"}


def custom_folder(spec: Path) -> Path:
    """Where the custom code of the spec at ``spec`` lives (it may not exist)."""
    return (spec if spec.is_dir() else spec.parent) / FOLDER


@dataclass(frozen=True)
class CustomCode:
    """The custom folder of one spec: its absolute path and its files (POSIX, relative, sorted)."""

    folder: Path
    files: tuple[str, ...]

    def module_file(self, dotted: str) -> str | None:
        """The file of module ``dotted`` (``pricing`` or ``deals.pricing``), if the folder has it."""
        base = dotted.replace(".", "/")
        for name in (f"{base}.py", f"{base}/__init__.py"):
            if name in self.files:
                return name
        return None

    def has_module(self, dotted: str) -> bool:
        return self.module_file(dotted) is not None

    @property
    def wired(self) -> tuple[str, ...]:
        """The modules of ``WIRED`` this folder has (``hooks``, ``routes``, ``middleware``)."""
        return tuple(name for name in WIRED if self.has_module(name))

    def read(self, name: str) -> bytes:
        return (self.folder / name).read_bytes()


def find_custom(spec: Path) -> CustomCode | None:
    """The custom folder of the spec at ``spec``, or None when there is none."""
    folder = custom_folder(spec).resolve()
    if not folder.is_dir():
        return None
    files = sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file()
        and not any(part in SKIPPED for part in path.relative_to(folder).parts)
        and path.suffix != ".pyc"
    )
    return CustomCode(folder, tuple(files))


@dataclass(frozen=True)
class Signature:
    """What the source says about one top-level function: its parameter names, how many it
    takes by position (``*args``: any), whether it takes any keyword (``**kwargs``)."""

    parameters: tuple[str, ...]
    any_keyword: bool
    line: int
    asynchronous: bool = False
    positional: int = 0
    any_positional: bool = False

    def accepts(self, name: str) -> bool:
        return self.any_keyword or name in self.parameters


def functions(source: bytes) -> dict[str, Signature] | str:
    """The top-level functions of a module's source, by name, or why the source cannot be read."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except ValueError as exc:  # null bytes
        return str(exc)
    found: dict[str, Signature] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
            found[node.name] = Signature(
                tuple(names),
                args.kwarg is not None,
                node.lineno,
                isinstance(node, ast.AsyncFunctionDef),
                len(args.posonlyargs) + len(args.args),
                args.vararg is not None,
            )
    return found


def find_function(custom: CustomCode | None, module: str, function: str) -> Signature | str:
    """The signature of ``function`` in ``custom/<module>``, read from its source, or why a
    step cannot call it (a sentence for the diagnostic)."""
    if custom is None:
        return (
            f"the spec has no custom folder: write the function in {FOLDER}/"
            f"{module.replace('.', '/')}.py beside the spec"
        )
    name = custom.module_file(module)
    if name is None:
        modules = [
            f.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
            for f in custom.files
            if f.endswith(".py")
        ]
        hint = did_you_mean(module, modules)
        return f"no module {FOLDER}/{module.replace('.', '/')}.py beside the spec{hint}"
    found = functions(custom.read(name))
    if isinstance(found, str):
        return f"{FOLDER}/{name} cannot be read: {found}"
    if function not in found:
        hint = did_you_mean(function, found)
        return f"{FOLDER}/{name} defines no top-level function '{function}'{hint}"
    return found[function]
