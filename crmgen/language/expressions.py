"""Sandboxed expressions: parsed and checked here, never evaluated by crmgen.

An expression is a small Python-like formula (``record.amount * 0.2``, ``today() + days(3)``,
``status != 'done' and priority == 'high'``). Only a whitelist of syntax is accepted; every name
must be known in the place the expression is used, and attribute access follows the spec's fields
(``record.assignee.position``). The generated app compiles checked expressions into plain Python.
"""

from __future__ import annotations

import ast
import io
import keyword
import tokenize
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from crmgen.diagnostics import did_you_mean

MAX_LENGTH = 2000
MAX_DEPTH = 100  # nesting of operators and calls; deeper would exhaust Python's stack

# name -> (min args, max args); max None = any number.
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "now": (0, 0),
    "today": (0, 0),
    "minutes": (1, 1),
    "hours": (1, 1),
    "days": (1, 1),
    "weeks": (1, 1),
    "months": (1, 1),
    "date": (1, 1),
    "len": (1, 1),
    "lower": (1, 1),
    "upper": (1, 1),
    "str": (1, 1),
    "int": (1, 1),
    "float": (1, 1),
    "round": (1, 2),
    "abs": (1, 1),
    "min": (1, None),
    "max": (1, None),
    "coalesce": (1, None),
    "has_role": (1, None),
    "contains": (2, 2),
    "startswith": (2, 2),
}

# Names only some places give, and where they exist.
_CONTEXT_NAMES = {
    "old": "'old' (the record before the change) exists only in update triggers",
    "record": "there is no record here (the trigger is not an entity event, action or record endpoint)",
    "input": "'input' exists only in processes run by an endpoint or an inbound hook",
}

_BIN_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod)
_CMP_OPS = (
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
)
_UNARY_OPS = (ast.Not, ast.USub, ast.UAdd)


@dataclass(frozen=True)
class Opaque:
    """A value whose attributes are not checked (a list, a number, an HTTP response)."""

    description: str = "a value"


@dataclass(frozen=True)
class EntityValue:
    """A record of an entity: attributes are its fields."""

    entity: str


@dataclass(frozen=True)
class ListOf:
    """A list of records of an entity (a query's result); ``for_each`` walks it."""

    entity: str


@dataclass(frozen=True)
class Struct:
    """A value with known attributes (the endpoint's ``input``, a record's own fields)."""

    attributes: tuple[tuple[str, object], ...]
    owner: str = "the input"  # how messages name it
    hints: tuple[tuple[str, str], ...] = ()  # attribute -> why it is not available here


@dataclass(frozen=True)
class Items:
    """A list of values of one kind (a list in an HTTP reply's declared shape): ``x[0]`` is
    one of them."""

    element: object  # a Kind


Kind = Opaque | EntityValue | ListOf | Struct | Items
AttributeResolver = Callable[[str], Mapping[str, Kind] | None]


@dataclass
class Scope:
    """Names an expression may use, and how to look up an entity's attributes.

    ``attributes(entity)`` returns the attribute table of an entity, or None when the entity
    is unknown or broken (its attributes are then not checked).
    """

    names: dict[str, Kind]
    attributes: AttributeResolver = field(default=lambda _entity: None)
    functions: Mapping[str, tuple[int, int | None]] = field(default_factory=lambda: FUNCTIONS)
    # ``x[0]`` / ``x['name']`` may read into lists and objects (a process's steps: HTTP replies)
    subscripts: bool = False

    def child(self, **more: Kind) -> Scope:
        return Scope({**self.names, **more}, self.attributes, self.functions, self.subscripts)


@dataclass(frozen=True)
class ExprProblem:
    line: int  # 1-based within the expression text
    column: int  # 1-based within that line
    message: str


@dataclass(frozen=True)
class Expression:
    """A checked expression: its text and the root names it reads."""

    source: str
    names: tuple[str, ...]

    def __str__(self) -> str:
        return self.source


def check(source: str, scope: Scope) -> tuple[Expression, list[ExprProblem]]:
    """Parse and check ``source``; returns the expression and its problems (empty when fine)."""
    expression, problems, _kind = check_kind(source, scope)
    return expression, problems


