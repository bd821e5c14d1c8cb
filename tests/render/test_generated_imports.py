"""The generated app and the runtime use only each other's public names.

``examples/crm`` is generated once (``tests.security.crm.crm_out``); every module of the
generated package and of ``crmgen_runtime`` is read with ``ast``, and a private name of another
of these modules (``from m import _x``, or ``mod._x`` where ``mod`` is an imported module) fails
the test. Dunder names (``__version__``) are public.
"""

from __future__ import annotations

import ast
from pathlib import Path

import crmgen_runtime
import pytest

from tests.security.crm import PACKAGE, crm_out

RUNTIME = Path(crmgen_runtime.__file__).resolve().parent


def modules_of(root: Path, package: str) -> dict[str, Path]:
    """Every module under ``root`` (the folder of ``package``) by dotted name."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses(
    name: str, path: Path, modules: dict[str, Path], text: str | None = None
) -> list[str]:
    """The private names of other modules of ``modules`` that module ``name`` imports or reads."""
    tree = ast.parse(path.read_text(encoding="utf-8") if text is None else text)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    aliases: dict[str, str] = {}  # a local name -> the module it stands for
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in modules:
                    aliases[alias.asname or alias.name] = submodule
                elif base in modules and base != name and private(alias.name):
                    problems.append(f"{name}: from {base} import {alias.name}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and aliases[node.value.id] != name
            and private(node.attr)
        ):
            problems.append(f"{name}: {aliases[node.value.id]}.{node.attr}")
    return sorted(set(problems))


def test_the_reader_sees_both_kinds_of_private_use(tmp_path: Path) -> None:
    modules = {"app": tmp_path, "app.crud": tmp_path / "crud.py", "app.web": tmp_path / "web.py"}
    text = (
        "from app import crud\nfrom app.crud import _live, public\nimport app.web as w\n"
        "crud._record_id(1)\nw._page\ncrud.__name__\nself._own\n"
    )
    assert private_uses("app.processes", tmp_path / "processes.py", modules, text) == [
        "app.processes: app.crud._record_id",
        "app.processes: app.web._page",
        "app.processes: from app.crud import _live",
    ]


def test_no_generated_or_runtime_module_uses_a_private_name_of_another(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    out = crm_out(tmp_path_factory)
    modules = {
        **modules_of(out / PACKAGE, PACKAGE),
        **modules_of(RUNTIME, "crmgen_runtime"),
    }
    modules = {n: p for n, p in modules.items() if ".tests" not in n and ".migrations" not in n}
    assert len(modules) > 30
    problems = [
        p for name, path in sorted(modules.items()) for p in private_uses(name, path, modules)
    ]
    assert problems == []
