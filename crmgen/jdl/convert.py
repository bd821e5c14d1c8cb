"""A parsed JDL model turned into a crmgen spec (plain data) and the notes on what had no
equivalent or was changed on the way. See ../../docs/import-jdl.md."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from crmgen.jdl.parser import (
    JdlEntity,
    JdlField,
    JdlModel,
    JdlOption,
    JdlRelationship,
    RelationSide,
)
from crmgen.language.names import (
    BUILTIN_FIELDS,
    QUERY_PARAMETERS,
    RECORD_COLLECTIONS,
    name_problem,
    snake_case,
)

# The role every signed-in JHipster user has (ROLE_USER); JHipster lets it change every entity.
STAFF = "staff"
# JHipster's default page size (ITEMS_PER_PAGE).
PAGE_SIZE = 20
IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"]
ON_DELETE = {"CASCADE": "cascade", "SET NULL": "set_null", "SETNULL": "set_null"}
ON_DELETE |= {"RESTRICT": "restrict", "NO ACTION": "restrict", "NOACTION": "restrict"}
# Options with an equivalent here; every other one is reported.
APPLIED_OPTIONS = {"paginate", "search", "filter", "readOnly"}


@dataclass(frozen=True)
class Note:
    """One thing the import changed or left out, at a JDL position."""

    line: int
    column: int
    severity: str  # "warning" (changed) or "note" (no equivalent, left out)
    message: str


@dataclass
class Conversion:
    spec: dict[str, Any]
    notes: list[Note] = field(default_factory=list)


def convert(model: JdlModel, default_name: str) -> Conversion:
    """The crmgen spec of ``model``; ``default_name`` names the app when no baseName does."""
    return _Converter(model).run(default_name)


class _Converter:
    def __init__(self, model: JdlModel) -> None:
        self.model = model
        self.notes: list[Note] = []
        self.enums = {enum.name: enum for enum in model.enums}
        self.names: dict[str, str] = {}  # JDL entity name -> crmgen entity name
        self.entities: dict[str, dict[str, Any]] = {}
        self.field_names: dict[str, set[str]] = {}
        self.scalars: dict[str, dict[str, str]] = {}  # entity -> JDL field -> crmgen field

    def note(self, where: Any, message: str, severity: str = "note") -> None:
        self.notes.append(Note(where.line, where.column, severity, message))

    def run(self, default_name: str) -> Conversion:
        spec: dict[str, Any] = {"version": 1, "app": self.app(default_name)}
        spec["roles"] = {
            "admin": {"label": "Administrator", "superuser": True},
            STAFF: {"label": "Staff", "description": "Every signed-in user (JHipster's ROLE_USER)"},
        }
        for entity in self.model.entities:
            if entity.name in self.names:
                raise ConversionError(
                    f"entity {entity.name} is defined twice", entity.line, entity.column
                )
            self.names[entity.name] = self.entity_name(entity)
        for entity in self.model.entities:
            self.entities[entity.name] = self.entity(entity)
        for relationship in self.model.relationships:
            self.relationship(relationship)
        self.options()
        for what, line, column in self.model.ignored:
            self.notes.append(Note(line, column, "note", f"{what}: no equivalent, left out"))
        entities = {self.names.get(name, name): body for name, body in self.entities.items()}
        if entities:
            spec["entities"] = entities
        self.notes.sort(key=lambda n: (n.line, n.column))
        return Conversion(spec, self.notes)

    # -- the app
    def app(self, default_name: str) -> dict[str, Any]:
        config: dict[str, object] = {}
        for application in self.model.applications:
            config.update(application.config)
            ignored = sorted(key for key in application.config if key != "baseName")
            if ignored:
                self.note(
                    application,
                    f"application config {', '.join(ignored)}: no equivalent, left out "
                    "(crmgen apps run on SQLite or PostgreSQL with their own sign-in)",
                )
        if len(self.model.applications) > 1:
            self.note(
                self.model.applications[1],
                "several applications: their entities are imported into one app",
            )
        base = str(config.get("baseName", "")) or default_name
        name = re.sub(r"[^a-z0-9]+", "_", snake_case(base)).strip("_") or "crm"
        if name_problem(name, "app"):
            name = f"{name}_crm" if name[:1].isalpha() else "crm"
        return {"name": name, "title": _humanize(base)}

    # -- entities and fields
    def entity_name(self, entity: JdlEntity) -> str:
        if entity.name == "User":
            return "User"
        name = entity.name
        if name_problem(name, "entity"):
            fixed = "".join(w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", name) if w)
            if name_problem(fixed, "entity"):
                fixed = f"{fixed}Record"
            self.note(
                entity, f"entity {name} renamed {fixed} ({name_problem(name, 'entity')})", "warning"
            )
            name = fixed
        return name

    def entity(self, entity: JdlEntity) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if entity.doc:
            body["description"] = entity.doc
        if entity.table and entity.name != "User":
            problem = name_problem(entity.table, "table")
            if problem:
                self.note(entity, f"table name ignored: {problem}", "warning")
            else:
                body["table"] = entity.table
        for annotation in entity.annotations:
            self.annotation(entity.name, annotation.name, annotation.value, annotation)
        fields: dict[str, Any] = {}
        self.field_names[entity.name] = set()
        for jdl_field in entity.fields:
            converted = self.field(entity, jdl_field)
            if converted is not None:
                name = self.field_name(entity.name, jdl_field.name, jdl_field, "_value")
                fields[name] = converted
                self.scalars.setdefault(entity.name, {})[jdl_field.name] = name
        body["fields"] = fields
        if entity.name != "User":
            body["permissions"] = {STAFF: "all"}
        return body

    def annotation(self, entity: str, name: str, value: str | None, where: Any) -> None:
        self.model.options.append(_option(name, entity, value, where.line, where.column))

    def field_name(self, entity: str, jdl_name: str, where: Any, suffix: str) -> str:
        name = re.sub(r"[^a-z0-9]+", "_", snake_case(jdl_name)).strip("_")
        taken = self.field_names.setdefault(entity, set())
        reserved = _RESERVED_RELATIONS if suffix == "_link" else _RESERVED_FIELDS
        if name_problem(name, "field") or name in reserved or name in taken:
            fixed = f"{name}{suffix}"
            reason = name_problem(name, "field") or (
                f"'{name}' is already a field of {entity}"
                if name in taken
                else f"'{name}' is reserved by the generated app"
            )
            self.note(where, f"field {jdl_name} renamed {fixed} ({reason})", "warning")
            name = fixed
        taken.add(name)
        return name

    def field(self, entity: JdlEntity, jdl: JdlField) -> dict[str, Any] | None:
        if jdl.name == "id":
            self.note(jdl, "field id left out: every crmgen record has its own id key")
            return None
        for annotation in jdl.annotations:
            self.note(annotation, f"field annotation @{annotation.name}: no equivalent, left out")
        spec: dict[str, Any] = self.field_type(jdl)
        rules = dict(jdl.validations)
        kind = spec["type"]
        if "required" in rules:
            spec["required"] = True
        if "unique" in rules:
            if kind in ("text", "file"):
                self.note(jdl, f"unique on {jdl.name} left out: a {kind} field cannot be unique")
            else:
                spec["unique"] = True
        for jdl_key, key in (("minlength", "min_length"), ("maxlength", "max_length")):
            if jdl_key in rules and kind in ("string", "text"):
                spec[key] = int(float(rules[jdl_key] or 0))
        if "pattern" in rules and kind == "string":
            spec["pattern"] = rules["pattern"]
        for key in ("min", "max"):
            if key in rules and kind in ("integer", "bigint", "float", "decimal"):
                number = float(rules[key] or 0)
                whole = kind in ("integer", "bigint") or number.is_integer()
                spec[key] = int(number) if whole else number
        if "maxbytes" in rules:
            size = int(float(rules["maxbytes"] or 0))
            if kind == "file":
                spec["max_size_mb"] = max(1, math.ceil(size / 1_000_000))
            elif kind == "text":
                spec["max_length"] = size
        if "minbytes" in rules:
            self.note(jdl, f"minbytes on {jdl.name}: no equivalent, left out")
        for jdl_key in ("minlength", "maxlength", "pattern", "min", "max"):
            applies = {
                "minlength": ("string", "text"),
                "maxlength": ("string", "text"),
                "pattern": ("string",),
                "min": ("integer", "bigint", "float", "decimal"),
                "max": ("integer", "bigint", "float", "decimal"),
            }[jdl_key]
            if jdl_key in rules and kind not in applies and jdl.type != "UUID":
                self.note(jdl, f"{jdl_key} on {jdl.type} field {jdl.name}: no equivalent, left out")
        if jdl.doc:
            spec["help"] = jdl.doc
        return spec

    def field_type(self, jdl: JdlField) -> dict[str, Any]:
        simple = {
            "String": "string",
            "Integer": "integer",
            "Long": "bigint",
            "Float": "float",
            "Double": "float",
            "BigDecimal": "decimal",
            "Boolean": "boolean",
            "LocalDate": "date",
            "LocalTime": "time",
            "Instant": "datetime",
            "ZonedDateTime": "datetime",
            "TextBlob": "text",
            "Blob": "file",
            "AnyBlob": "file",
        }
        if jdl.type in simple:
            return {"type": simple[jdl.type]}
        if jdl.type == "ImageBlob":
            return {"type": "file", "accept": list(IMAGE_TYPES)}
        if jdl.type == "UUID":
            self.note(jdl, f"{jdl.name}: UUID imported as a string checked by a pattern", "warning")
            return {"type": "string", "max_length": 36, "pattern": _UUID}
        if jdl.type == "Duration":
            self.note(
                jdl, f"{jdl.name}: Duration imported as an ISO 8601 string (PT1H30M)", "warning"
            )
            return {"type": "string", "max_length": 40, "pattern": _DURATION}
        if jdl.type in self.enums:
            return {"type": "enum", "values": self.enum_values(jdl.type)}
        raise ConversionError(
            f"unknown type {jdl.type!r} of field {jdl.name}", jdl.line, jdl.column
        )

    def enum_values(self, name: str) -> list[str] | dict[str, str]:
        values = self.enums[name].values
        if any(label for _, label in values):
            return {value: label or _humanize(value) for value, label in values}
        return [value for value, _ in values]

    # -- relationships
    def relationship(self, rel: JdlRelationship) -> None:
        for option in rel.options:
            if option not in ("builtInEntity",):
                self.note(rel, f"relationship option {option}: no equivalent, left out")
        for side in (rel.source, rel.target):
            self.known(side)
        if rel.kind == "OneToMany":
            owner, other = rel.target, rel.source
            default = _lower_first(rel.source.entity)
        else:
            owner, other = rel.source, rel.target
            default = _lower_first(rel.target.entity)
        if other.entity == "User" and other.field:
            self.note(
                other, f"the reverse side {other.field} on User is crmgen's default back-reference"
            )
        spec: dict[str, Any] = {"type": "refs" if rel.kind == "ManyToMany" else "ref"}
        spec["to"] = self.names.get(other.entity, other.entity)
        if rel.kind == "OneToOne":
            spec["one_to_one"] = True
        if owner.required and rel.kind != "ManyToMany":
            spec["required"] = True
        if other.field and other.entity != "User":
            back = re.sub(r"[^a-z0-9]+", "_", snake_case(other.field)).strip("_")
            if back in _RESERVED_BACKS or name_problem(back, "field"):
                self.note(
                    other, f"back-reference {back} renamed {back}_list (a reserved name)", "warning"
                )
                back = f"{back}_list"
            spec["back"] = back
        for annotation in [*rel.source.annotations, *rel.target.annotations]:
            action = ON_DELETE.get((annotation.value or "").strip("\"' ").upper())
            if annotation.name == "OnDelete" and action and spec["type"] == "ref":
                spec["on_delete"] = action
            else:
                self.note(annotation, f"relationship annotation @{annotation.name}: no equivalent")
        doc = owner.doc or (rel.source.doc if rel.kind == "OneToMany" else None)
        if doc:
            spec["help"] = doc
        # a side's display field is a field of the entity on the other side
        if owner.display and other.entity != "User":
            self.display(other.entity, owner.display, owner)
        if other.display and owner.entity != "User":
            self.display(owner.entity, other.display, other)
        target_entity = owner.entity
        holder = self.entities.setdefault(target_entity, {"fields": {}})
        name = self.field_name(target_entity, owner.field or default, owner, "_link")
        holder["fields"][name] = spec

    def known(self, side: RelationSide) -> None:
        if side.entity != "User" and side.entity not in self.names:
            raise ConversionError(f"unknown entity {side.entity!r}", side.line, side.column)

    def display(self, entity: str, jdl_field: str, where: Any) -> None:
        body = self.entities[entity]
        name = self.scalars.get(entity, {}).get(jdl_field)
        if name is None:
            if jdl_field != "id":
                self.note(where, f"display field {jdl_field} is not a field of {entity}")
            return
        current = body.get("display")
        if current and current != name:
            self.note(where, f"{entity} is shown by {current}; display field {jdl_field} ignored")
        else:
            body["display"] = name

    # -- options
    def options(self) -> None:
        for option in self.model.options:
            names = (
                [e.name for e in self.model.entities]
                if option.entities == ["*"]
                else option.entities
            )
            names = [n for n in names if n not in option.excluded]
            if option.name not in APPLIED_OPTIONS:
                value = f" with {option.value}" if option.value else ""
                self.note(option, f"option {option.name}{value}: no equivalent, left out")
                continue
            for name in names:
                if name not in self.entities:
                    self.note(option, f"option {option.name} names an unknown entity {name}")
                    continue
                self.apply(option.name, self.entities[name])

    def apply(self, option: str, body: dict[str, Any]) -> None:
        if option == "paginate":
            body.setdefault("ui", {})["list"] = {"page_size": PAGE_SIZE}
        elif option == "readOnly":
            body["permissions"] = {STAFF: "read"}
        elif option == "search":
            searched = [
                name
                for name, spec in body["fields"].items()
                if spec.get("type") in ("string", "text")
            ]
            for name in searched:
                if body["fields"][name]["type"] == "text":
                    body["fields"][name]["searchable"] = True
            body["search"] = searched
        # filter: every crmgen list filters on its fields already.


class ConversionError(Exception):
    """A JDL model that names something it does not define."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def _option(name: str, entity: str, value: str | None, line: int, column: int) -> JdlOption:
    return JdlOption(name, [entity], value, [], line, column)


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _humanize(name: str) -> str:
    words = re.sub(r"[_\-]+", " ", snake_case(name)).split()
    return " ".join(words).capitalize() if words else name


# Names crmgen refuses (crmgen/language/names.py): fields, and also for relations and back-references
# (Python keywords and ``metadata`` are fine: the model attribute is ``from_``, ``metadata_``)
_RESERVED_FIELDS = BUILTIN_FIELDS
_RESERVED_RELATIONS = _RESERVED_FIELDS | RECORD_COLLECTIONS
_RESERVED_BACKS = _RESERVED_RELATIONS | QUERY_PARAMETERS
_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_DURATION = "-?P([0-9]+D)?(T([0-9]+H)?([0-9]+M)?([0-9]+(\\.[0-9]+)?S)?)?"
