"""The typed spec model: what the generators read. Frozen dataclasses, tuples, no raw dicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from crmgen.diagnostics import Position
from crmgen.language.custom_code import CustomCode
from crmgen.language.expressions import Expression
from crmgen.language.names import attribute
from crmgen.language.text import Text

Action = Literal["list", "read", "create", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("list", "read", "create", "update", "delete")


@dataclass(frozen=True)
class Value:
    """A literal, or an expression (written '= ...' in the spec)."""

    literal: Any = None
    expr: Expression | None = None

    @property
    def is_expr(self) -> bool:
        return self.expr is not None


@dataclass(frozen=True)
class Condition:
    """One filter condition: ``field`` (a dotted path) ``op`` ``value``."""

    field: str
    op: str  # eq gt gte lt lte ne in contains isnull
    value: Value


@dataclass(frozen=True)
class EnumValue:
    name: str
    label: Text
    weight: float | None = None
    color: str | None = None


@dataclass(frozen=True)
class Relation:
    kind: Literal["many_to_one", "one_to_one", "many_to_many"]
    target: str
    back: str  # name of the navigable reverse side on the target
    on_delete: Literal["cascade", "set_null", "restrict"] | None = None
    through: str | None = None  # join table (many_to_many)
    display: str | None = None  # the target's field its links show (None: the target's display)


@dataclass(frozen=True)
class Rollup:
    """A stored aggregate of the records of the reverse relation ``source`` (``deals``):
    records of ``entity`` whose reference ``link`` points at the record and that match
    ``where``; ``op`` over their ``field`` (none for count), ``last`` by ``order_by``
    ("field" or "-field")."""

    source: str
    entity: str
    link: str
    op: Literal["count", "sum", "min", "max", "avg", "last"]
    field: str | None = None
    where: tuple[Condition, ...] = ()
    order_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    label: Text
    position: Position
    help: Text = Text(())
    required: bool = False
    unique: bool = False
    index: bool = False
    searchable: bool = False
    read_only: bool = False
    default: Value | None = None
    computed: Expression | None = None
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    precision: int | None = None
    scale: int | None = None
    currency: str | None = None
    values: tuple[EnumValue, ...] = ()
    accept: tuple[str, ...] = ()
    max_size_mb: float | None = None
    relation: Relation | None = None
    renamed_from: str | None = None
    rollup: Rollup | None = None  # read-only: kept by the app from related records
    consent: bool = False  # a consent: its time and source kept in <name>_at, <name>_source
    # stored encrypted (AES-256-GCM, ``crmgen_runtime.crypto``): never sorted, range-filtered or
    # searched as text; ``blind_index``: equality search through a keyed hash beside it
    encrypted: bool = False
    blind_index: bool = False

    @property
    def attr(self) -> str:
        """The field's attribute on the generated model (a reference's: its relationship):
        the name, or ``from_`` for a Python keyword or a name the model keeps (names.attribute).
        Columns, the API, forms and files keep the name."""
        return attribute(self.name)

    @property
    def column(self) -> str:
        """Column name: refs store ``<name>_id``; many-to-many fields have no column."""
        if self.relation is None:
            return self.name
        return "" if self.relation.kind == "many_to_many" else f"{self.name}_id"

    @property
    def blind_column(self) -> str:
        """The column of an encrypted field's blind index (``<column>__bidx``), or ""."""
        return f"{self.column}__bidx" if self.blind_index else ""


@dataclass(frozen=True)
class Index:
    fields: tuple[str, ...]
    unique: bool = False
    name: str = ""


@dataclass(frozen=True)
class Access:
    """Which records an action may touch: all, own (owner is the user), none, or a condition."""

    mode: Literal["all", "own", "none", "where"]
    where: Expression | None = None


@dataclass(frozen=True)
class Permission:
    role: str
    actions: tuple[tuple[Action, Access], ...]
    hidden: tuple[str, ...] = ()  # fields the role cannot read
    read_only: tuple[str, ...] = ()  # fields the role cannot write

    def access(self, action: Action) -> Access:
        return dict(self.actions).get(action, Access("none"))


