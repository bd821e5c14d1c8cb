"""crmgen's import graph, read from the source (ast): no cycle between ``crmgen.render`` modules,
no module reaching for another module's private names, and the writer's modules importable alone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "crmgen"


def module_files() -> dict[str, Path]:
    """Every module of crmgen by dotted name (a package by its ``__init__.py``)."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = module_files()


def source(name: str) -> str:
    return MODULES[name].read_text(encoding="utf-8")


def imports(name: str, text: str | None = None) -> list[tuple[str, str | None]]:
    """``(module, imported name or None)`` for every crmgen import in module ``name``.

    ``from crmgen.render import api`` gives ``("crmgen.render.api", None)`` (a submodule);
    ``from crmgen.render import Staging`` gives ``("crmgen.render", "Staging")``. Imports inside
    functions count too.
    """
    found: list[tuple[str, str | None]] = []
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source(name) if text is None else text)):
        if isinstance(node, ast.Import):
            found += [(a.name, None) for a in node.names if a.name.split(".")[0] == "crmgen"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            if base.split(".")[0] != "crmgen":
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append((submodule, None) if submodule in MODULES else (base, alias.name))
    return found


def private_uses(name: str, text: str | None = None) -> list[str]:
    """Private names of other crmgen modules that module ``name`` imports or reads."""
    text = source(name) if text is None else text
    problems = []
    aliases: dict[str, str] = {}
    for module, imported in imports(name, text):
        if imported is None:
            aliases[module.rpartition(".")[2]] = module
        elif imported.startswith("_") and not imported.startswith("__") and module != name:
            problems.append(f"{name}: from {module} import {imported}")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom | ast.Import):
            for alias in node.names:
                full = f"{node.module}.{alias.name}" if isinstance(node, ast.ImportFrom) else None
                if alias.asname and (full in MODULES or alias.name in MODULES):
                    aliases[alias.asname] = full if full in MODULES else alias.name
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            problems.append(f"{name}: {aliases[node.value.id]}.{node.attr}")
    return problems


def render_graph() -> dict[str, set[str]]:
    """Edges between the modules of ``crmgen.render`` (its package ``__init__`` left out: a
    re-export facade that Python runs before any of its modules anyway)."""
    inside = {m for m in MODULES if m.startswith("crmgen.render.")}
    graph: dict[str, set[str]] = {m: set() for m in inside}
    for name in inside:
        for module, _ in imports(name):
            if module in inside and module != name:
                graph[name].add(module)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One path for each cycle found by a depth-first walk."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                found.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_graph_reader_sees_a_cycle_and_a_private_import() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert ("crmgen.render.planned", "PlannedFile") in imports("crmgen.render.deployment")
    assert ("crmgen.render.deployment", None) in imports("crmgen.render.plan")
    bad = "from crmgen.render import writer\nfrom crmgen.language.build_entities import _x\nwriter._swap\n"
    assert private_uses("crmgen.publish.swap", bad) == [
        "crmgen.publish.swap: from crmgen.language.build_entities import _x",
        "crmgen.publish.swap: crmgen.render.writer._swap",
    ]


def test_no_cycle_between_render_modules() -> None:
    assert cycles(render_graph()) == []


def test_no_module_uses_a_private_name_of_another() -> None:
    assert [p for name in sorted(MODULES) for p in private_uses(name)] == []


@pytest.mark.parametrize(
    "module",
    [
        "crmgen.render.planned",
        "crmgen.render.marker",
        "crmgen.render.writer",
        "crmgen.render.plan",
        "crmgen.render.deployment",
        "crmgen.publish.render_app",
        "crmgen.publish.swap",
    ],
)
def test_each_writer_module_imports_alone(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
        check=False,
    )
    assert done.returncode == 0, done.stderr
