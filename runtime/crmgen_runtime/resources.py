"""What the runtime knows of an app's entities: one ``Resource`` per entity, in a ``Catalog``.

A generated app describes its entities with these types (its ``resources.py``): a ``Resource``
holds the model, every field with its constraints (``FieldInfo``), the display field, the
searchable fields, the owner, the API actions enabled and the rules of each role, whose
``where`` conditions are functions giving SQLAlchemy expressions. The app's ``Catalog`` holds
them all, by API path and by name, with the roles that matter app-wide; each resource knows
its catalog (``resource.catalog``), so code that follows a link finds the target's resource.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from crmgen_runtime.config import AppConfig
from crmgen_runtime.events import Events
from crmgen_runtime.principal import CurrentUser

if TYPE_CHECKING:
    from crmgen_runtime.duplicates import Rule as DuplicateRule
    from crmgen_runtime.gdpr import Personal, Retention
    from crmgen_runtime.rollups import Rollup
    from crmgen_runtime.workflows import Workflow

# Columns every record has, with their types, beside the spec's fields.
SYSTEM_TYPES = {
    "id": "integer",
    "version": "integer",
    "created_at": "datetime",
    "updated_at": "datetime",
}
# The built-in text types; crmgen_runtime.fields.is_text also knows plugin types.
TEXT_TYPES = frozenset({"string", "text", "email", "phone", "url", "enum", "file", "image"})

# The actions of an entity's API (and of the rules on them).
ACTIONS = ("list", "read", "create", "update", "delete")

Condition = Callable[[CurrentUser], sa.ColumnElement[bool]]
Default = Callable[[CurrentUser | None], Any]
Compute = Callable[[Any], Any]
T = TypeVar("T")


@dataclass(frozen=True)
class FieldInfo:
    """One field: its type, its column and its constraints (``options``)."""

    name: str
    type: str
    # the model attribute of its stored value: by default ``attr`` (a reference's: the name
    # with "_id"); "" for a many-to-many list, which has no column
    column: str = ""
    # must be given on create (an owner never is: it defaults to the creator)
    required: bool = False
    not_null: bool = False  # may never be set to null
    unique: bool = False
    read_only: bool = False  # read-only or computed: never written through the API
    options: dict[str, Any] = field(default_factory=dict)
    default: Default | None = None  # an expression default, computed on create
    compute: Compute | None = None  # a computed field: its value from the record's own columns
    relation: str = ""  # many_to_one, one_to_one or many_to_many
    target: str = ""  # the entity a relation points to
    back: str = ""  # the relation's name on its target (``crmgen_runtime.backs``): ``deals``
    display: str = ""  # the target's field its links show ("": the target's display field)
    join: sa.Table | None = None  # the join table of a many-to-many list
    join_own: str = ""  # its column holding this record's id
    join_target: str = ""  # its column holding the target's id
    # the field's model attribute (a reference's or list's: its relationship): by default the
    # name; ``from_`` for a Python keyword or a name the model class keeps (``metadata_``).
    # The API, forms, files and the database column keep the name.
    attr: str = ""
    # stored encrypted (``crmgen_runtime.crypto``), bound to "<entity>.<field>"; with
    # ``blind``: the column of its blind index (equality search), else ""
    encrypted: str = ""
    blind: str = ""

    def __post_init__(self) -> None:
        # a frozen dataclass: the default attribute and column are set once, here
        if not self.attr:
            object.__setattr__(self, "attr", self.name)
        if not self.column and not self.is_list:
            object.__setattr__(self, "column", f"{self.name}_id" if self.is_ref else self.attr)

    @property
    def column_name(self) -> str:
        """The database column of its value: the name (a reference's: ``<name>_id``); ""
        for a many-to-many list. Core statements on the table use it; code on the model
        uses ``column``, the attribute."""
        return self.column if self.is_ref or self.is_list else self.name

    @property
    def is_ref(self) -> bool:
        return self.relation in ("many_to_one", "one_to_one")

    @property
    def is_list(self) -> bool:
        return self.relation == "many_to_many"


def field_map(*fields: FieldInfo) -> dict[str, FieldInfo]:
    """The fields of a resource by name, in the order given."""
    return {info.name: info for info in fields}


@dataclass(frozen=True)
class Access:
    """Which records a role may touch for one action."""

    mode: str  # all, own, where, none
    where: Condition | None = None


@dataclass(frozen=True)
class Rule:
    """What one role may do with an entity."""

    actions: dict[str, Access]
    hidden: frozenset[str] = frozenset()
    read_only: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        default: str = "none",
        /,
        *,
        hidden: Iterable[str] = (),
        read_only: Iterable[str] = (),
        **actions: str | Access,
    ) -> Rule:
        """The rule giving ``default`` access to every action but those named:
        ``Rule.of("own", create="all")``, ``Rule.of(list=Access("where", condition))``."""
        unknown = sorted(set(actions) - set(ACTIONS))
        if unknown:
            raise ValueError(f"unknown action(s) {', '.join(unknown)}: one of {', '.join(ACTIONS)}")
        given = {name: actions.get(name, default) for name in ACTIONS}
        return cls(
            {name: Access(a) if isinstance(a, str) else a for name, a in given.items()},
            frozenset(hidden),
            frozenset(read_only),
        )


@dataclass(frozen=True)
class Resource:
    """An entity as the API serves it at ``/api/<path>``."""

    name: str
    path: str
    label: str
    model: Any  # the SQLAlchemy model class
    fields: dict[str, FieldInfo]
    display: str = "id"
    search: tuple[str, ...] = ()
    search_language: str = "simple"  # the text search dictionary (``textsearch.dictionary``)
    owner: str | None = None
    soft_delete: bool = False
    timestamps: bool = True
    actions: frozenset[str] = frozenset(ACTIONS)  # the API actions it serves
    rules: dict[str, Rule] = field(default_factory=dict)
    default_sort: tuple[str, ...] = ("id",)
    comments: bool = False  # comments with @mentions (crmgen_runtime.comments)
    attachments: bool = False  # records have files attached (``crmgen_runtime.files``)
    workflow: Workflow | None = None  # the guarded changes of an enum field (``workflows``)
    personal: Personal | None = None  # its personal data: export and erasure (``gdpr``)
    retention: Retention | None = None  # how long its records are kept (``gdpr``)
    duplicates: tuple[DuplicateRule, ...] = ()  # when records are likely the same (``duplicates``)

    def attribute(self, name: str) -> Any:
        """The model column of a field or system column ``name``."""
        info = self.fields.get(name)
        return getattr(self.model, info.column if info is not None else name)

    def field_at(self, attr: str) -> FieldInfo | None:
        """The field whose model attribute is ``attr`` (``from_``: the field ``from``), or None."""
        found: dict[str, FieldInfo] | None = self.__dict__.get("_by_attr")
        if found is None:
            found = {info.attr: info for info in self.fields.values()}
            object.__setattr__(self, "_by_attr", found)
        return found.get(attr)

    def type_of(self, name: str) -> str | None:
        """The type of a field or system column, or None when there is none of that name."""
        if name in self.fields:
            return self.fields[name].type
        if name in ("created_at", "updated_at") and not self.timestamps:
            return None
        return SYSTEM_TYPES.get(name)

    @property
    def encrypted(self) -> tuple[FieldInfo, ...]:
        """The fields stored encrypted."""
        return tuple(info for info in self.fields.values() if info.encrypted)

    @property
    def computed(self) -> tuple[FieldInfo, ...]:
        """The computed fields, set from the record's own columns on every write."""
        return tuple(info for info in self.fields.values() if info.compute is not None)

    @property
    def system_fields(self) -> tuple[str, ...]:
        if self.timestamps:
            return ("id", "version", "created_at", "updated_at")
        return ("id", "version")

    @property
    def catalog(self) -> Catalog:
        """The catalog this resource belongs to (set when the catalog is made)."""
        found: Catalog | None = self.__dict__.get("_catalog")
        if found is None:
            raise LookupError(f"{self.name} is in no catalog")
        return found

    def target(self, info: FieldInfo) -> Resource:
        """The resource a reference or list field ``info`` points to."""
        return self.catalog.by_name[info.target]

    def shown_by(self, info: FieldInfo) -> str:
        """The field of its target a link field ``info`` shows (``display:`` on the relation,
        else the target's display field)."""
        return info.display or self.target(info).display


class Catalog:
    """Every resource of an app by API path (``resources``) and by entity name (``by_name``),
    with the roles whose users may do all (``superuser_roles``), those who may manage users
    (``user_manager_roles``), the modules that register hooks (``hooks``) and the app's
    spec-wide configuration (``config``)."""

    def __init__(
        self,
        resources: Iterable[Resource],
        *,
        superuser_roles: Iterable[str] = (),
        user_manager_roles: Iterable[str] = (),
        hooks: Iterable[str] = (),
        config: AppConfig | None = None,
        rollups: Iterable[Rollup] = (),
    ) -> None:
        listed = list(resources)
        self.resources: dict[str, Resource] = {r.path: r for r in listed}
        self.by_name: dict[str, Resource] = {r.name: r for r in listed}
        self.superuser_roles = frozenset(superuser_roles)
        self.user_manager_roles = frozenset(user_manager_roles)
        # What the spec fixed for the app as a whole (``crmgen_runtime.config``).
        self.config = config or AppConfig("app")
        # The stored aggregates of related records (``crmgen_runtime.rollups``).
        self.rollups: tuple[Rollup, ...] = tuple(rollups)
        # The modules that put hooks on ``events`` (the spec's processes, then the app's own
        # code, ``custom.hooks``): imported on first use, so no write can run without its hooks,
        # and each one's ``register(events)`` called, in this order.
        self.hook_modules = tuple(hooks)
        self._events = Events()
        self._hooked = False
        self._tables: dict[type[Any], type[Any]] = {}
        for resource in listed:
            self.adopt(resource)
            blind = [(i.attr, i.blind, i.encrypted) for i in resource.encrypted if i.blind]
            if blind:
                from crmgen_runtime import crypto

                crypto.keep_blind_indexes(resource.model, blind)

    @property
    def events(self) -> Events:
        """The hooks that run inside each write (``crmgen_runtime.events``)."""
        if not self._hooked:
            self._hooked = True  # first: a hook module may use ``events`` while importing
            for name in self.hook_modules:
                register = getattr(importlib.import_module(name), "register", None)
                if callable(register):
                    register(self._events)
            if any(r.retention is not None for r in self.by_name.values()):
                from crmgen_runtime import gdpr  # it reads resources: imported on use

                gdpr.register(self)
        return self._events

    def adopt(self, resource: Resource) -> Resource:
        """Link ``resource`` to this catalog without serving it (an endpoint's input, whose
        references point at the catalog's entities); returns it."""
        # a frozen dataclass: the back link is set once, here, outside its fields
        object.__setattr__(resource, "_catalog", self)
        return resource

    def table(self, mixin: type[T]) -> type[T]:
        """The app's model class of a system table, made from ``mixin``
        (``crmgen_runtime.tables``): ``catalog.table(AuditEntryTable)``."""
        found = self._tables.get(mixin)
        if found is None:
            models = {
                mapper.class_ for r in self.by_name.values() for mapper in r.model.registry.mappers
            }
            matches = [model for model in models if issubclass(model, mixin)]
            if len(matches) != 1:
                raise LookupError(f"{len(matches)} models of this app are {mixin.__name__}s")
            found = self._tables[mixin] = matches[0]
        model: type[T] = found
        return model

    def is_superuser(self, user: CurrentUser) -> bool:
        """Whether ``user`` may do all: flagged so at sign-in, or holding a superuser role."""
        return user.superuser or bool(user.roles & self.superuser_roles)

    def manages_users(self, user: CurrentUser) -> bool:
        """Whether ``user`` may change other users' e-mail, active flag and roles."""
        return self.is_superuser(user) or bool(user.roles & self.user_manager_roles)
