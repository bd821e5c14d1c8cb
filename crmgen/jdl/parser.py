"""A JHipster JDL file read into plain data: entities, enums, relationships, options and the
application blocks. A hand-written tokenizer and recursive-descent parser; nothing is evaluated.
Bad JDL raises :class:`JdlError` with its line and column."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class JdlError(Exception):
    """A problem in the JDL text, at ``line``:``column`` (1-based)."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Token:
    kind: str  # "name", "number", "string", "regex", "punct" or "end"
    text: str
    line: int
    column: int
    doc: str | None = None  # the /** ... */ comment just before it


@dataclass
class Annotation:
    name: str
    value: str | None
    line: int
    column: int


@dataclass
class JdlField:
    name: str
    type: str
    validations: dict[str, str | None]
    doc: str | None
    annotations: list[Annotation]
    line: int
    column: int


@dataclass
class JdlEntity:
    name: str
    table: str | None
    doc: str | None
    annotations: list[Annotation]
    fields: list[JdlField]
    line: int
    column: int


@dataclass
class JdlEnum:
    name: str
    values: list[tuple[str, str | None]]  # (name, custom label)
    doc: str | None
    line: int
    column: int


@dataclass
class RelationSide:
    entity: str
    field: str | None
    display: str | None
    required: bool
    doc: str | None
    annotations: list[Annotation]
    line: int
    column: int


@dataclass
class JdlRelationship:
    kind: str  # OneToOne, ManyToOne, OneToMany, ManyToMany
    source: RelationSide
    target: RelationSide
    options: list[str]  # e.g. ["builtInEntity"]
    line: int
    column: int


@dataclass
class JdlOption:
    name: str  # paginate, search, dto, service, skipClient, ...
    entities: list[str]  # names, or ["*"] for all
    value: str | None
    excluded: list[str]
    line: int
    column: int


@dataclass
class JdlApplication:
    config: dict[str, object]
    entities: list[str]
    line: int
    column: int


@dataclass
class JdlModel:
    entities: list[JdlEntity] = field(default_factory=list)
    enums: list[JdlEnum] = field(default_factory=list)
    relationships: list[JdlRelationship] = field(default_factory=list)
    options: list[JdlOption] = field(default_factory=list)
    applications: list[JdlApplication] = field(default_factory=list)
    ignored: list[tuple[str, int, int]] = field(default_factory=list)  # (what, line, column)