@dataclass(frozen=True)
class ListView:
    columns: tuple[str, ...]
    sort: tuple[str, ...] = ()  # "field" or "-field"
    filters: tuple[str, ...] = ()
    page_size: int = 50


@dataclass(frozen=True)
class FormSection:
    label: Text
    fields: tuple[str, ...]


@dataclass(frozen=True)
class KanbanView:
    by: str
    title: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class CalendarView:
    date: str
    title: str
    end: str | None = None


@dataclass(frozen=True)
class EntityUI:
    list: ListView
    form: tuple[FormSection, ...]
    kanban: KanbanView | None = None
    calendar: CalendarView | None = None
    icon: str | None = None
    # the fields whose changes every reader sees on the timeline (None: the kanban's field)
    timeline: tuple[str, ...] | None = None
    inline_edit: bool | None = None  # cells of its list edited in place (None: ``ui.inline_edit``)


@dataclass(frozen=True)
class DocumentLines:
    """The rows of a document: the records of a reverse relation, reached through ``path``.

    ``path`` is the dotted spec text (``lines`` or ``sales_order.lines``): to-one references of
    the record to follow, then a reverse relation whose records are the rows; ``entity`` is the
    rows' entity and ``link`` its reference back to the record the path ends on.
    """

    path: str
    entity: str
    link: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class DocumentTotal:
    """The total of a document: a field of the record, or the sum of a column of its lines."""

    field: str | None = None
    sum: str | None = None


@dataclass(frozen=True)
class Document:
    """A print format of an entity (an invoice, an offer), rendered to PDF and/or XLSX.

    ``title`` and ``footer`` are sandboxed Jinja templates per locale over the record's fields
    (each name gives the field's value as shown to people); no title means "<label> <display>".
    ``roles`` empty: whoever may read the record may print it.
    """

    name: str
    label: Text
    position: Position
    fields: tuple[str, ...]
    formats: tuple[str, ...] = ("pdf", "xlsx")
    title: Text = Text(())
    footer: Text = Text(())
    lines: DocumentLines | None = None
    total: DocumentTotal | None = None
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Transition:
    """A move of a workflow's field into the state ``to``: from the states ``origins`` (empty:
    from any state), by the ``roles`` (empty: whoever may update the record), with the fields
    ``require`` filled, when the record then matches ``where``."""

    to: str
    origins: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    require: tuple[str, ...] = ()
    where: tuple[Condition, ...] = ()  # what the record (after the move) must match


@dataclass(frozen=True)
class Workflow:
    """The allowed changes of the enum field ``field`` (``build_workflows``)."""

    field: str
    transitions: tuple[Transition, ...]
    position: Position


# The kinds of duplicate rules (``build_duplicates``): a normalised e-mail address, a phone
# number in E.164, and a fuzzy match of one or more text fields (trigram similarity).
DUPLICATE_KINDS = ("email", "phone", "fuzzy")
DEFAULT_THRESHOLD = 0.6  # a fuzzy rule's least similarity (0..1)


@dataclass(frozen=True)
class DuplicateRule:
    """A rule of ``duplicates:``: records whose ``fields`` match by ``kind`` (one of
    ``DUPLICATE_KINDS``) are likely the same; a fuzzy rule's similarity is at least
    ``threshold``."""

    kind: str
    fields: tuple[str, ...]
    threshold: float | None = None  # fuzzy rules only
    position: Position | None = None

    @property
    def fuzzy(self) -> bool:
        return self.kind == "fuzzy"


@dataclass(frozen=True)
class Erasure:
    """How erasure treats one personal field: ``blank``, ``pseudonym`` or ``replace`` (by
    ``value``)."""

    field: str
    mode: Literal["blank", "pseudonym", "replace"]
    value: Any = None


@dataclass(frozen=True)
class PersonalData:
    """The personal data of an entity's records (``build_gdpr``): the fields and how each is
    erased; the ``roles`` that may export and erase (superusers always may)."""

    erasures: tuple[Erasure, ...]
    roles: tuple[str, ...]
    position: Position


