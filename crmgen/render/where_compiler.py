"""Where-conditions as SQLAlchemy source: the one compiler of record rules, process steps,
dashboards and reports.

Two forms of the spec meet here and are written with the same columns, reference paths and
meaning of ``None``:

- a **record rule** (``rule_source``), a checked expression such as
  ``record.sales_order.owner == user``, becomes an expression over the models::

      models.OrderLine.sales_order.has(models.Order.owner_id == user.id)

  ``record.field`` becomes a column of the model, ``record.ref.field`` an ``EXISTS`` through the
  relationship (``has``), ``user`` / ``user.field`` values bound from the ``CurrentUser`` of the
  request (its extra User fields included). Comparisons follow Python's meaning of ``None``:
  ``record.stage != 'lost'`` keeps records without a stage. A decimal column compared with
  another column goes first, so that the app's exact decimals compare both in one unit.
  Anything else (arithmetic, function calls other than ``has_role``) raises a
  ``GenerateError`` that names the expression.
- a **condition** (``Conditions.condition``) of a process step, KPI, chart or report,
  ``field op value`` (``stage__in: [...]``, ``assignee: '= user'``), becomes a call of the
  runtime's ``crmgen_runtime.where`` (``where.eq(models.Task.status, "done")``), which decides
  about ``None`` values when the query runs; a dotted path follows references with
  ``has()`` (``any()`` through a many-to-many list). Its value is written by the caller's
  ``ValueSource`` (a process knows its local names); ``value_source`` serves the rest.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crmgen.language.expressions import parse
from crmgen.language.fields import REGISTRY as FIELD_TYPES
from crmgen.language.fields import TIME
from crmgen.language.model import Condition, Entity, Field, Spec, Value
from crmgen.render.environment import py_literal
from crmgen.render.errors import GenerateError
from crmgen.render.expr_py import python_source

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


def _exact(type_: str | None) -> bool:
    """Whether values of ``type_`` are exact decimals (compared as ``Decimal``)."""
    kind = FIELD_TYPES.get(type_ or "")
    return kind is not None and kind.exact


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


def through_references(test: str, hops: tuple[tuple[str, str, bool], ...]) -> str:
    """``test`` about a column reached through ``hops`` (model source, relationship, many),
    as nested ``has()`` (``any()`` for a many-to-many list) calls, outermost first."""
    for model, relationship, many in reversed(hops):
        test = f"{model}.{relationship}.{'any' if many else 'has'}({_unwrapped(test)})"
    return test


def _unwrapped(source: str) -> str:
    """``source`` without the parentheses around all of it (an argument needs none), when
    dropping them leaves the same expression."""
    if not (source.startswith("(") and source.endswith(")")):
        return source
    try:
        outer = ast.parse(source, mode="eval").body
        inner = ast.parse(source[1:-1], mode="eval").body
    except SyntaxError:
        return source
    same = ast.dump(outer) == ast.dump(inner) and not isinstance(inner, ast.Tuple)
    return source[1:-1] if same else source


def rule_source(spec: Spec, entity: Entity, source: str, models: str = "models") -> str:
    """Python source of a SQLAlchemy boolean expression for the record rule ``source`` on ``entity``.

    The source reads the names ``user`` (a ``CurrentUser``), ``sa`` (sqlalchemy) and
    ``models`` (the generated models module).
    """
    try:
        tree = parse(source)
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
            return _Sql(f"{model}.{f.attr}", f.type, None, path, column=True)
        if f.relation.kind == "many_to_many":
            raise self.fail(
                f"{entity.name}.{name} is a many-to-many list; it cannot be compared in SQL"
            )
        return _Sql(
            f"{model}.{f.column}", "integer", f.relation.target, path, (model, f.attr), column=True
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
        constant = isinstance(right_node, ast.Constant) and isinstance(right, _Py)
        if left.type == "time" and constant and not right.none:
            right = self.time_of_day(right_node.value)
        if isinstance(right, _Sql) and _exact(right.type) and not _exact(left.type):
            # an exact decimal compares in its own unit: it goes first (see the app's decimals)
            left, right, symbol = right, left, _FLIPPED.get(symbol, symbol)
        return self.column_compare(left, symbol, right)

    def time_of_day(self, value: Any) -> _Py:
        """A time constant as the column compares it: on SQLite the text it stores
        (``09:30:00.000000``), on PostgreSQL a TIME parameter."""
        if not isinstance(value, str) or not TIME.fullmatch(value):
            raise self.fail(f"{value!r} is not a time of day like '09:30' or '09:30:15'")
        text = py_literal(dt.time.fromisoformat(value).isoformat("microseconds"))
        return _Py(f'sa.literal({text}, sa.Time().with_variant(sa.String(), "sqlite"))')

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
        if left.type == "time":
            items = [
                self.time_of_day(node.value)
                if isinstance(node, ast.Constant) and node.value is not None
                else item
                for node, item in zip(right_node.elts, items, strict=True)
            ]
        values = "[" + ", ".join(i.source for i in items) + "]"
        col = left.source
        if negate:
            return self.wrap(left, f"sa.or_({col}.not_in({values}), {col}.is_(None))")
        return self.wrap(left, f"{col}.in_({values})")

    def wrap(self, column: _Sql, test: str) -> _Sql:
        """``test`` about a column reached through references, as nested ``has()`` calls."""
        hops = tuple((model, relationship, False) for model, relationship in column.path)
        return _Sql(through_references(test, hops), "boolean")

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


# -- conditions (field op value) -------------------------------------------------------------

# The function of ``crmgen_runtime.where`` an operator of a condition calls.
OPERATORS = {
    "eq": "eq",
    "ne": "ne",
    "gt": "gt",
    "gte": "gte",
    "lt": "lt",
    "lte": "lte",
    "in": "in_",
    "contains": "contains",
    "isnull": "isnull",
}
# How generated code names the runtime's module (a name processes keep free of spec locals).
RUNTIME = "where"

ValueSource = Callable[[Value, Field | None, str | None], str]


def literal(value: Any, type_: str | None) -> str:
    """A spec literal as Python source of the value its column stores."""
    if value is None:
        return "None"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v, type_) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{py_literal(str(k))}: {literal(v, None)}" for k, v in value.items())
            + "}"
        )
    if type_ == "date" and isinstance(value, (str, dt.date)):
        return f"fn.date_({py_literal(value if isinstance(value, str) else value.isoformat())})"
    if type_ == "datetime" and isinstance(value, (str, dt.datetime)):
        text = value if isinstance(value, str) else value.isoformat()
        return f"dt.datetime.fromisoformat({py_literal(text)})"
    if type_ == "time" and isinstance(value, str):
        return f"dt.time.fromisoformat({py_literal(value)})"
    if _exact(type_) and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return f"Decimal({py_literal(str(value))})"
    if isinstance(value, (dt.datetime, dt.date)):
        return py_literal(value.isoformat())
    if isinstance(value, Decimal):
        return f"Decimal({py_literal(str(value))})"
    return py_literal(value)


def value_source(
    value: Value,
    f: Field | None,
    type_: str | None = None,
    names: Mapping[str, str] | None = None,
) -> str:
    """A value written to (or compared with) field ``f``: a literal, or an expression
    evaluated when the code runs (``names``: spec names of locals -> Python names)."""
    type_ = type_ or (f.type if f is not None else None)
    relation = f.relation if f is not None else None
    if value.is_expr:
        source = f"fn.evaluate(lambda: {python_source(value.expr, names=dict(names or {}))})"
        if relation is not None and relation.kind == "many_to_many":
            return f"{RUNTIME}.ids({source})"
        if relation is not None or type_ == "ref":
            return f"fn.ref_id({source})"
        return source
    return literal(value.literal, type_)


class Conditions:
    """Writes the conditions of one owner (a process, KPI, chart or report: named in errors).

    ``value`` writes a condition's value; by default ``value_source`` without local names.
    """

    def __init__(self, spec: Spec, owner: str, value: ValueSource | None = None) -> None:
        self.spec = spec
        self.owner = owner
        self.value: ValueSource = value or value_source

    def entity(self, name: str) -> Entity:
        entity = self.spec.entity(name)
        if entity is None:
            raise GenerateError(f"{self.owner}: unknown entity {name}")
        return entity

    def all(self, entity_name: str, conditions: tuple[Condition, ...]) -> list[str]:
        """Every condition of ``conditions`` on ``entity_name``, in order."""
        return [self.condition(entity_name, c) for c in conditions]

    def condition(self, entity_name: str, c: Condition) -> str:
        """``field op value`` as a SQLAlchemy condition; dotted paths follow references."""
        entity = self.entity(entity_name)
        parts = c.field.split(".")
        hops: list[tuple[str, str, bool]] = []
        for part in parts[:-1]:
            f = entity.field(part)
            if f is None or f.relation is None:
                raise GenerateError(
                    f"{self.owner}: '{c.field}' does not follow a reference of {entity.name}"
                )
            hops.append((f"models.{entity.name}", f.attr, f.relation.kind == "many_to_many"))
            entity = self.entity(f.relation.target)
        return through_references(self.last(entity, parts[-1], c), tuple(hops))

    def last(self, entity: Entity, name: str, c: Condition) -> str:
        """The test on field ``name`` of ``entity`` itself (the end of the path)."""
        model = f"models.{entity.name}"
        f = entity.field(name)
        if c.op not in OPERATORS:
            raise GenerateError(f"{self.owner}: the operator '{c.op}' of '{c.field}' is unknown")
        call = f"{RUNTIME}.{OPERATORS[c.op]}"
        if entity.name == USER and name == "role" and f is None:
            value = self.value(c.value, None, "string")
            op = c.op if c.op in ("in", "ne") else "eq"
            return f"models.User.role_entries.any({RUNTIME}.{OPERATORS[op]}(models.CrmUserRole.role, {value}))"
        if f is not None and f.relation is not None and f.relation.kind == "many_to_many":
            if c.op == "isnull":
                empty = self.value(c.value, None, "boolean")
                return f"{RUNTIME}.isnull_list({model}.{f.attr}, {empty})"
            ids = (
                self.in_value(c.value, "ref")
                if c.op == "in"
                else f"[{self.value(c.value, f, None)}]"
            )
            return f"{model}.{f.attr}.any({RUNTIME}.in_(models.{f.relation.target}.id, {ids}))"
        if f is not None:
            column = f.column if f.relation is not None else f.attr
            type_ = "ref" if f.relation else f.type
        elif name in SYSTEM_COLUMNS:
            column, type_ = name, SYSTEM_COLUMNS[name]
        else:
            raise GenerateError(f"{self.owner}: {entity.name} has no field '{name}'")
        target = f"{model}.{column}"
        if c.op == "in":
            listed = self.in_value(c.value, "ref" if name == "id" else type_)
            return f"{call}({target}, {self.phone(f, listed)})"
        if c.op == "isnull":
            return f"{call}({target}, {self.value(c.value, None, 'boolean')})"
        if c.op == "contains":
            return f"{call}({target}, {self.value(c.value, None, 'string')})"
        plain = f if f is not None and f.relation is None else None
        value = self.value(c.value, plain, "ref" if name == "id" else type_)
        return f"{call}({target}, {self.phone(f, value)})"

    def phone(self, f: Field | None, value: str) -> str:
        """``value`` in E.164 when ``f`` is a phone field of an app that stores them so."""
        region = self.spec.app.phone_region
        if f is None or f.type != "phone" or not region:
            return value
        return f"{RUNTIME}.phone({value}, {py_literal(region)})"

    def in_value(self, value: Value, type_: str) -> str:
        """The list an ``in`` condition compares with."""
        if value.is_expr:
            source = self.value(value, None, None)
            return f"{RUNTIME}.ids({source})" if type_ == "ref" else source
        items = value.literal if isinstance(value.literal, (list, tuple)) else [value.literal]
        return "[" + ", ".join(literal(i, type_) for i in items) + "]"