RELATIONSHIP_KINDS = ("OneToOne", "ManyToOne", "OneToMany", "ManyToMany")
VALIDATIONS = {"required", "unique", "minlength", "maxlength", "pattern", "min", "max"}
VALIDATIONS |= {"minbytes", "maxbytes"}
_TOKEN = re.compile(
    r"(?P<name>[A-Za-z_$][A-Za-z0-9_$.\-]*)|(?P<number>-?[0-9]+(\.[0-9]+)?)"
    r"|(?P<string>\"(\\.|[^\"\\\n])*\"|'(\\.|[^'\\\n])*')|(?P<punct>[{}()\[\],=*@:;])"
)


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``; comments are skipped, a ``/** */`` comment rides on the next token."""
    tokens: list[Token] = []
    pos, line, line_start = 0, 1, 0
    doc: str | None = None
    while pos < len(text):
        char = text[pos]
        column = pos - line_start + 1
        if char == "\n":
            pos, line, line_start = pos + 1, line + 1, pos + 1
            continue
        if char in " \t\r\ufeff":
            pos += 1
            continue
        if text.startswith("//", pos):
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
            continue
        if text.startswith("/*", pos):
            end = text.find("*/", pos + 2)
            if end < 0:
                raise JdlError("unterminated comment", line, column)
            body = text[pos + 2 : end]
            if body.startswith("*") and not body.startswith("**/"):
                doc = _doc_text(body[1:])
            line += body.count("\n")
            if "\n" in body:
                line_start = pos + 2 + body.rfind("\n") + 1
            pos = end + 2
            continue
        if char == "/" and _after_pattern(tokens):
            end = text.find("/)", pos + 1)
            if end < 0 or "\n" in text[pos:end]:
                raise JdlError(
                    "unterminated regular expression (write pattern(/.../))", line, column
                )
            tokens.append(Token("regex", text[pos + 1 : end], line, column, doc))
            pos, doc = end + 1, None
            continue
        match = _TOKEN.match(text, pos)
        if not match or match.lastgroup is None:
            raise JdlError(f"unexpected character {char!r}", line, column)
        kind = match.lastgroup
        value = match.group()
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append(Token(kind, value, line, column, doc))
        pos, doc = match.end(), None
    tokens.append(Token("end", "", line, pos - line_start + 1))
    return tokens


def _after_pattern(tokens: list[Token]) -> bool:
    return len(tokens) >= 2 and tokens[-1].text == "(" and tokens[-2].text == "pattern"


def _doc_text(body: str) -> str | None:
    lines = [re.sub(r"^\s*\*?\s?", "", raw).rstrip() for raw in body.splitlines()]
    lines = [entry for entry in lines if entry and not entry.startswith("@")]
    return " ".join(entry.strip() for entry in lines) or None


class Parser:
    """Recursive descent over the tokens of one JDL text."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.model = JdlModel()
        self.constants: dict[str, str] = {}

    # -- helpers
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.pos += 1
        return token

    def at(self, text: str) -> bool:
        return self.peek().kind in ("name", "punct") and self.peek().text == text

    def accept(self, text: str) -> bool:
        if self.at(text):
            self.pos += 1
            return True
        return False

    def expect(self, text: str, what: str | None = None) -> Token:
        if not self.at(text):
            self.fail(f"expected {what or repr(text)}")
        return self.next()

    def name(self, what: str) -> Token:
        if self.peek().kind != "name":
            self.fail(f"expected {what}")
        return self.next()

    def fail(self, message: str) -> None:
        token = self.peek()
        found = "the end of the file" if token.kind == "end" else repr(token.text)
        raise JdlError(f"{message}, found {found}", token.line, token.column)

    # -- grammar
    def parse(self) -> JdlModel:
        while self.peek().kind != "end":
            self.statement()
        return self.model

    def statement(self) -> None:
        token = self.peek()
        if token.kind == "punct" and token.text == "@":
            annotations = self.annotations()
            if not self.at("entity"):
                self.fail("expected 'entity' after annotations")
            self.entity(annotations, token.doc)
        elif self.at("entity"):
            self.entity([], token.doc)
        elif self.at("enum"):
            self.enum()
        elif self.at("relationship"):
            self.relationship()
        elif self.at("application"):
            self.application()
        elif self.at("deployment"):
            self.next()
            self.model.ignored.append(("deployment block", token.line, token.column))
            self.skip_block()
        elif token.kind == "name" and self.peek(1).text == "=":
            self.next()
            self.next()
            value = self.next()
            if value.kind not in ("number", "string", "name"):
                raise JdlError("expected a constant value", value.line, value.column)
            self.constants[token.text] = value.text
        elif token.kind == "name":
            self.option()
        else:
            self.fail("expected 'entity', 'enum', 'relationship', 'application' or an option")

    def annotations(self) -> list[Annotation]:
        found = []
        while self.at("@"):
            at = self.next()
            name = self.name("an annotation name")
            value = self.parenthesised()
            found.append(Annotation(name.text, value, at.line, at.column))
        return found

    def parenthesised(self) -> str | None:
        """The words of an optional ``( ... )`` (an annotation's value, an enum label), joined."""
        if not self.accept("("):
            return None
        parts = []
        while not self.at(")"):
            if self.peek().kind == "end":
                self.fail("expected ')'")
            parts.append(self.next().text)
        self.next()
        return " ".join(parts)

    def entity(self, annotations: list[Annotation], doc: str | None) -> None:
        keyword = self.next()
        name = self.name("an entity name")
        doc = doc or keyword.doc
        table = None
        if self.accept("("):
            table = self.name("a table name").text
            self.expect(")")
        fields: list[JdlField] = []
        if self.accept("{"):
            while not self.accept("}"):
                fields.append(self.field())
                self.accept(",")
        self.model.entities.append(
            JdlEntity(name.text, table, doc, annotations, fields, name.line, name.column)
        )

    def field(self) -> JdlField:
        doc = self.peek().doc
        annotations = self.annotations() if self.at("@") else []
        name = self.name("a field name or '}'")
        doc = doc or name.doc
        ftype = self.name(f"the type of field '{name.text}'")
        validations: dict[str, str | None] = {}
        while self.peek().kind == "name" and self.peek().text in VALIDATIONS:
            rule = self.next()
            if rule.text in ("required", "unique"):
                validations[rule.text] = None
                continue
            self.expect("(", f"'(' after {rule.text}")
            value = self.next()
            if value.kind == "end":
                raise JdlError(f"expected a value for {rule.text}", value.line, value.column)
            text = (
                self.constants.get(value.text, value.text) if value.kind == "name" else value.text
            )
            if rule.text != "pattern" and not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
                raise JdlError(
                    f"{rule.text} needs a number or a constant, not {value.text!r}",
                    value.line,
                    value.column,
                )
            validations[rule.text] = text
            self.expect(")")
        return JdlField(
            name.text, ftype.text, validations, doc, annotations, name.line, name.column
        )

    def enum(self) -> None:
        keyword = self.next()
        name = self.name("an enum name")
        self.expect("{")
        values: list[tuple[str, str | None]] = []
        while not self.accept("}"):
            value = self.next()
            if value.kind not in ("name", "number"):
                raise JdlError("expected an enum value or '}'", value.line, value.column)
            label = self.parenthesised()
            values.append((value.text, label))
            self.accept(",")
        self.model.enums.append(JdlEnum(name.text, values, keyword.doc, name.line, name.column))

    def relationship(self) -> None:
        self.next()
        kind = self.name("a relationship kind")
        if kind.text not in RELATIONSHIP_KINDS:
            raise JdlError(
                f"unknown relationship kind {kind.text!r} (use {', '.join(RELATIONSHIP_KINDS)})",
                kind.line,
                kind.column,
            )
        self.expect("{")
        while not self.accept("}"):
            source = self.side()
            self.expect("to", "'to'")
            target = self.side()
            options = []
            while self.accept("with"):
                options.append(self.name("a relationship option").text)
            self.accept(",")
            self.model.relationships.append(
                JdlRelationship(kind.text, source, target, options, source.line, source.column)
            )

    def side(self) -> RelationSide:
        doc = self.peek().doc
        annotations = self.annotations() if self.at("@") else []
        entity = self.name("an entity name")
        doc = doc or entity.doc
        fname = display = None
        required = False
        if self.accept("{"):
            fname = self.name("a relationship field name").text
            if self.accept("("):
                display = self.name("a display field").text
                self.expect(")")
            while self.peek().kind == "name" and self.peek().text != "}":
                rule = self.next()
                if rule.text == "required":
                    required = True
                else:
                    self.model.ignored.append(
                        (f"relationship validation '{rule.text}'", rule.line, rule.column)
                    )
                    if self.accept("("):
                        while not self.accept(")"):
                            self.next()
            self.expect("}")
        return RelationSide(
            entity.text, fname, display, required, doc, annotations, entity.line, entity.column
        )

    def option(self) -> None:
        name = self.next()
        entities = self.entity_list()
        value = None
        excluded: list[str] = []
        if self.accept("with"):
            value = self.name(f"a value for {name.text}").text
        if self.accept("except"):
            excluded = self.entity_list()
        self.model.options.append(
            JdlOption(name.text, entities, value, excluded, name.line, name.column)
        )

    def entity_list(self) -> list[str]:
        if self.accept("*") or self.accept("all"):
            return ["*"]
        names = [self.name("an entity name, '*' or 'all'").text]
        while self.accept(","):
            names.append(self.name("an entity name").text)
        return names

    def application(self) -> None:
        keyword = self.next()
        self.expect("{")
        config: dict[str, object] = {}
        entities: list[str] = []
        while not self.accept("}"):
            if self.accept("config"):
                self.expect("{")
                while not self.accept("}"):
                    key = self.name("a config key")
                    config[key.text] = self.config_value()
                    self.accept(",")
            elif self.accept("entities"):
                entities = self.entity_list()
                if self.accept("except"):
                    self.entity_list()
            elif self.peek().kind == "name" and self.peek(1).text == "{":
                token = self.next()
                self.model.ignored.append(
                    (f"application {token.text} block", token.line, token.column)
                )
                self.skip_block()
            elif self.peek().kind == "name":
                self.option()
            else:
                self.fail("expected 'config', 'entities' or an option")
        self.model.applications.append(
            JdlApplication(config, entities, keyword.line, keyword.column)
        )

    def config_value(self) -> object:
        if self.accept("["):
            items = []
            while not self.accept("]"):
                items.append(self.next().text)
                self.accept(",")
            return items
        token = self.next()
        if token.kind == "end":
            raise JdlError("expected a config value", token.line, token.column)
        return token.text

    def skip_block(self) -> None:
        self.expect("{")
        depth = 1
        while depth:
            token = self.next()
            if token.kind == "end":
                raise JdlError("unclosed '{'", token.line, token.column)
            if token.kind == "punct" and token.text in "{}":
                depth += 1 if token.text == "{" else -1


def parse_jdl(text: str) -> JdlModel:
    """The model of a JDL text; raises :class:`JdlError` for bad JDL."""
    return Parser(text).parse()
