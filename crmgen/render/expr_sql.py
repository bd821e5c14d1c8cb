"""Record rules as SQL: a checked ``where`` expression compiled into SQLAlchemy source text.

A permission rule such as ``record.sales_order.owner == user`` is checked by the spec loader
(names, fields, syntax); here its AST is walked once more, at generation time, and written as
Python source that builds a SQLAlchemy expression in the generated app::

    models.OrderLine.sales_order.has(models.Order.owner_id == user.id)

``record.field`` becomes a column of the model, ``record.ref.field`` an ``EXISTS`` through the
relationship (``has``), ``user`` / ``user.field`` values bound from the ``CurrentUser`` of the
request (its extra User fields included). Comparisons follow Python's meaning of ``None``:
``record.stage != 'lost'`` keeps records without a stage. A decimal column compared with
another column goes first, so that the app's exact decimals compare both in one unit. Anything else (arithmetic, function
calls other than ``has_role``) raises a ``GenerateError`` that names the expression.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from crmgen.language.model import Entity, Spec
from crmgen.render.errors import GenerateError

USER = "User"
# Attributes of ``user`` that CurrentUser has itself; other User fields live in ``user.extra``.
USER_ATTRIBUTES = ("id", "email", "name")
SYSTEM_COLUMNS = {
    "id": "integer",
    "version": "integer",
    "created_at": "datetime",
    "updated_at": "datetime",
}
_COMPARE = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
DECIMALS = ("decimal", "money")


@dataclass(frozen=True)
class _Sql:
    """SQL source text: a column of a model (``column``) or a condition."""

    source: str
    type: str = ""  # the field type of a column ("boolean" for conditions)
    entity: str | None = None  # a record of this entity: the root, or a reference (its id column)
    path: tuple[tuple[str, str], ...] = ()  # (model, relationship) hops to reach the column's table
    hop: tuple[str, str] | None = None  # a reference column: the relationship that follows it
    column: bool = False


@dataclass(frozen=True)
class _Py:
    """A Python value known when the request runs (a constant, or a value of the user)."""

    source: str
    entity: str | None = None  # the user, or a reference of the user: source is the id
    none: bool = False  # the constant None


_Node = _Sql | _Py


def compile_where(spec: Spec, entity: Entity, source: str, models: str = "models") -> str:
    """Python source of a SQLAlchemy boolean expression for ``source`` on ``entity``.

    The source reads the names ``user`` (a ``CurrentUser``), ``sa`` (sqlalchemy) and
    ``models`` (the generated models module).
    """
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:  # the loader checked it; this is a safety net
        raise GenerateError(
            f"{entity.name}: cannot compile the rule {source!r}: {exc.msg}"
        ) from exc
    compiler = _Compiler(spec, entity, source, models)
    return compiler.boolean(compiler.visit(tree.body))


class _Compiler:
    def __init__(self, spec: Spec, entity: Entity, source: str, models: str) -> None:
        self.spec = spec
        self.root = entity
        self.source = source
        self.models = models

    def fail(self, why: str) -> GenerateError:
        return GenerateError(
            f"{self.root.name}: the permission rule {self.source!r} cannot be compiled to SQL: {why}"
        )

    def visit(self, node: ast.AST) -> _Node:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            raise self.fail(f"{type(node).__name__} is not supported in record rules")
        return method(node)  # type: ignore[no-any-return]

    # -- values -------------------------------------------------------------------------------
    def visit_Constant(self, node: ast.Constant) -> _Node:
        if not isinstance(node.value, (str, int, float, bool, type(None))):
            raise self.fail(f"the constant {node.value!r} is not supported")
        return _Py(repr(node.value), none=node.value is None)

    def visit_Name(self, node: ast.Name) -> _Node:
        if node.id == "record":
            model = f"{self.models}.{self.root.name}"
            return _Sql(f"{model}.id", "integer", self.root.name, column=True)
        if node.id == "user":
            return _Py("user.id", entity=USER)
        raise self.fail(f"the name '{node.id}' is not available in record rules")

    def visit_Attribute(self, node: ast.Attribute) -> _Node:
        base = self.visit(node.value)
        if base.entity is None:
            raise self.fail(f"'.{node.attr}' is read from a value that is not a record")
        if isinstance(base, _Py):
            return self.user_attribute(base, node.attr)
        entity = self.spec.entity(base.entity)
        if entity is None:
            raise self.fail(f"unknown entity {base.entity}")
        if base.hop is None:  # the record itself
            return self.column(entity, node.attr, base.path)
        if node.attr == "id":
            return _Sql(base.source, "integer", None, base.path, column=True)
        return self.column(entity, node.attr, base.path + (base.hop,))

    def user_attribute(self, base: _Py, name: str) -> _Node:
        if base.source != "user.id":
            raise self.fail(
                f"'.{name}' of a record linked from the user cannot be read in record rules"
            )
        user = self.spec.entity(USER)
        f = user.field(name) if user is not None else None
        if name in USER_ATTRIBUTES:
            return _Py(f"user.{name}")
        if f is not None and f.relation is not None:
            if f.relation.kind == "many_to_many":
                raise self.fail(f"user.{name} is a list; it cannot be compared in SQL")
            return _Py(f"user.extra.get({f.column!r})", entity=f.relation.target)
        if f is None and name not in SYSTEM_COLUMNS and not name.endswith("_id"):
            raise self.fail(f"User has no field '{name}'")
        return _Py(f"user.extra.get({name!r})")

    def column(self, entity: Entity, name: str, path: tuple[tuple[str, str], ...]) -> _Sql:
        model = f"{self.models}.{entity.name}"
        if name in SYSTEM_COLUMNS:
            return _Sql(f"{model}.{name}", SYSTEM_COLUMNS[name], None, path, column=True)
        f = entity.field(name)
        if f is None and name.endswith("_id"):
            ref = entity.field(name[:-3])
            if ref is not None and ref.relation is not None and ref.relation.kind != "many_to_many":
                return _Sql(f"{model}.{ref.column}", "integer", None, path, column=True)
        if f is None:
            raise self.fail(f"{entity.name} has no field '{name}'")
        if f.relation is None:
            return _Sql(f"{model}.{f.name}", f.type, None, path, column=True)
        if f.relation.kind == "many_to_many":
            raise self.fail(
                f"{entity.name}.{name} is a many-to-many list; it cannot be compared in SQL"
            )
        return _Sql(
            f"{model}.{f.column}", "integer", f.relation.target, path, (model, f.name), column=True
        )

    # -- operators ----------------------------------------------------------------------------
    def visit_BoolOp(self, node: ast.BoolOp) -> _Node:
        joiner = "sa.and_" if isinstance(node.op, ast.And) else "sa.or_"
        parts = ", ".join(self.boolean(self.visit(v)) for v in node.values)
        return _Sql(f"{joiner}({parts})", "boolean")

    def visit_UnaryOp(self, node: ast.UnaryOp) -> _Node:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return _Sql(f"sa.not_({self.boolean(operand)})", "boolean")
        if (
            isinstance(node.op, (ast.USub, ast.UAdd))
            and isinstance(operand, _Py)
            and operand.entity is None
        ):
            sign = "-" if isinstance(node.op, ast.USub) else "+"
            return _Py(f"{sign}{operand.source}")
        raise self.fail("arithmetic is not supported in record rules")

    def visit_Compare(self, node: ast.Compare) -> _Node:
        parts = []
        left = self.visit(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)):
                parts.append(self.membership(left, isinstance(op, ast.NotIn), right_node))
                left = _Py("None")
                continue
            right = self.visit(right_node)
            parts.append(self.compare(left, op, right, right_node))
            left = right
        return (
            parts[0]
            if len(parts) == 1
            else _Sql(f"sa.and_({', '.join(p.source for p in parts)})", "boolean")
        )

    def compare(self, left: _Node, op: ast.cmpop, right: _Node, right_node: ast.AST) -> _Sql:
        if isinstance(op, (ast.In, ast.NotIn)):
            return self.membership(left, isinstance(op, ast.NotIn), right_node)
        if isinstance(op, (ast.Is, ast.IsNot)):
            op = ast.Eq() if isinstance(op, ast.Is) else ast.NotEq()
        symbol = _COMPARE.get(type(op))
        if symbol is None:
            raise self.fail(f"the comparison {type(op).__name__} is not supported")
        if isinstance(left, _Py) and isinstance(right, _Sql):
            left, right, symbol = right, left, _FLIPPED.get(symbol, symbol)
        if isinstance(left, _Py):  # both known in Python: decided when the request runs
            assert isinstance(right, _Py)
            return _Sql(
                f"sa.true() if ({left.source} {symbol} {right.source}) else sa.false()", "boolean"
            )
        if isinstance(right, _Sql) and right.type in DECIMALS and left.type not in DECIMALS:
            # an exact decimal compares in its own unit: it goes first (see the app's decimals)
            left, right, symbol = right, left, _FLIPPED.get(symbol, symbol)
        return self.column_compare(left, symbol, right)

    def column_compare(self, column: _Sql, symbol: str, value: _Node) -> _Sql:
        col = column.source
        if isinstance(value, _Py) and value.none:
            if symbol not in ("==", "!="):
                raise self.fail("None can only be compared with ==, !=, is or is not")
            return self.wrap(
                column, f"{col}.is_(None)" if symbol == "==" else f"{col}.is_not(None)"
            )
        if isinstance(value, _Sql):
            if value.path and column.path and value.path != column.path:
                raise self.fail(
                    "two columns reached through different references cannot be compared"
                )
            if symbol == "!=":
                return self.wrap(column, f"{col}.is_distinct_from({value.source})")
            if symbol == "==":
                return self.wrap(column, f"{col}.is_not_distinct_from({value.source})")
            return self.wrap(column, f"({col} {symbol} {value.source})")
        other = value.source
        runtime = other.startswith("user.") and other != "user.id"  # may be None at run time
        if symbol == "==":
            test = f"({col} == {other})"
            if runtime:
                test = f"({col}.is_(None) if {other} is None else {col} == {other})"
        elif symbol == "!=":
            test = f"sa.or_({col} != {other}, {col}.is_(None))"
            if runtime:
                test = f"({col}.is_not(None) if {other} is None else {test})"
        else:
            test = f"({col} {symbol} {other})"
            if runtime:
                test = f"(sa.false() if {other} is None else {test})"
        return self.wrap(column, test)

    def membership(self, left: _Node, negate: bool, right_node: ast.AST) -> _Sql:
        if not isinstance(left, _Sql) or not isinstance(right_node, (ast.List, ast.Tuple)):
            raise self.fail("'in' is supported as record.field in [constants]")
        items = [self.visit(item) for item in right_node.elts]
        if any(not isinstance(i, _Py) for i in items):
            raise self.fail("'in' is supported as record.field in [constants]")
        values = "[" + ", ".join(i.source for i in items) + "]"
        col = left.source
        if negate:
            return self.wrap(left, f"sa.or_({col}.not_in({values}), {col}.is_(None))")
        return self.wrap(left, f"{col}.in_({values})")

    def wrap(self, column: _Sql, test: str) -> _Sql:
        """``test`` about a column reached through references, as nested ``has()`` calls."""
        for model, relationship in reversed(column.path):
            test = f"{model}.{relationship}.has({test})"
        return _Sql(test, "boolean")

    def boolean(self, node: _Node) -> str:
        """``node`` as a SQL condition: a bare column is true when set (booleans: when true)."""
        if isinstance(node, _Py):
            return f"sa.true() if ({node.source}) else sa.false()"
        if not node.column:
            return node.source
        if node.type == "boolean":
            return self.wrap(node, f"sa.func.coalesce({node.source}, sa.false())").source
        return self.wrap(node, f"{node.source}.is_not(None)").source

    def visit_Call(self, node: ast.Call) -> _Node:
        if isinstance(node.func, ast.Name) and node.func.id == "has_role" and not node.keywords:
            names = []
            for arg in node.args:
                if not isinstance(arg, ast.Constant) or not isinstance(arg.value, str):
                    raise self.fail("has_role() takes role names as text")
                names.append(repr(arg.value))
            return _Py(f"user.has_role({', '.join(names)})")
        name = node.func.id if isinstance(node.func, ast.Name) else "this call"
        raise self.fail(f"{name}() is not supported in record rules")
