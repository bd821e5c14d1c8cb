"""The state shared while building the model: diagnostics, positions and name lookups."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from crmgen.diagnostics import Diagnostic, Position, did_you_mean
from crmgen.language import expressions
from crmgen.language.custom_code import CustomCode
from crmgen.language.expressions import EntityValue, Expression, Kind, ListOf, Opaque, Scope
from crmgen.language.model import Condition, Field, Value
from crmgen.language.steps import FILTER_OPERATORS
from crmgen.language.yaml_loader import Path, SourceMap

USER = "User"


@dataclass
class Context:
    data: dict[str, Any]
    source: SourceMap
    fallback_file: str
    broken_entities: set[str] = field(default_factory=set)
    broken_names: set[tuple[str, str]] = field(default_factory=set)
    broken_fields: set[tuple[str, str]] = field(default_factory=set)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Filled while building: every entity's fields (User included), by entity name.
    fields: dict[str, dict[str, Field]] = field(default_factory=dict)
    roles: tuple[str, ...] = ()
    # The spec's custom folder (crmgen.language.custom_code), when it has one.
    custom: CustomCode | None = None

    # -- reporting ---------------------------------------------------------------------------
    def pos(self, path: Path, at_key: bool = False) -> Position:
        found = self.source.key(path) if at_key else self.source.value(path)
        return found or Position(self.fallback_file, 1, 1)

    def error(self, path: Path, code: str, message: str, at_key: bool = False) -> None:
        self.diagnostics.append(Diagnostic(self.pos(path, at_key), "error", code, message))

    def warn(self, path: Path, code: str, message: str, at_key: bool = False) -> None:
        self.diagnostics.append(Diagnostic(self.pos(path, at_key), "warning", code, message))

    # -- references --------------------------------------------------------------------------
    def entity_names(self) -> list[str]:
        return sorted(set(self.fields) | self.broken_entities)

    def known_entity(self, name: str, path: Path, what: str = "entity") -> bool:
        """True when ``name`` is a usable entity; reports unknown names with a hint."""
        if name in self.fields:
            return True
        if name in self.broken_entities:
            return False  # its own errors are reported already
        hint = did_you_mean(name, self.entity_names())
        self.error(path, "ref-entity", f"unknown {what} '{name}'{hint}")
        return False

    def known_field(self, entity: str, name: str, path: Path, at_key: bool = False) -> Field | None:
        table = self.fields.get(entity)
        if table is None:
            return None
        if name in table:
            return table[name]
        if (entity, name) in self.broken_fields:
            return None  # its own errors are reported already
        hint = did_you_mean(name, table)
        self.error(path, "ref-field", f"{entity} has no field '{name}'{hint}", at_key)
        return None

    def known_column(
        self, entity: str, name: str, path: Path, at_key: bool = False
    ) -> Field | None:
        """Like ``known_field``, but also the automatic columns (id, created_at, updated_at).

        For places that only read a column (sorting, grouping in charts, reports, aggregates):
        "new leads per month" groups by created_at. Steps that write values still use
        ``known_field``, so the automatic columns stay read-only there.
        """
        table = self.fields.get(entity)
        raw = (self.data.get("entities") or {}).get(entity)
        stamped = not isinstance(raw, dict) or raw.get("timestamps", True) is not False
        if (
            table is not None
            and name not in table
            and (name == "id" or (stamped and name in ("created_at", "updated_at")))
        ):
            from crmgen.diagnostics import NOWHERE
            from crmgen.language.text import Text, humanize

            return Field(
                name,
                "integer" if name == "id" else "datetime",
                Text.of(None, humanize(name)),
                NOWHERE,
                read_only=True,
            )
        return self.known_field(entity, name, path, at_key)

    def known_role(self, name: str, path: Path, at_key: bool = False) -> bool:
        if name in self.roles or ("roles", name) in self.broken_names:
            return True
        hint = did_you_mean(name, self.roles)
        self.error(path, "ref-role", f"unknown role '{name}'{hint}", at_key)
        return False

    def known_names(self, section: str, name: str, path: Path, what: str) -> bool:
        table = self.data.get(section) or {}
        if name in table or (section, name) in self.broken_names:
            return True
        hint = did_you_mean(name, table)
        self.error(path, f"ref-{what.replace(' ', '-')}", f"unknown {what} '{name}'{hint}")
        return False

    # -- expressions -------------------------------------------------------------------------
    def attributes(self, entity: str) -> Mapping[str, Kind] | None:
        table = self.fields.get(entity)
        if table is None:
            return None
        attrs: dict[str, Kind] = {
            n: Opaque() for n in ("id", "version", "created_at", "updated_at")
        }
        for broken_entity, broken_field in self.broken_fields:
            if broken_entity == entity:
                attrs[broken_field] = Opaque()  # its own errors are reported already
        for name, f in table.items():
            if f.relation is None:
                attrs[name] = Opaque()
            elif f.relation.kind == "many_to_many":
                attrs[name] = ListOf(f.relation.target)
            else:
                attrs[name] = EntityValue(f.relation.target)
                attrs[f"{name}_id"] = Opaque()
        for other, table2 in self.fields.items():
            for f in table2.values():
                if f.relation is not None and f.relation.target == entity and f.relation.back:
                    one = f.relation.kind == "one_to_one"
                    attrs.setdefault(f.relation.back, EntityValue(other) if one else ListOf(other))
        return attrs

    def scope(self, **names: Kind) -> Scope:
        return Scope(dict(names), self.attributes)

    def expr(self, text: str, path: Path, scope: Scope, offset: int = 0) -> Expression:
        expression, _kind = self.expr_kind(text, path, scope, offset)
        return expression

    def expr_kind(
        self, text: str, path: Path, scope: Scope, offset: int = 0
    ) -> tuple[Expression, Kind]:
        expression, problems, kind = expressions.check_kind(text, scope)
        base = self.pos(path)
        for p in problems:
            if p.line == 1:
                pos = Position(base.file, base.line, base.column + offset + p.column - 1)
            else:
                pos = Position(base.file, base.line + p.line - 1, p.column)
            self.diagnostics.append(Diagnostic(pos, "error", "expression", p.message))
        return expression, kind

    def value(self, raw: Any, path: Path, scope: Scope, target: Field | None = None) -> Value:
        """A literal, or an expression when the text starts with '='.

        With ``target``, a literal must fit that field (an enum value, a number, a date...).
        """
        if isinstance(raw, str) and raw.startswith("="):
            body = raw[1:]
            return Value(expr=self.expr(body, path, scope, offset=1))
        if target is not None and raw is not None:
            self.check_literal(target, raw, path)
        return Value(literal=freeze(raw))

    def check_literal(self, target: Field, raw: Any, path: Path) -> None:
        from crmgen.language.fields import REGISTRY

        if target.relation is not None:
            example = "user" if target.relation.target == USER else f"record.{target.name}"
            self.error(
                path,
                "value",
                f"'{target.name}' links to {target.relation.target}: give it an expression that yields one (e.g. '= {example}'), not a literal",
            )
            return
        options = {"values": [v.name for v in target.values]}
        for key in ("min", "max", "min_length", "max_length", "pattern"):
            if getattr(target, key) is not None:
                options[key] = getattr(target, key)
        problem = REGISTRY[target.type].check_default(raw, options)
        if problem:
            self.error(path, "value", problem.replace("the default", "the value"))

    def where(
        self, raw: Mapping[str, Any] | None, path: Path, entity: str, scope: Scope
    ) -> tuple[Condition, ...]:
        """Conditions ``field[__op]: value`` on ``entity``; dotted fields follow references."""
        conditions = []
        for key, raw_value in (raw or {}).items():
            name, _, op = key.partition("__")
            op = op or "eq"
            if op not in FILTER_OPERATORS and op != "eq":
                self.error(
                    path + (key,),
                    "where-op",
                    f"unknown operator '{op}'{did_you_mean(op, FILTER_OPERATORS)}",
                    True,
                )
                continue
            target = self.follow(entity, name, path + (key,))
            if target is not None and target.encrypted and op != "isnull":
                self.error(
                    path + (key,),
                    "encrypted",
                    f"'{name}' is encrypted: the database cannot compare its value "
                    "(only __isnull applies); filter on another field",
                    True,
                )
            if op == "isnull" or op == "contains" or target is None:
                target = None
            if op == "in" and isinstance(raw_value, list) and target is not None:
                for i, item in enumerate(raw_value):
                    self.check_literal(target, item, path + (key, i))
                target = None
            conditions.append(
                Condition(name, op, self.value(raw_value, path + (key,), scope, target))
            )
        return tuple(conditions)

    def follow(self, entity: str, dotted: str, path: Path) -> Field | None:
        """Resolve ``a.b.c`` from ``entity`` through references; report what does not exist."""
        current = entity
        found: Field | None = None
        for part in dotted.split("."):
            if current not in self.fields:
                return None
            if part in ("id", "created_at", "updated_at", "version"):
                return None
            found = self.known_field(current, part, path, at_key=True)
            if found is None:
                return None
            current = found.relation.target if found.relation else ""
        return found


def freeze(value: Any) -> Any:
    """Literals in the model are immutable: lists become tuples, mappings read-only views."""
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    return value