def check_kind(source: str, scope: Scope) -> tuple[Expression, list[ExprProblem], Kind]:
    """Like ``check``, and also what the expression yields (a record, a list, a value)."""
    problems: list[ExprProblem] = []
    if len(source) > MAX_LENGTH:
        return (
            Expression(source, ()),
            [ExprProblem(1, 1, f"expression longer than {MAX_LENGTH}")],
            Opaque(),
        )
    if not source.strip():
        return Expression(source, ()), [ExprProblem(1, 1, "the expression is empty")], Opaque()
    text = source.strip("\n")
    lead = len(text) - len(text.lstrip())
    try:
        tree, shift = _parse(text.strip())
    except SyntaxError as exc:
        msg = exc.msg or "invalid syntax"
        col = (exc.offset or 1) + (lead if (exc.lineno or 1) == 1 else 0)
        return (
            Expression(source, ()),
            [ExprProblem(exc.lineno or 1, col, f"bad expression: {msg}")],
            Opaque(),
        )
    except ValueError as exc:  # e.g. null bytes
        return Expression(source, ()), [ExprProblem(1, 1, f"bad expression: {exc}")], Opaque()
    checker = _Checker(scope, problems, lead)
    checker.shift = shift
    checker.lines = text.strip().splitlines()
    try:
        kind = checker.visit(tree.body)
    except _TooDeep as exc:
        problems.append(
            ExprProblem(
                exc.line,
                exc.column,
                f"the expression nests deeper than {MAX_DEPTH} levels; split it into compute steps",
            )
        )
        kind = Opaque()
    return Expression(source.strip(), tuple(sorted(checker.roots))), problems, kind


class _TooDeep(Exception):
    def __init__(self, line: int, column: int) -> None:
        super().__init__(line, column)
        self.line = line
        self.column = column


def parse(source: str) -> ast.Expression:
    """The syntax tree of an expression that ``check`` accepted (for the code generators)."""
    return _parse(source.strip())[0]


def _parse(text: str) -> tuple[ast.Expression, int]:
    """Parse one expression; one written over several lines (a YAML block) needs no brackets.
    A field named like a Python keyword is read after a dot (``record.from``).

    Returns the tree and how many lines its line numbers are shifted by.
    """
    text, keywords = _keyword_attributes(text)
    try:
        return _restored(ast.parse(text, mode="eval"), keywords, 0), 0
    except SyntaxError:
        if "\n" not in text:
            raise
    try:
        # The same text inside brackets, on its own lines so columns stay where they were.
        return _restored(ast.parse("(\n" + text + "\n)", mode="eval"), keywords, 1), 1
    except SyntaxError:
        return ast.parse(text, mode="eval"), 0  # raises the original error


