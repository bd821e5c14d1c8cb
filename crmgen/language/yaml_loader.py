"""Safe YAML loading that keeps the source position of every node.

PyYAML is only used to *compose* the node tree; values are resolved here with the YAML 1.2 core
schema, so nothing is constructed from tags and nothing silently changes meaning:

* Python tags and any tag outside the core set are errors.
* Duplicate keys and keys that are not text are errors.
* Alias expansion is capped, so a "billion laughs" document fails fast.
* Plain scalars that YAML 1.1 tools read differently (``NO``/``off`` as booleans, ``010`` as octal,
  ``1_000``, ``10:30`` as sexagesimal) keep the exact text written and get a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader, ReaderError
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from crmgen.diagnostics import Diagnostic, Position

Path = tuple[str | int, ...]

MAX_NODES = 100_000
MAX_DEPTH = 64

_PLAIN = "tag:crmgen:plain"
_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "map", "seq")}

_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)$")
_OCT = re.compile(r"0o[0-7]+$")
_HEX = re.compile(r"0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+\.[0-9]*)([eE][-+]?[0-9]+)?$")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)$")
_NAN = re.compile(r"\.(nan|NaN|NAN)$")

# What YAML 1.1 (and so PyYAML, and many editors) would read differently from the text.
_YAML11_BOOL = {w for b in ("yes", "no", "on", "off") for w in (b, b.capitalize(), b.upper())}
_AMBIGUOUS = [
    (re.compile(r"[-+]?0[0-9]+$"), "a number with a leading zero (YAML 1.1 reads it as octal)"),
    (re.compile(r"[-+]?[0-9][0-9_]*_[0-9_]*(\.[0-9_]*)?$"), "a number with '_' separators"),
    (re.compile(r"[-+]?[0-9]+(:[0-5]?[0-9])+(\.[0-9]*)?$"), "a base-60 number in YAML 1.1"),
    (
        re.compile(r"[-+]?[0-9]+[eE][-+]?[0-9]+$"),
        "a number in YAML 1.2 (while YAML 1.1 reads it as text)",
    ),
    (re.compile(r"0b[01_]+$"), "a binary number in YAML 1.1"),
]


class _ComposeOnly(Reader, Scanner, Parser, Composer, BaseResolver):
    """Composes nodes without resolving plain scalars (we resolve them ourselves)."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        BaseResolver.__init__(self)

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _CORE + "str"
        return _CORE + ("seq" if kind is SequenceNode else "map")


try:  # libyaml composes the same nodes (marks, styles, tags) about four times faster
    from yaml._yaml import CParser as _CParser

    class _FastComposeOnly(_CParser, BaseResolver):  # type: ignore[misc,valid-type]
        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            BaseResolver.__init__(self)

        resolve = _ComposeOnly.resolve

    _COMPOSER: type = _FastComposeOnly
except ImportError:  # PyYAML built without libyaml
    _COMPOSER = _ComposeOnly


@dataclass
class SourceMap:
    """Positions of values and mapping keys, by path from the document root."""

    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)

    def value(self, path: Path) -> Position | None:
        """Position of the value at ``path``, or of its nearest located ancestor."""
        for n in range(len(path), -1, -1):
            pos = self.values.get(path[:n])
            if pos is not None:
                return pos
        return None

    def key(self, path: Path) -> Position | None:
        """Position of the key naming ``path`` (falls back to the value's position)."""
        return self.keys.get(path) or self.value(path)

    def update(self, other: SourceMap) -> None:
        self.values.update(other.values)
        self.keys.update(other.keys)


@dataclass
class LoadedYaml:
    data: Any
    source: SourceMap
    diagnostics: list[Diagnostic]