@dataclass(frozen=True)
class Retention:
    """Records matching ``where`` untouched for ``after_days`` days are anonymised or deleted."""

    after_days: int
    action: Literal["anonymize", "delete"]
    where: tuple[Condition, ...]
    position: Position


@dataclass(frozen=True)
class Entity:
    name: str
    plural: str
    label: Text
    plural_label: Text
    table: str
    api_path: str  # /api/<api_path>
    position: Position
    fields: tuple[Field, ...]
    display: str
    search: tuple[str, ...]
    owner: str | None
    soft_delete: bool
    timestamps: bool
    indexes: tuple[Index, ...]
    permissions: tuple[Permission, ...]
    api: tuple[Action, ...]
    ui: EntityUI
    description: Text = Text(())
    builtin: bool = False
    renamed_from: str | None = None
    documents: tuple[Document, ...] = ()
    comments: bool = False  # comments with @mentions (crmgen_runtime.comments)
    attachments: bool = False  # records get files attached (/api/<plural>/{id}/attachments)
    workflow: Workflow | None = None  # the guarded changes of an enum field
    personal_data: PersonalData | None = None  # what erasure anonymises, who exports it
    retention: Retention | None = None  # how long matching records are kept
    duplicates: tuple[DuplicateRule, ...] = ()  # how likely duplicates are found

    @property
    def fuzzy_fields(self) -> frozenset[str]:
        """The fields a fuzzy duplicate rule compares (an encrypted field may not be one)."""
        return frozenset(n for r in self.duplicates if r.fuzzy for n in r.fields)

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def permission(self, role: str) -> Permission | None:
        return next((p for p in self.permissions if p.role == role), None)


@dataclass(frozen=True)
class Role:
    name: str
    label: Text
    position: Position
    superuser: bool = False
    audit: bool = False
    description: Text = Text(())
    # May change users' sign-in identity and power (e-mail, active, roles); superusers may.
    manage_users: bool = False
    # May send e-mail from the records it may read (``email_templates``); superusers may.
    send_email: bool = False


@dataclass(frozen=True)
class InputField:
    name: str
    field: Field


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str  # below /api
    roles: tuple[str, ...]
    input: tuple[Field, ...]
    position: Position
    label: Text = Text(())
    entity: str | None = None  # set when the path has {id}: the record is loaded for the process


@dataclass(frozen=True)
class Trigger:
    kind: Literal["create", "update", "delete", "schedule", "endpoint", "action", "inbound"]
    position: Position
    entity: str | None = None
    when: Literal["before", "after"] = "before"
    fields: tuple[str, ...] = ()  # update: only when one of these changed
    cron: str | None = None  # schedule: five-field cron
    endpoint: str | None = None
    label: Text = Text(())  # action: button label
    roles: tuple[str, ...] = ()  # action: who may press it
    inbound: str | None = None  # inbound: the hook (``inbound:``) whose events run it


@dataclass(frozen=True)
class Process:
    name: str
    label: Text
    trigger: Trigger
    steps: tuple[Any, ...]  # step dataclasses from crmgen.language.build_steps or plugins
    position: Position
    # ``workflow: bypass``: its writes skip the entities' workflows (checked by default)
    bypass_workflow: bool = False


@dataclass(frozen=True)
class Setting:
    """An integration setting: a literal, or read from an environment variable."""

    name: str
    env: str | None = None
    value: Any = None

    @property
    def secret(self) -> bool:
        return self.env is not None


@dataclass(frozen=True)
class Integration:
    name: str
    type: str
    settings: tuple[Setting, ...]
    position: Position
    events: tuple[str, ...] = ()  # webhook: "Entity.create" etc.

    def setting(self, name: str) -> Setting | None:
        return next((s for s in self.settings if s.name == name), None)