def _keyword_attributes(text: str) -> tuple[str, dict[tuple[int, int], str]]:
    """``text`` with every Python keyword after a dot (``record.from``) replaced by a name of
    the same length (``record._rom``), so that Python parses it and every column stays put;
    and those keywords by where they end (line, column)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return text, {}  # the parser reports it
    lines = text.split("\n")
    found: dict[tuple[int, int], str] = {}
    previous: tokenize.TokenInfo | None = None
    for token in tokens:
        if token.type in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            continue
        if (
            token.type == tokenize.NAME
            and keyword.iskeyword(token.string)
            and previous is not None
            and previous.exact_type == tokenize.DOT
        ):
            (row, start), end = token.start, token.end[1]
            line = lines[row - 1]
            lines[row - 1] = line[:start] + "_" + line[start + 1 :]
            found[(row, end)] = token.string
        previous = token
    return "\n".join(lines), found


def _restored(
    tree: ast.Expression, keywords: dict[tuple[int, int], str], shift: int
) -> ast.Expression:
    """``tree`` with the attributes ``_keyword_attributes`` replaced named again as written."""
    if keywords:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.end_lineno is not None:
                written = keywords.get((node.end_lineno - shift, node.end_col_offset or 0))
                if written is not None:
                    node.attr = written
    return tree


class _Checker:
    def __init__(self, scope: Scope, problems: list[ExprProblem], lead: int) -> None:
        self.scope = scope
        self.problems = problems
        self.lead = lead
        self.shift = 0
        self.roots: set[str] = set()
        self.lines: list[str] = []
        self.depth = 0

    def problem(self, node: ast.AST, message: str) -> None:
        line = getattr(node, "lineno", 1) - self.shift
        col = getattr(node, "col_offset", 0) + 1 + (self.lead if line == 1 else 0)
        self.problems.append(ExprProblem(line, col, message))

    def operator_at(self, node: ast.BinOp) -> ast.AST:
        """Where the operator of ``node`` is written (after the left operand and any ')')."""
        left = node.left
        line = left.end_lineno or 1
        col = left.end_col_offset or 0
        if line == node.right.lineno and 0 < line <= len(self.lines):
            text = self.lines[line - 1]
            while col < node.right.col_offset and text[col] in " )\t":
                col += 1
        at = ast.Constant(0, lineno=line)
        at.col_offset = col
        return at

    def visit(self, node: ast.AST) -> Kind:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            self.problem(node, f"{_describe(node)} is not allowed in an expression")
            return Opaque()
        if self.depth >= MAX_DEPTH:
            line = getattr(node, "lineno", 1)
            raise _TooDeep(
                line, getattr(node, "col_offset", 0) + 1 + (self.lead if line == 1 else 0)
            )
        self.depth += 1
        try:
            return method(node)
        finally:
            self.depth -= 1

    def visit_Constant(self, node: ast.Constant) -> Kind:
        if not isinstance(node.value, (str, int, float, bool, type(None))):
            self.problem(node, f"the constant {node.value!r} is not allowed")
        return Opaque()

    def visit_Name(self, node: ast.Name) -> Kind:
        if node.id in self.scope.names:
            self.roots.add(node.id)
            return self.scope.names[node.id]
        if node.id in self.scope.functions:
            self.problem(node, f"'{node.id}' is a function: call it as {node.id}(...)")
        else:
            hint = did_you_mean(node.id, list(self.scope.names) + list(self.scope.functions))
            if not hint and node.id in _CONTEXT_NAMES:
                hint = f"; {_CONTEXT_NAMES[node.id]}"
            self.problem(node, f"unknown name '{node.id}'{hint}")
        return Opaque()

    def visit_Attribute(self, node: ast.Attribute) -> Kind:
        base = self.visit(node.value)
        if node.attr.startswith("_"):
            self.problem(_at_attr(node), f"'{node.attr}': names starting with '_' are not allowed")
            return Opaque()
        table: Mapping[str, Kind] | None = None
        if isinstance(base, EntityValue):
            table = self.scope.attributes(base.entity)
            owner = f"{base.entity}"
        elif isinstance(base, Struct):
            table = dict(base.attributes)  # type: ignore[arg-type]
            owner = base.owner
            why = dict(base.hints).get(node.attr)
            if why and node.attr not in table:
                self.problem(_at_attr(node), why)
                return Opaque()
        else:
            return Opaque()
        if table is None:
            return Opaque()
        if node.attr not in table:
            hint = did_you_mean(node.attr, table)
            self.problem(_at_attr(node), f"{owner} has no field '{node.attr}'{hint}")
            return Opaque()
        return table[node.attr]

    def visit_Subscript(self, node: ast.Subscript) -> Kind:
        if not self.scope.subscripts:
            self.problem(node, f"{_describe(node)} is not allowed in an expression")
            return Opaque()
        base = self.visit(node.value)
        key = index_of(node.slice)
        if key is None:
            self.problem(
                node.slice,
                "an index must be a whole number or a quoted name (e.g. items[0], items[-1], "
                "body['full name'])",
            )
            return Opaque()
        if isinstance(base, (EntityValue, ListOf)):
            self.problem(
                node,
                "records are not read by index; use a field (record.field) or for_each over a list",
            )
            return Opaque()
        if isinstance(base, Items):
            if isinstance(key, str):
                self.problem(node.slice, f"a list is read by position (e.g. [0]), not by {key!r}")
                return Opaque()
            return base.element  # type: ignore[return-value]
        if isinstance(base, Struct):
            table = dict(base.attributes)
            if isinstance(key, int):
                self.problem(node.slice, f"{base.owner} is not a list; read a field by name")
                return Opaque()
            if key not in table:
                hint = did_you_mean(key, table)
                self.problem(node.slice, f"{base.owner} has no field {key!r}{hint}")
                return Opaque()
            return table[key]  # type: ignore[return-value]
        return Opaque()

    def visit_Call(self, node: ast.Call) -> Kind:
        if isinstance(node.func, ast.Attribute):
            method = node.func.attr
            hint = f"; write {method}(...) instead" if method in self.scope.functions else ""
            self.problem(
                _at_attr(node.func),
                f"methods cannot be called ('.{method}()'); only the built-in functions (e.g. today(), days(3)){hint}",
            )
            return Opaque()
        if not isinstance(node.func, ast.Name):
            if type(node.func).__name__ in ("Lambda", "Subscript", "Call"):
                self.visit(node.func)
            else:
                self.problem(
                    node, "only the built-in functions can be called (e.g. today(), days(3))"
                )
            return Opaque()
        name = node.func.id
        if name not in self.scope.functions:
            hint = did_you_mean(name, self.scope.functions)
            self.problem(node, f"unknown function '{name}'{hint}")
            return Opaque()
        if node.keywords:
            self.problem(node, f"{name}() takes no keyword arguments")
        low, high = self.scope.functions[name]
        count = len(node.args)
        if count < low or (high is not None and count > high):
            want = str(low) if low == high else f"{low} to {high}" if high else f"at least {low}"
            self.problem(node, f"{name}() takes {want} argument(s), got {count}")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.problem(arg, "'*' arguments are not allowed")
            else:
                self.visit(arg)
        return Opaque()

    def visit_BoolOp(self, node: ast.BoolOp) -> Kind:
        for value in node.values:
            self.visit(value)
        return Opaque()

    def visit_BinOp(self, node: ast.BinOp) -> Kind:
        if not isinstance(node.op, _BIN_OPS):
            self.problem(
                self.operator_at(node), f"the operator {_describe(node.op)} is not allowed"
            )
        self.visit(node.left)
        self.visit(node.right)
        return Opaque()

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Kind:
        if not isinstance(node.op, _UNARY_OPS):
            self.problem(node, f"the operator {_describe(node.op)} is not allowed")
        self.visit(node.operand)
        return Opaque()

    def visit_Compare(self, node: ast.Compare) -> Kind:
        for op in node.ops:
            if not isinstance(op, _CMP_OPS):
                self.problem(node, f"the comparison {_describe(op)} is not allowed")
        self.visit(node.left)
        for comparator in node.comparators:
            self.visit(comparator)
        return Opaque()

    def visit_IfExp(self, node: ast.IfExp) -> Kind:
        self.visit(node.test)
        self.visit(node.body)
        self.visit(node.orelse)
        return Opaque()

    def visit_List(self, node: ast.List) -> Kind:
        for item in node.elts:
            self.visit(item)
        return Opaque("a list")

    visit_Tuple = visit_List


def index_of(node: ast.AST) -> int | str | None:
    """The constant of ``x[...]`` (a whole number, possibly negative, or a text); None when
    the index is anything else."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = index_of(node.operand)
        return -inner if isinstance(inner, int) else None
    if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
        return None
    return node.value if isinstance(node.value, (int, str)) else None


def _at_attr(node: ast.Attribute) -> ast.AST:
    """A node located at the attribute name of ``node`` (after the dot)."""
    at = ast.Constant(0, lineno=node.end_lineno or 1)
    at.col_offset = (node.end_col_offset or len(node.attr)) - len(node.attr)
    return at


def _describe(node: ast.AST) -> str:
    names = {
        "Lambda": "lambda",
        "ListComp": "a comprehension",
        "GeneratorExp": "a generator",
        "DictComp": "a comprehension",
        "SetComp": "a comprehension",
        "Subscript": "indexing with [...]",
        "Dict": "a {...} mapping",
        "Set": "a {...} set",
        "JoinedStr": "an f-string",
        "NamedExpr": "':='",
        "Await": "await",
        "Pow": "'**'",
        "BitAnd": "'&'",
        "BitOr": "'|'",
        "BitXor": "'^'",
        "LShift": "'<<'",
        "RShift": "'>>'",
        "MatMult": "'@'",
        "Invert": "'~'",
        "Starred": "'*'",
        "Slice": "a slice",
    }
    kind = type(node).__name__
    return names.get(kind, kind)
