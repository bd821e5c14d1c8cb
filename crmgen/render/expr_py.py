"""Checked spec expressions compiled to Python source for the generated app.

The spec layer has already parsed and checked each expression against a whitelist of syntax and
known names (crmgen/language/expressions.py); this module rewrites that same tree into Python that
calls the app's ``functions`` module (imported as ``fn``) for every built-in function, turns
decimal literals into ``Decimal`` (money stays exact) and emits it with ``ast.unparse``, so no
spec text is ever pasted into code. The generated code evaluates it through ``fn.evaluate``,
which turns a missing input (``None + 1``) into an empty result instead of an error. A field is read
through its model attribute (``record.from`` -> ``record.from_``, see ``names.attribute``).
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable

from crmgen.language.expressions import FUNCTIONS, Expression, index_of, parse
from crmgen.language.names import attribute
from crmgen.render.errors import GenerateError

# Spec function -> name in the app's functions module (kept clear of Python's builtins).
RUNTIME_NAMES = {
    name: f"{name}_" if hasattr(builtins, name) or name == "date" else name for name in FUNCTIONS
}

AttributeRewrite = Callable[[str, str], ast.expr | None]


def python_source(
    expression: Expression,
    attribute: AttributeRewrite | None = None,
    names: dict[str, str] | None = None,
) -> str:
    """Python source for ``expression``.

    ``attribute(root, name)`` may replace ``root.name`` (e.g. ``user.position`` ->
    ``user.extra.get('position')``); return None to keep it. ``names`` renames variables
    (a process's local that would clash with a name of the generated module).
    """
    tree = parse(expression.source)
    return ast.unparse(_Rewrite(attribute, names).visit(tree).body)


class _Rewrite(ast.NodeTransformer):
    def __init__(
        self, attribute: AttributeRewrite | None, names: dict[str, str] | None = None
    ) -> None:
        self.attribute = attribute
        self.names = names or {}

    def visit_Name(self, node: ast.Name) -> ast.AST:
        renamed = self.names.get(node.id)
        if renamed is not None and renamed != node.id:
            return ast.copy_location(ast.Name(renamed, node.ctx), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        node.args = [self.visit(a) for a in node.args]
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise GenerateError(f"cannot compile the call in {ast.unparse(node)!r}")
        args = list(node.args)
        if node.func.id == "has_role":  # reads the signed-in user
            args.insert(0, ast.Name("user", ast.Load()))
        return ast.Call(_fn(RUNTIME_NAMES[node.func.id]), args, [])

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, float):
            return ast.Call(_fn("decimal"), [ast.Constant(repr(node.value))], [])
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        """``x[0]`` -> ``fn.item(x, 0)``: None when there is no such element."""
        value = self.visit(node.value)
        key = index_of(node.slice)
        if key is None:
            raise GenerateError(f"cannot compile the index in {ast.unparse(node)!r}")
        return ast.Call(_fn("item"), [value, ast.Constant(key)], [])

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if self.attribute is not None and isinstance(node.value, ast.Name):
            replaced = self.attribute(node.value.id, node.attr)
            if replaced is not None:
                return replaced
        node.attr = attribute(node.attr)  # a field named ``from`` is the attribute ``from_``
        return node


def _fn(name: str) -> ast.Attribute:
    return ast.Attribute(ast.Name("fn", ast.Load()), name, ast.Load())


def user_attribute(builtin: tuple[str, ...]) -> AttributeRewrite:
    """``user.x`` for the spec's extra User fields reads ``user.extra``; built-ins stay."""

    def rewrite(root: str, name: str) -> ast.expr | None:
        if root != "user" or name in builtin:
            return None
        extra = ast.Attribute(ast.Name("user", ast.Load()), "extra", ast.Load())
        return ast.Call(ast.Attribute(extra, "get", ast.Load()), [ast.Constant(name)], [])

    return rewrite