@dataclass(frozen=True)
class PublicForm:
    """A form served without sign-in at ``/f/<name>`` (``forms:``) that creates a record of
    ``entity`` from its ``fields`` (plus the ``utm`` fields, taken from the query string), as
    ``owner_user`` (an e-mail) or the next user of ``owner_role`` (round robin), for pages of
    the ``origins`` (iframe and CORS)."""

    name: str
    entity: str
    title: Text
    fields: tuple[str, ...]
    labels: tuple[tuple[str, Text], ...]
    consent: Text | None
    success: Text
    origins: tuple[str, ...]
    owner_user: str | None
    owner_role: str | None
    utm: tuple[str, ...]
    position: Position


@dataclass(frozen=True)
class InboundHook:
    """An inbound webhook (``inbound:``) served at ``POST /hooks/<name>``: events signed with
    HMAC-SHA256 of the body under the secret in ``secret_env`` (sent in ``header``) and run as
    the user ``run_as``, or sent with an API key of one of ``roles`` (run as its service user);
    ``idempotency`` (over ``input``) is the event's key: a replayed key changes nothing."""

    name: str
    label: Text
    auth: Literal["hmac", "api_key"]
    input: tuple[Field, ...]
    idempotency: Expression
    position: Position
    secret_env: str | None = None  # hmac: the environment variable holding the secret
    header: str = "X-Signature"  # hmac: the header carrying sha256=<hex>
    run_as: str | None = None  # hmac: the e-mail of the user its writes carry
    roles: tuple[str, ...] = ()  # api_key: the roles whose keys may send events


@dataclass(frozen=True)
class EmailTemplate:
    """An e-mail people send from a record of ``entity`` (``email_templates:``): ``subject``
    and ``body`` are sandboxed Jinja templates per locale over the record's fields, ``user``
    (the sender) and ``today``; ``to`` is the field path of the recipient's address (None: the
    entity's own e-mail field)."""

    name: str
    entity: str
    label: Text
    position: Position
    subject: Text
    body: Text
    to: str | None = None


@dataclass(frozen=True)
class Measure:
    fn: Literal["count", "sum", "avg", "min", "max"]
    field: str | None = None
    weighted_by: str | None = None  # an enum field whose values carry weights


@dataclass(frozen=True)
class Kpi:
    name: str
    label: Text
    entity: str
    measure: Measure
    where: tuple[Condition, ...] = ()
    format: str = "number"


@dataclass(frozen=True)
class Chart:
    name: str
    label: Text
    type: Literal["bar", "line", "pie", "funnel"]
    entity: str
    group_by: str
    measure: Measure
    where: tuple[Condition, ...] = ()
    period: str | None = None  # day, week, month, year for date group_by


@dataclass(frozen=True)
class Dashboard:
    name: str
    label: Text
    roles: tuple[str, ...]
    kpis: tuple[Kpi, ...]
    charts: tuple[Chart, ...]
    position: Position


@dataclass(frozen=True)
class ReportColumn:
    name: str
    label: Text
    measure: Measure


@dataclass(frozen=True)
class Report:
    name: str
    label: Text
    entity: str
    group_by: tuple[str, ...]
    columns: tuple[ReportColumn, ...]
    where: tuple[Condition, ...]
    roles: tuple[str, ...]
    position: Position


@dataclass(frozen=True)
class NavItem:
    kind: Literal["entity", "dashboard", "report"]
    target: str
    view: str | None = None  # entity: list, kanban, calendar


@dataclass(frozen=True)
class NavGroup:
    label: Text
    items: tuple[NavItem, ...]


@dataclass(frozen=True)
class HomeList:
    """A list of the home page ("my day"): the records of ``entity`` whose ``user_field`` is
    the signed-in user, by their ``date_field`` (tasks: due today or before; meetings: from now
    on for ``days``), within ``where`` (conditions against constants)."""

    entity: str
    date_field: str
    user_field: str
    where: tuple[Condition, ...] = ()
    days: int = 7


@dataclass(frozen=True)
class HomeKpi:
    dashboard: str
    kpi: str


@dataclass(frozen=True)
class Home:
    """``ui.home``: what the home page shows the signed-in user ("my day")."""

    tasks: HomeList | None
    meetings: HomeList | None
    kpis: tuple[HomeKpi, ...]
    recent: int  # records they touched recently (0: none)