class _Builder:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.source = SourceMap()
        self.diagnostics: list[Diagnostic] = []
        self.count = 0

    def pos(self, node: Node) -> Position:
        mark = node.start_mark
        return Position(self.filename, mark.line + 1, mark.column + 1)

    def error(self, node: Node, code: str, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.pos(node), "error", code, message))

    def warn(self, node: Node, code: str, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.pos(node), "warning", code, message))

    def build(self, node: Node, path: Path, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig(node, f"the document expands to more than {MAX_NODES} nodes", path)
        if depth > MAX_DEPTH:
            raise _TooBig(node, f"the document nests deeper than {MAX_DEPTH} levels", path)
        pos = self.pos(node)
        if isinstance(node, ScalarNode) and node.style in ("'", '"'):
            # Point inside the quotes, so offsets into the text (expressions) line up.
            pos = Position(pos.file, pos.line, pos.column + 1)
        self.source.values.setdefault(path, pos)
        if node.tag != _PLAIN and node.tag not in _ALLOWED_TAGS:
            shown = "!!" + node.tag[len(_CORE) :] if node.tag.startswith(_CORE) else node.tag
            self.error(
                node,
                "yaml-tag",
                f"the tag {shown} is not allowed in a spec (a spec holds plain data: text, numbers, true/false, lists and mappings)",
            )
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        return self.mapping(node, path, depth)

    def scalar(self, node: ScalarNode) -> Any:
        text = node.value
        tag = node.tag
        if tag == _PLAIN:
            return self.plain(node)
        if tag == _CORE + "str":
            return text
        value = self.plain(node, warn=False)
        kind = tag.rsplit(":", 1)[1]
        expected = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}[kind]
        if not isinstance(value, expected) or (kind != "bool" and isinstance(value, bool)):
            self.error(node, "yaml-tag", f"{text!r} is not a valid !!{kind}")
            return text
        return float(value) if kind == "float" else value

    def plain(self, node: ScalarNode, warn: bool = True) -> Any:
        text = node.value
        if text in _NULL:
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        if _INT.match(text):
            return int(text)
        if _OCT.match(text):
            return int(text, 0)
        if _HEX.match(text):
            return int(text, 0)
        if _FLOAT.match(text):
            return float(text)
        if _INF.match(text):
            return float("-inf") if text.startswith("-") else float("inf")
        if _NAN.match(text):
            return float("nan")
        if warn:
            reason = None
            if text in _YAML11_BOOL:
                reason = f"a boolean in YAML 1.1 ({'true' if text.lower() in ('yes', 'on') else 'false'})"
            else:
                reason = next((r for rx, r in _AMBIGUOUS if rx.match(text)), None)
            if reason:
                self.warn(
                    node,
                    "yaml-ambiguous",
                    f"{text} is kept as the text '{text}' but is {reason}; "
                    f'quote it ("{text}") to say so, or write the value you mean',
                )
        return text

    def mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, Position] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if (
                isinstance(key_node, ScalarNode)
                and key_node.tag == _PLAIN
                and key_node.value == "<<"
            ):
                merged.update(self.merge_source(value_node, path, depth))
                continue
            key = self.key(key_node)
            if key is None:
                continue
            if key in first_seen:
                first = first_seen[key]
                self.error(
                    key_node,
                    "yaml-duplicate-key",
                    f"duplicate key '{key}' (first given at line {first.line}, "
                    f"column {first.column}); a later value would silently replace the first",
                )
                continue
            first_seen[key] = self.pos(key_node)
            self.source.keys[path + (key,)] = self.pos(key_node)
            result[key] = self.build(value_node, path + (key,), depth + 1)
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def merge_source(self, node: Node, path: Path, depth: int) -> dict[str, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in sources:
            if not isinstance(source, MappingNode):
                self.error(source, "yaml-merge", "'<<' merges only mappings")
                continue
            for key, value in self.mapping(source, path, depth).items():
                merged.setdefault(key, value)
        return merged

    def key(self, node: Node) -> str | None:
        if not isinstance(node, ScalarNode):
            self.error(node, "yaml-key", "a key must be plain text, not a list or mapping")
            return None
        if node.tag == _CORE + "str":
            return node.value
        value = self.plain(node, warn=False) if node.tag == _PLAIN else node.value
        if not isinstance(value, str):
            self.error(
                node,
                "yaml-key",
                f"the key {node.value or '(empty)'} is not text; quote it ('{node.value}') "
                "if it is meant as a name",
            )
            return None
        return value


def _one_line(message: str) -> str:
    return " ".join(message.split())


class _TooBig(Exception):
    def __init__(self, node: Node, message: str, path: Path = ()) -> None:
        super().__init__(message)
        self.node = node
        self.path = path


def _compose(text: str) -> Node | None:
    """The node tree of ``text``: libyaml when it is there, and PyYAML's own reader for errors,
    so messages and positions (character offsets, not bytes) are the same either way."""
    if _COMPOSER is not _ComposeOnly:
        try:
            return _COMPOSER(text).get_single_node()
        except yaml.YAMLError:
            pass  # report it exactly as the pure-Python composer does
    loader = _ComposeOnly(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def load_yaml(text: str, filename: str) -> LoadedYaml:
    """Compose ``text`` safely into plain data plus a source map and diagnostics."""
    builder = _Builder(filename)
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = (
            Position(filename, mark.line + 1, mark.column + 1) if mark else Position(filename, 1, 1)
        )
        message = str(exc.problem or exc.context or "bad YAML")
        context = exc.context if exc.problem else None
        if context:
            started = exc.context_mark
            if started is not None and (started.line, started.column) != (mark.line, mark.column):
                context += f" (started at line {started.line + 1}, column {started.column + 1})"
            message = f"{context}: {message}"
        message = "bad YAML: " + message
        return LoadedYaml(
            None, builder.source, [Diagnostic(pos, "error", "yaml-syntax", _one_line(message))]
        )
    except ReaderError as exc:
        # A control character (or similar) YAML does not allow: point at it, on one line.
        before = text[: exc.position]
        line = before.count("\n") + 1
        column = exc.position - (before.rfind("\n") + 1) + 1
        char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
        message = (
            f"the character {char!r} (U+{ord(char[:1] or ' '):04X}) is not allowed in YAML text"
        )
        return LoadedYaml(
            None,
            builder.source,
            [Diagnostic(Position(filename, line, column), "error", "yaml-syntax", message)],
        )
    except RecursionError:  # thousands of unclosed brackets: PyYAML's composer recurses per level
        message = f"the document nests far deeper than {MAX_DEPTH} levels"
        return LoadedYaml(
            None,
            builder.source,
            [Diagnostic(Position(filename, 1, 1), "error", "yaml-too-large", message)],
        )
    except yaml.YAMLError as exc:
        pos = Position(filename, 1, 1)
        return LoadedYaml(
            None, builder.source, [Diagnostic(pos, "error", "yaml-syntax", _one_line(str(exc)))]
        )
    if node is None:
        return LoadedYaml({}, builder.source, [])
    try:
        data = builder.build(node, ())
    except _TooBig as exc:
        # Point at the top-level key whose value blew up (the expanded nodes sit elsewhere).
        top = builder.source.keys.get(exc.path[:1]) if exc.path else None
        where = f" (in '{exc.path[0]}')" if top else ""
        builder.diagnostics.append(
            Diagnostic(
                top or builder.pos(exc.node),
                "error",
                "yaml-too-large",
                f"{exc}{where}; anchors and aliases are for small reuse (is this an alias bomb?)",
            )
        )
        return LoadedYaml(None, builder.source, builder.diagnostics)
    except RecursionError:
        builder.error(node, "yaml-too-large", "the document nests too deeply")
        return LoadedYaml(None, builder.source, builder.diagnostics)
    return LoadedYaml(data, builder.source, builder.diagnostics)