@dataclass(frozen=True)
class UI:
    navigation: tuple[NavGroup, ...]
    dashboards: tuple[Dashboard, ...]
    reports: tuple[Report, ...]
    home: Home | None = None
    saved_views: bool = True  # users save a list's filters, sort and columns (/api/views)
    inline_edit: bool = False  # the default of each entity's ``ui.inline_edit``

    def inline_edits(self, entity: Entity) -> bool:
        """Whether the cells of ``entity``'s list are edited in place."""
        own = entity.ui.inline_edit
        return self.inline_edit if own is None else own


@dataclass(frozen=True)
class App:
    name: str
    title: Text
    locales: tuple[str, ...]
    default_locale: str
    timezone: str
    currency: str
    lockout_attempts: int
    lockout_minutes: int
    description: Text = Text(())
    two_factor: bool = True  # users may turn on two-factor sign-in
    api_keys: bool = True  # user managers may make API keys (app.auth.api_keys)
    two_factor_required: tuple[str, ...] = ()  # roles that must use it
    allow_drop: tuple[str, ...] = ()  # Entity / Entity.field the next migration may drop
    # hosts outgoing requests may reach on non-public addresses (lower case, by name)
    allow_hosts: tuple[str, ...] = ()
    phone_region: str = ""  # phones are stored in E.164, read in this region ("": as written)


@dataclass(frozen=True)
class Spec:
    app: App
    entities: tuple[Entity, ...]
    roles: tuple[Role, ...]
    endpoints: tuple[Endpoint, ...]
    processes: tuple[Process, ...]
    integrations: tuple[Integration, ...]
    ui: UI
    files: tuple[str, ...]  # the files this spec was read from
    custom: CustomCode | None = None  # the custom folder beside the spec (copied into the app)
    email_templates: tuple[EmailTemplate, ...] = ()
    forms: tuple[PublicForm, ...] = ()  # public forms (``forms:``), served at /f/<name>
    inbound: tuple[InboundHook, ...] = ()  # inbound webhooks (``inbound:``), at /hooks/<name>

    @property
    def logs_mail(self) -> bool:
        """Whether the app logs e-mail on records (templates or an ``imap`` integration)."""
        return bool(self.email_templates) or any(i.type == "imap" for i in self.integrations)

    def entity(self, name: str) -> Entity | None:
        return next((e for e in self.entities if e.name == name), None)

    def role(self, name: str) -> Role | None:
        return next((r for r in self.roles if r.name == name), None)

    @property
    def notifications(self) -> bool:
        """Whether the app notifies its users (``crmgen_runtime.notifications``): a process
        has a ``notify`` step, or an entity has comments (mentions notify)."""
        if any(e.comments for e in self.entities):
            return True

        def uses(steps: tuple[Any, ...]) -> bool:
            for step in steps:
                if getattr(step, "kind", "") == "notify":
                    return True
                for nested in ("then", "otherwise", "steps"):
                    inner = getattr(step, nested, None)
                    if isinstance(inner, tuple) and uses(inner):
                        return True
            return False

        return any(uses(p.steps) for p in self.processes)

    @property
    def uses_gdpr(self) -> bool:
        """Whether the app handles personal data (an entity's ``personal_data`` or
        ``retention``): the ``crm_gdpr_log`` table and ``crmgen_runtime.gdpr``."""
        return any(e.personal_data is not None or e.retention is not None for e in self.entities)

    @property
    def uses_files(self) -> bool:
        """Whether the app stores files: a ``file`` or ``image`` field, or attachments."""
        return any(
            e.attachments or any(f.type in ("file", "image") for f in e.fields)
            for e in self.entities
        )

    def incoming(self, name: str) -> tuple[tuple[Entity, Field], ...]:
        """Relation fields of other entities that point at entity ``name``."""
        return tuple(
            (e, f)
            for e in self.entities
            for f in e.fields
            if f.relation is not None and f.relation.target == name
        )
