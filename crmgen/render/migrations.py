"""Alembic revisions for the generated app, computed from the spec and the previous output.

Every ``crmgen generate`` describes the app's tables as JSON (``migrations/spec_snapshot.json``:
columns, types, keys, indexes, constraints, and for each table and column the spec element it
comes from). The first generate writes ``0001_initial.py``. A later generate over the same OUT
reads the previous snapshot, matches old tables and columns to new ones (by the spec element,
so ``renamed_from`` on an entity or a field becomes a rename, not a drop and an add), and writes
one new revision ``000N_<slug>.py`` with the difference; earlier revisions are copied byte for
byte. No difference, no new revision.

Exact decimals are whole numbers of their smallest unit on SQLite (the app's ``decimals``
module); their CHECK constraints have a SQLite text of their own, and a revision that changes
how a number column is stored there (a NUMERIC that kept floats becoming exact, a new scale)
rewrites its values on SQLite first, each as the app read it before (``_sqlite_decimals``).

Dropping a table or a column loses data: such a change is refused (``DestructiveChange``, OUT
untouched) unless the caller allows each dropped element by name (``Entity`` or
``Entity.field``; ``crmgen generate --allow-destructive NAME``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from crmgen_runtime.tables import RENAMED_FROM, SYSTEM_NAMES

from crmgen.language.fields import field_type
from crmgen.language.model import Spec
from crmgen.render import schema_probe
from crmgen.render.errors import GenerateError
from crmgen.render.formatting import format_files
from crmgen.render.relations import join_columns

SNAPSHOT = "migrations/spec_snapshot.json"
VERSIONS = "migrations/versions"
SNAPSHOT_FORMAT = 1
REVISION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.py$")
SAFE_WIDENING = {
    ("sa.String", "sa.Text"),
    ("sa.Integer", "sa.BigInteger"),
    ("sa.Integer", "sa.Numeric"),
}


class DestructiveChange(GenerateError):
    """The new spec drops data (a table or a column) that was not explicitly allowed."""

    def __init__(self, names: list[str], message: str) -> None:
        super().__init__(message)
        self.names = names


# --- the snapshot -----------------------------------------------------------------------


def probe(staging: Path, package: str) -> dict[str, Any]:
    """The tables of the models rendered into ``staging`` (imported in a child process)."""
    source = Path(schema_probe.__file__).read_text(encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", source, package],
        cwd=staging,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise GenerateError(f"the generated {package}/models.py does not import: {detail[0]}")
    return json.loads(done.stdout)


def annotate(tables: dict[str, Any], spec: Spec) -> dict[str, Any]:
    """Add to ``tables`` (from ``probe``) which spec element each table and column comes from."""
    by_name = {t["name"]: t for t in tables["tables"]}
    for name in SYSTEM_NAMES:  # the app's own tables: keyed by their name since 0.5.0
        if name in by_name:
            by_name[name]["key"] = f"system:{name}"
            by_name[name]["label"] = name
    for entity in spec.entities:
        table = by_name.get(entity.table)
        if table is not None:
            table["key"] = f"entity:{entity.name}"
            table["label"] = entity.name
            for column in table["columns"]:
                f = next(
                    (f for f in entity.fields if f.column and f.column == column["name"]), None
                )
                if f is not None:
                    column["key"] = f"field:{f.name}"
                    column["label"] = f"{entity.name}.{f.name}"
                    if f.encrypted:  # stored as tokens bound to this context (crypto)
                        column["encrypted"] = f"{entity.name}.{f.name}"
                        if f.type == "json":
                            column["encrypted_json"] = True
                    if f.type == "phone" and spec.app.phone_region:  # stored in E.164
                        column["phone_region"] = spec.app.phone_region
                blind = next((g for g in entity.fields if g.blind_column == column["name"]), None)
                if blind is not None:
                    column["key"] = f"blind:{blind.name}"
                    column["label"] = f"{entity.name}.{blind.name} (blind index)"
        for f in entity.fields:
            if f.relation is None or f.relation.kind != "many_to_many" or not f.relation.through:
                continue
            join = by_name.get(f.relation.through)
            if join is None:
                continue
            join["key"] = f"m2m:{entity.name}.{f.name}"
            join["label"] = f"{entity.name}.{f.name}"
            left, right = join_columns(entity, f)
            for column in join["columns"]:
                if column["name"] in (left, right):
                    column["key"] = "left" if column["name"] == left else "right"
    return tables


def rollup_definitions(spec: Spec) -> dict[str, str]:
    """Each rollup field (``Entity.field``) with its definition as text: a change of it (another
    ``op``, ``field``, ``where`` or ``order_by``) makes a revision, so that ``migrate``
    recomputes the stored values."""
    found = {}
    for entity in spec.entities:
        for f in entity.fields:
            if f.rollup is not None:
                r = f.rollup
                where = [[c.field, c.op, repr(c.value)] for c in r.where]
                text = json.dumps(
                    [r.source, r.op, r.field, where, list(r.order_by)], ensure_ascii=False
                )
                found[f"{entity.name}.{f.name}"] = text
    return found


def changed_rollups(previous: dict[str, Any] | None, spec: Spec) -> list[str]:
    """The rollups of ``spec`` whose definition differs from the one in the ``previous``
    snapshot (none when the snapshot predates rollup definitions)."""
    before = (previous or {}).get("rollups")
    if not isinstance(before, dict):
        return []
    now = rollup_definitions(spec)
    return sorted(name for name, text in now.items() if name in before and before[name] != text)


def previous_keys(spec: Spec) -> dict[str, list[str]]:
    """For each new table/column key, the keys it may have had before (from ``renamed_from``)."""
    keys: dict[str, list[str]] = {
        f"system:{name}": [f"system:{name}", f"table:{old}"] for name, old in RENAMED_FROM.items()
    }
    for entity in spec.entities:
        names = [entity.name] + ([entity.renamed_from] if entity.renamed_from else [])
        keys[f"entity:{entity.name}"] = [f"entity:{n}" for n in names]
        for f in entity.fields:
            fields = [f.name] + ([f.renamed_from] if f.renamed_from else [])
            keys[f"{entity.name}:field:{f.name}"] = [f"field:{n}" for n in fields]
            if f.relation is not None and f.relation.kind == "many_to_many":
                keys[f"m2m:{entity.name}.{f.name}"] = [
                    f"m2m:{e}.{n}" for e in names for n in fields
                ]
    return keys


# --- matching old and new ---------------------------------------------------------------


@dataclass
class Plan:
    """What changed between two snapshots, as renames and pairs of matched elements."""

    tables: dict[str, str] = field(default_factory=dict)  # new table -> old table
    columns: dict[tuple[str, str], str] = field(
        default_factory=dict
    )  # (new table, new column) -> old


def _entity_of(table: dict[str, Any]) -> str | None:
    key = table.get("key") or ""
    return key.split(":", 1)[1] if key.startswith("entity:") else None


def match(old: dict[str, Any], new: dict[str, Any], spec: Spec) -> Plan:
    """Pair each new table and column with the old one it continues (renames included)."""
    prior = previous_keys(spec)
    old_tables = {t["name"]: t for t in old["tables"]}
    plan = Plan()
    claimed: set[str] = set()
    old_by_key = {t["key"]: t["name"] for t in old["tables"] if t.get("key")}
    # a table without a key (a system table before 0.5.0) is found by its name
    old_by_key.update((f"table:{t['name']}", t["name"]) for t in old["tables"] if not t.get("key"))
    for table in new["tables"]:  # first by spec element (renames), then by name
        for key in prior.get(table.get("key") or "", [table.get("key")]):
            name = old_by_key.get(key or "")
            if name is not None and name not in claimed:
                plan.tables[table["name"]] = name
                claimed.add(name)
                break
    for table in new["tables"]:
        name = table["name"]
        if name in plan.tables or name not in old_tables or name in claimed:
            continue
        old_key, new_key = old_tables[name].get("key"), table.get("key")
        if old_key is None or new_key is None or old_key == new_key:
            plan.tables[name] = name
            claimed.add(name)
    for table in new["tables"]:
        if table["name"] not in plan.tables:
            continue
        source = old_tables[plan.tables[table["name"]]]
        entity = _entity_of(table)
        old_columns = {c["name"]: c for c in source["columns"]}
        old_by_col_key = {c["key"]: c["name"] for c in source["columns"] if c.get("key")}
        taken: set[str] = set()
        for column in table["columns"]:
            key = column.get("key")
            candidates = [key]
            if key and key.startswith("field:") and entity:
                candidates = prior.get(f"{entity}:{key}", [key])
            for candidate in candidates:
                found = old_by_col_key.get(candidate or "")
                if found is not None and found not in taken:
                    plan.columns[(table["name"], column["name"])] = found
                    taken.add(found)
                    break
        for column in table["columns"]:
            name = column["name"]
            if (table["name"], name) in plan.columns or name not in old_columns or name in taken:
                continue
            if (
                old_columns[name].get("key") in (None, column.get("key"))
                or column.get("key") is None
            ):
                plan.columns[(table["name"], name)] = name
                taken.add(name)
    return plan


def invert(plan: Plan) -> Plan:
    return Plan(
        tables={old: new for new, old in plan.tables.items()},
        columns={(plan.tables[t], old): new for (t, new), old in plan.columns.items()},
    )


# --- operations -------------------------------------------------------------------------


def lit(value: Any) -> str:
    """A Python literal (strings in double quotes when they need no escapes, as black writes)."""
    if isinstance(value, str):
        text = repr(value)
        return f'"{text[1:-1]}"' if '"' not in value and text[0] == "'" else text
    if isinstance(value, list):
        return "[" + ", ".join(lit(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return f"Decimal({lit(str(value))})"
    if isinstance(value, datetime):
        return f"dt.datetime.fromisoformat({lit(value.isoformat())})"
    if isinstance(value, date):
        return f"dt.date.fromisoformat({lit(value.isoformat())})"
    return repr(value)


def column_source(column: dict[str, Any], nullable: bool | None = None) -> str:
    args = [lit(column["name"]), column["type"]]
    args.append(f"nullable={column['nullable'] if nullable is None else nullable}")
    if column.get("server_default"):
        args.append(f"server_default={column['server_default']}")
    if column.get("comment") is not None:
        args.append(f"comment={lit(column['comment'])}")
    return f"sa.Column({', '.join(args)})"


def fk_source(fk: dict[str, Any], table_prefix: bool = True) -> str:
    refs = [f"{fk['ref_table']}.{c}" for c in fk["ref_columns"]]
    ondelete = f", ondelete={lit(fk['ondelete'])}" if fk.get("ondelete") else ""
    return f"sa.ForeignKeyConstraint({lit(fk['columns'])}, {lit(refs)}, name=op.f({lit(fk['name'])}){ondelete})"


def _type_head(expr: str) -> str:
    return expr.split("(", 1)[0]


def _type_args(expr: str) -> list[int]:
    return [int(n) for n in re.findall(r"=(\d+)", expr.split(".with_variant", 1)[0])]


def type_change_is_safe(old: str, new: str) -> bool:
    """Whether changing a column from ``old`` to ``new`` keeps every value (widening only)."""
    head_old, head_new = _type_head(old), _type_head(new)
    if head_old == head_new:
        a, b = _type_args(old), _type_args(new)
        if head_old == "sa.Numeric" and len(a) == len(b) == 2:
            return b[0] - b[1] >= a[0] - a[1] and b[1] >= a[1]
        return len(a) == len(b) and all(y >= x for x, y in zip(a, b, strict=True))
    return (head_old, head_new) in SAFE_WIDENING


def _storage(expr: str) -> tuple[str, int, int] | None:
    """How a number column keeps its values on SQLite: ``(kind, precision, scale)`` with kind
    ``units`` (an exact decimal: whole units), ``float`` (a plain NUMERIC) or ``integer``."""
    head = _type_head(expr)
    if head in ("sa.Integer", "sa.BigInteger", "sa.SmallInteger"):
        return "integer", 0, 0
    if head != "sa.Numeric":
        return None
    precision = re.search(r"precision=(\d+)", expr)
    scale = re.search(r"scale=(\d+)", expr)
    kind = "units" if "with_variant(sa.BigInteger(), 'sqlite')" in expr else "float"
    return kind, int(precision.group(1)) if precision else 0, int(scale.group(1)) if scale else 0


def _rewrite(table: str, column: str, before: str, after: str) -> str | None:
    """The call that stores a column's values anew on SQLite when its storage changes there
    (each value read exactly as the app read it before); None when nothing changes."""
    old, new = _storage(before), _storage(after)
    if old is not None and new is not None and (old[0], old[2]) == (new[0], new[2]):
        return None
    if "units" not in (old and old[0], new and new[0]):
        return None
    value = "Decimal(str(v))"  # text and other types: as written
    if old is not None:
        value = {
            "units": f"Decimal(v).scaleb(-{old[2]})",
            "float": f'Decimal("%.{old[2]}f" % v)',  # what SQLAlchemy made of the float
            "integer": "Decimal(v)",
        }[old[0]]
    stored = f"str({value})"
    if new is not None:
        stored = {
            "units": f"_units({value}, {new[1]}, {new[2]})",
            "float": f"float({value})",
            "integer": f"int({value}.to_integral_value(ROUND_HALF_UP))",
        }[new[0]]
    return f"_sqlite_decimals({lit(table)}, {lit(column)}, lambda v: {stored})"


def check_source(check: dict[str, Any], diff: Diff) -> str:
    """A CHECK constraint's SQL as Python source: its SQLite text there when it has one."""
    if "sqlite" not in check:
        return lit(check["sqltext"])
    diff.uses_sqlite = True
    return f"{lit(check['sqlite'])} if sqlite else {lit(check['sqltext'])}"


@dataclass
class Diff:
    """The code of one direction (upgrade or downgrade) and what it means for people."""

    lines: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)  # "add Contact.phone", ...
    slug: list[str] = field(default_factory=list)
    drops: list[tuple[str, str | None]] = field(default_factory=list)  # (name, owner entity)
    warnings: list[str] = field(default_factory=list)
    uses_dt: bool = False
    uses_decimal: bool = False
    uses_sqlite: bool = False  # the code reads ``sqlite`` (the database is SQLite)
    rewrites: bool = False  # the code calls ``_sqlite_decimals``
    phones: bool = False  # the code calls ``normalise_column`` (crmgen_runtime.phones)
    crypto: bool = False  # the code calls ``encrypt_column``/``decrypt_column`` (crypto)


def _creation_order(
    tables: dict[str, dict[str, Any]], names: Iterable[str]
) -> tuple[list[str], set[tuple[str, str]]]:
    """``names`` sorted so referenced tables come first; FKs that close a cycle are deferred."""
    pending = sorted(set(names))
    done: list[str] = []
    deferred: set[tuple[str, str]] = set()
    while pending:
        ready = [
            n
            for n in pending
            if all(
                fk["ref_table"] in done or fk["ref_table"] == n or fk["ref_table"] not in pending
                for fk in tables[n]["foreign_keys"]
            )
        ]
        if not ready:  # a cycle: create the first table now, add its foreign keys later
            first = pending[0]
            deferred |= {
                (first, fk["name"])
                for fk in tables[first]["foreign_keys"]
                if fk["ref_table"] in pending and fk["ref_table"] != first
            }
            ready = [first]
        for n in ready:
            done.append(n)
            pending.remove(n)
    return done, deferred


def _label(table: dict[str, Any], column: dict[str, Any] | None = None) -> str:
    if column is None:
        return table.get("label") or table["name"]
    return column.get("label") or f"{table.get('label') or table['name']}.{column['name']}"


def _slug_name(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def operations(
    src: dict[str, Any],
    dst: dict[str, Any],
    plan: Plan,
    backfill: Callable[[str, str], Any] | None = None,
) -> Diff:
    """The Alembic operations that turn a database shaped like ``src`` into one like ``dst``."""
    diff = Diff()
    old = {t["name"]: t for t in src["tables"]}
    new = {t["name"]: t for t in dst["tables"]}
    out = diff.lines
    renamed = {o: n for n, o in plan.tables.items()}  # old name -> new name

    for new_name, old_name in sorted(plan.tables.items()):
        if new_name != old_name:
            out.append(f"op.rename_table({lit(old_name)}, {lit(new_name)})")
            out.extend(_postgresql_renames(old[old_name], new[new_name]))
            before, after = _label(old[old_name]), _label(new[new_name])
            if before == after:  # the same element, a new table name (a new default plural)
                diff.summary.append(f"rename {before}'s table {old_name} to {new_name}")
                diff.slug.append(f"rename_{_slug_name(old_name)}")
            else:
                diff.summary.append(f"rename {before} to {after}")
                diff.slug.append(f"rename_{_slug_name(before)}")

    created = [n for n in new if n not in plan.tables]
    order, deferred = _creation_order(new, created)
    for name in order:
        table = new[name]
        diff.summary.append(f"create {_label(table)}")
        diff.slug.append(f"add_{_slug_name(_label(table))}")
        out.append(f"op.create_table(\n    {lit(name)},")
        for column in table["columns"]:
            out.append(f"    {column_source(column)},")
        pk = table["primary_key"]
        out.append(
            f"    sa.PrimaryKeyConstraint({', '.join(lit(c) for c in pk['columns'])}, name=op.f({lit(pk['name'])})),"
        )
        for fk in table["foreign_keys"]:
            if (name, fk["name"]) not in deferred:
                out.append(f"    {fk_source(fk)},")
        for uq in table["unique"]:
            out.append(
                f"    sa.UniqueConstraint({', '.join(lit(c) for c in uq['columns'])}, name=op.f({lit(uq['name'])})),"
            )
        for ck in table["checks"]:
            out.append(
                f"    sa.CheckConstraint({check_source(ck, diff)}, name=op.f({lit(ck['name'])})),"
            )
        if table.get("comment") is not None:
            out.append(f"    comment={lit(table['comment'])},")
        out.append(")")
        for ix in table["indexes"]:
            out.append(
                f"op.create_index(op.f({lit(ix['name'])}), {lit(name)}, {lit(ix['columns'])}, unique={ix['unique']})"
            )
    for name, fk_name in sorted(deferred):
        fk = next(f for f in new[name]["foreign_keys"] if f["name"] == fk_name)
        out.append(f"with op.batch_alter_table({lit(name)}) as batch_op:")
        out.append(
            f"    batch_op.create_foreign_key(op.f({lit(fk_name)}), {lit(fk['ref_table'])}, "
            f"{lit(fk['columns'])}, {lit(fk['ref_columns'])}"
            + (f", ondelete={lit(fk['ondelete'])})" if fk.get("ondelete") else ")")
        )

    for new_name, old_name in sorted(plan.tables.items()):
        _alter_table(diff, old[old_name], new[new_name], plan, renamed, backfill)

    dropped = [n for n in old if n not in plan.tables.values()]
    drop_order, _ = _creation_order(old, dropped)
    for name in reversed(drop_order):
        table = old[name]
        for ix in table["indexes"]:
            out.append(f"op.drop_index(op.f({lit(ix['name'])}), table_name={lit(name)})")
        out.append(f"op.drop_table({lit(name)})")
        diff.summary.append(f"drop {_label(table)}")
        diff.slug.append(f"drop_{_slug_name(_label(table))}")
        owner = _entity_of(table) or (
            table["key"][4:].split(".")[0] if (table.get("key") or "").startswith("m2m:") else None
        )
        diff.drops.append((_label(table), owner))
    return diff


def _postgresql_renames(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """PostgreSQL keeps a renamed table's primary key and id sequence under their old names:
    rename them too, so the database reads as if created under the new name."""
    statements = []
    table = _quoted(new["name"])
    before, after = old["primary_key"].get("name"), new["primary_key"].get("name")
    if before and after and before != after:
        statements.append(
            f"ALTER TABLE {table} RENAME CONSTRAINT {_quoted(before)} TO {_quoted(after)}"
        )
    if new["primary_key"]["columns"] == ["id"]:
        sequence, renamed = _quoted(old["name"] + "_id_seq"), _quoted(new["name"] + "_id_seq")
        statements.append(f"ALTER SEQUENCE IF EXISTS {sequence} RENAME TO {renamed}")
    if not statements:
        return []
    return ['if op.get_bind().dialect.name == "postgresql":'] + [
        f"    op.execute({lit(statement)})" for statement in statements
    ]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _translate(
    items: list[dict[str, Any]], columns: dict[str, str], tables: dict[str, str]
) -> list[dict[str, Any]]:
    """Old constraints/indexes with old column and table names replaced by the new ones."""
    result = []
    for item in items:
        copy = dict(item)
        if "columns" in copy:
            copy["columns"] = [columns.get(c, c) for c in copy["columns"]]
        if "ref_table" in copy:
            copy["ref_table"] = tables.get(copy["ref_table"], copy["ref_table"])
        result.append(copy)
    return result


def _alter_table(
    diff: Diff,
    old: dict[str, Any],
    new: dict[str, Any],
    plan: Plan,
    renamed: dict[str, str],
    backfill: Callable[[str, str], Any] | None,
) -> None:
    name = new["name"]
    pairs = {n: o for (t, n), o in plan.columns.items() if t == name}  # new column -> old column
    to_new = {o: n for n, o in pairs.items()}
    old_columns = {c["name"]: c for c in old["columns"]}
    batch: list[str] = []
    later: list[str] = []
    fills: list[str] = []
    rewrites: list[str] = []  # run before the batch: it may copy the table with a CAST

    kinds = (
        ("indexes", None),
        ("foreign_keys", "foreignkey"),
        ("unique", "unique"),
        ("checks", "check"),
    )
    creates: list[str] = []
    for kind, type_ in kinds:
        before = _translate(old[kind], to_new, renamed)
        for item, original in zip(before, old[kind], strict=True):
            if item not in new[kind]:
                if type_ is None:
                    batch.append(f"batch_op.drop_index(op.f({lit(original['name'])}))")
                else:
                    batch.append(
                        f"batch_op.drop_constraint(op.f({lit(original['name'])}), type_={lit(type_)})"
                    )
        for item in new[kind]:
            if item in before:
                continue
            ref = lit(item["name"])
            if type_ is None:
                creates.append(
                    f"batch_op.create_index(op.f({ref}), {lit(item['columns'])}, unique={item['unique']})"
                )
            elif type_ == "foreignkey":
                ondelete = f", ondelete={lit(item['ondelete'])}" if item.get("ondelete") else ""
                creates.append(
                    f"batch_op.create_foreign_key(op.f({ref}), {lit(item['ref_table'])}, "
                    f"{lit(item['columns'])}, {lit(item['ref_columns'])}{ondelete})"
                )
            elif type_ == "unique":
                creates.append(
                    f"batch_op.create_unique_constraint(op.f({ref}), {lit(item['columns'])})"
                )
            else:
                creates.append(
                    f"batch_op.create_check_constraint(op.f({ref}), {check_source(item, diff)})"
                )

    for column in new["columns"]:
        source_name = pairs.get(column["name"])
        if source_name is None:
            continue
        before = old_columns[source_name]
        args = []
        if source_name != column["name"]:
            args.append(f"new_column_name={lit(column['name'])}")
            diff.summary.append(f"rename {_label(old, before)} to {_label(new, column)}")
            diff.slug.append(f"rename_{_slug_name(_label(old, before))}")
        changed = False
        encrypted, was_encrypted = column.get("encrypted"), before.get("encrypted")
        if encrypted != was_encrypted:
            # turned on: the batch widens the column, then its values are encrypted; turned
            # off: its values are decrypted first, then the batch gives it its type back
            diff.crypto = True
            blind = next(
                (c["name"] for c in new["columns"] if c.get("key") == f"blind:{column['key'][6:]}"),
                "",
            )
            if was_encrypted:
                rewrites.append(
                    f"decrypt_column(op.get_bind(), {lit(name)}, {lit(source_name)}, "
                    f"{lit(was_encrypted)})"
                )
                diff.summary.append(f"decrypt {_label(new, column)}")
                diff.slug.append(f"decrypt_{_slug_name(_label(new, column))}")
                if before.get("encrypted_json") and before["type"] != column["type"]:
                    args.append(f"postgresql_using={lit(column['name'] + '::jsonb')}")
            if encrypted:
                fills.append(
                    f"encrypt_column(op.get_bind(), {lit(name)}, {lit(column['name'])}, "
                    f"{lit(encrypted)}{', ' + lit(blind) if blind else ''})"
                )
                diff.summary.append(f"encrypt {_label(new, column)}")
                diff.slug.append(f"encrypt_{_slug_name(_label(new, column))}")
        if before["type"] != column["type"]:
            args.append(f"type_={column['type']}")
            changed = True
            rewrite = _rewrite(name, source_name, before["type"], column["type"])
            if rewrite is not None:
                rewrites.append(rewrite)
                diff.rewrites = True
            if _type_head(before["type"]) == _type_head(column["type"]):
                if not type_change_is_safe(before["type"], column["type"]):
                    diff.warnings.append(
                        f"{_label(new, column)} narrows from {before['type']} to {column['type']}: "
                        "migrate fails while a value does not fit"
                    )
            elif encrypted != was_encrypted:  # the values are rewritten, not lost
                if was_encrypted:
                    diff.warnings.append(
                        f"{_label(new, column)} is decrypted into {column['type']}: migrate "
                        "fails while a value does not fit"
                    )
            elif not type_change_is_safe(before["type"], column["type"]):
                diff.drops.append(
                    (f"{_label(new, column)} (type {before['type']} -> {column['type']})", None)
                )
        if before["nullable"] != column["nullable"]:
            args.append(f"nullable={column['nullable']}")
            changed = True
            if not column["nullable"]:
                diff.warnings.append(
                    f"{_label(new, column)} becomes required: migrate fails while a row has no value"
                )
        if before.get("server_default") != column.get("server_default"):
            args.append(f"server_default={column.get('server_default') or 'None'}")
            changed = True
        if before.get("comment") != column.get("comment"):
            args.append(f"comment={lit(column.get('comment'))}")
            args.append(f"existing_comment={lit(before.get('comment'))}")
            changed = True
        region = column.get("phone_region")
        if region and region != before.get("phone_region"):
            # phones become E.164 (or change region): the stored values are rewritten after the
            # batch; what cannot be read is kept as it was and logged
            fills.append(
                f"normalise_column(op.get_bind(), {lit(name)}, {lit(column['name'])}, {lit(region)})"
            )
            diff.phones = True
            diff.summary.append(f"normalise phones of {_label(new, column)}")
            diff.slug.append(f"phones_{_slug_name(_label(new, column))}")
        if args:
            args.append(f"existing_type={before['type']}")
            if before["nullable"] == column["nullable"]:
                args.append(f"existing_nullable={before['nullable']}")
            batch.append(f"batch_op.alter_column({lit(source_name)}, {', '.join(args)})")
            if changed:
                diff.summary.append(f"alter {_label(new, column)}")
                diff.slug.append(f"alter_{_slug_name(_label(new, column))}")

    for column in new["columns"]:
        if column["name"] in pairs:
            continue
        diff.summary.append(f"add {_label(new, column)}")
        diff.slug.append(f"add_{_slug_name(_label(new, column))}")
        if column["nullable"] or column.get("server_default"):
            batch.append(f"batch_op.add_column({column_source(column)})")
            continue
        batch.append(f"batch_op.add_column({column_source(column, nullable=True)})")
        value = backfill(name, column["name"]) if backfill else None
        if value is not None:
            diff.uses_dt |= isinstance(value, date)
            diff.uses_decimal |= isinstance(value, Decimal)
            fills.append(
                f"op.execute(sa.table({lit(name)}, sa.column({lit(column['name'])})).update()"
                f".values({{{lit(column['name'])}: {_fill(value, column['type'], diff)}}}))"
            )
        else:
            diff.warnings.append(
                f"{_label(new, column)} is required and has no default: migrate fails while "
                f"{name} has rows (give the field a default, or add it optional first)"
            )
        later.append(
            f"batch_op.alter_column({lit(column['name'])}, existing_type={column['type']}, nullable=False)"
        )

    for column in old["columns"]:
        if column["name"] not in to_new:
            batch.append(f"batch_op.drop_column({lit(column['name'])})")
            diff.summary.append(f"drop {_label(old, column)}")
            diff.slug.append(f"drop_{_slug_name(_label(old, column))}")
            if not str(column.get("key", "")).startswith("blind:"):  # derived: no data lost
                diff.drops.append((_label(old, column), _entity_of(old)))

    if old.get("comment") != new.get("comment"):
        diff.lines.append('if op.get_bind().dialect.name != "sqlite":  # SQLite has no comments')
        if new.get("comment") is None:
            diff.lines.append(
                f"    op.drop_table_comment({lit(name)}, existing_comment={lit(old.get('comment'))})"
            )
        else:
            diff.lines.append(
                f"    op.create_table_comment({lit(name)}, {lit(new['comment'])}, "
                f"existing_comment={lit(old.get('comment'))})"
            )
        diff.summary.append(f"comment on {_label(new)}")
    # New constraints and indexes go in a second batch: in SQLite's copy-and-swap mode a
    # constraint on a column renamed in the same batch would be lost.
    later += creates
    for block in (rewrites, batch, fills, later):
        if not block:
            continue
        if block is fills or block is rewrites:
            diff.lines.extend(block)
            continue
        diff.lines.append(f"with op.batch_alter_table({lit(name)}) as batch_op:")
        diff.lines.extend("    " + line for line in block)


def _fill(value: Any, type_: str, diff: Diff) -> str:
    """A backfilled value as Python source (an exact decimal in whole units on SQLite)."""
    storage = _storage(type_)
    if not isinstance(value, Decimal) or storage is None or storage[0] != "units":
        return lit(value)
    diff.uses_sqlite = True
    return f"{int(value.scaleb(storage[2]))} if sqlite else {lit(value)}"


# --- revision files ---------------------------------------------------------------------

# Written into a revision that rewrites number columns on SQLite (see ``_rewrite``).
SQLITE_DECIMALS = """

def _units(value: Decimal, precision: int, scale: int) -> int:
    \"\"\"``value`` as whole units of 10^-scale (rounded half-up); refused when it does not fit.\"\"\"
    units = value.scaleb(scale).to_integral_value(ROUND_HALF_UP)
    if abs(units) >= 10**precision:
        raise ValueError(f"{value} does not fit NUMERIC({precision}, {scale})")
    return int(units)


def _sqlite_decimals(table: str, column: str, convert: Callable[[Any], Any]) -> None:
    \"\"\"SQLite: store every value of ``table.column`` anew as ``convert`` says (exact decimals
    are whole numbers of their smallest unit there); other databases convert by themselves.\"\"\"
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    read = sa.text(
        f'SELECT rowid, "{column}" FROM "{table}" WHERE rowid > :after AND "{column}" IS NOT NULL '
        "ORDER BY rowid LIMIT 5000"
    )
    write = sa.text(f'UPDATE "{table}" SET "{column}" = :value WHERE rowid = :id')
    connection.exec_driver_sql("PRAGMA ignore_check_constraints = ON")  # limits in the old unit
    after = 0
    while rows := connection.execute(read, {"after": after}).all():
        connection.execute(write, [{"id": row[0], "value": convert(row[1])} for row in rows])
        after = rows[-1][0]
    connection.exec_driver_sql("PRAGMA ignore_check_constraints = OFF")
"""


def render_revision(
    revision: str, down: str | None, message: str, up: Diff, down_diff: Diff
) -> str:
    rewrites = up.rewrites or down_diff.rewrites
    uses_dt = up.uses_dt or down_diff.uses_dt
    uses_decimal = up.uses_decimal or down_diff.uses_decimal
    imports = ["from __future__ import annotations", ""]
    if uses_dt:
        imports.append("import datetime as dt")
    if rewrites:
        imports.append("from collections.abc import Callable")
        imports.append("from decimal import ROUND_HALF_UP, Decimal")
        imports.append("from typing import Any")
    elif uses_decimal:
        imports.append("from decimal import Decimal")
    if uses_dt or uses_decimal or rewrites:
        imports.append("")
    imports += ["import sqlalchemy as sa", "from alembic import op"]
    if up.phones:
        imports.append("from crmgen_runtime.phones import normalise_column")
    if up.crypto or down_diff.crypto:
        imports.append("from crmgen_runtime.crypto import decrypt_column, encrypt_column")
    if any("postgresql." in line for line in up.lines + down_diff.lines):
        imports.append("from sqlalchemy.dialects import postgresql")

    def body(diff: Diff) -> str:
        lines = diff.lines
        if diff.uses_sqlite:
            lines = ['sqlite = op.get_context().dialect.name == "sqlite"', *lines]
        return (
            "\n".join("    " + line.replace("\n", "\n    ") for line in lines)
            if lines
            else "    pass"
        )

    return (
        f'"""{message}\n\nRevision ID: {revision}\nRevises: {down or "(none)"}\n'
        f'Generated by crmgen from the spec; edit the spec, not this file.\n"""\n\n'
        + "\n".join(imports)
        + f"\n\nrevision = {lit(revision)}\ndown_revision = {lit(down)}\n"
        "branch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade() -> None:\n{body(up)}\n\n\n"
        f"def downgrade() -> None:\n{body(down_diff)}\n" + (SQLITE_DECIMALS if rewrites else "")
    )


def _message(summary: list[str], initial: bool) -> str:
    if initial:
        return "Initial tables of the app."
    if not summary:
        return "Update."
    head = ", ".join(summary[:2]) + (f" and {len(summary) - 2} more" if len(summary) > 2 else "")
    text = head[:1].upper() + head[1:] + "."
    if len(summary) > 1:
        text += "\n\nChanges:\n" + "\n".join(f"- {line}" for line in summary)
    return text


def _slug(parts: list[str], initial: bool) -> str:
    if initial:
        return "initial"
    slug = ""
    for part in parts:
        candidate = f"{slug}_{part}" if slug else part
        if len(candidate) > 48:
            return (slug or part[:48]).rstrip("_") + ("_and_more" if slug else "")
        slug = candidate
    return slug or "update"


@dataclass
class Outcome:
    """What the migrations step did, for the command line to report."""

    revision: str | None  # the new revision file (relative path), or None when nothing changed
    warnings: list[str]
    files: list[str]  # every migration file written (relative paths)
    dropped: tuple[str, ...] = ()  # what the new revision drops (Entity or Entity.field)


def _backfill(spec: Spec) -> Callable[[str, str], Any]:
    def value(table: str, column: str) -> Any:
        for entity in spec.entities:
            if entity.table != table:
                continue
            for f in entity.fields:
                if f.column == column and f.default is not None and not f.default.is_expr:
                    literal = f.default.literal
                    if isinstance(literal, float) and field_type(f.type).exact:
                        return Decimal(str(literal))
                    if isinstance(literal, str | int | float | bool | date | Decimal):
                        return literal
        return None

    return value


def read_previous(out: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """The previous snapshot and revision files in ``out`` (empty when there is none)."""
    snapshot = out / SNAPSHOT
    versions = out / VERSIONS
    files = (
        sorted(p.name for p in versions.glob("*.py") if REVISION_FILE.match(p.name))
        if versions.is_dir()
        else []
    )
    if not snapshot.is_file():
        return None, files
    try:
        data = json.loads(snapshot.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GenerateError(
            f"{snapshot}: cannot read the previous migration snapshot: {exc}"
        ) from exc
    if data.get("format") != SNAPSHOT_FORMAT:
        raise GenerateError(f"{snapshot}: unknown snapshot format {data.get('format')!r}")
    return data, files


def add_migrations(
    spec: Spec,
    staging: Path,
    out: Path,
    allow_destructive: Iterable[str] = (),
) -> Outcome:
    """Write the migration revisions and the snapshot into ``staging``; raise on refused drops."""
    new = annotate(probe(staging, spec.app.name), spec)
    previous, files = read_previous(out) if out.is_dir() else (None, [])
    if previous is not None and previous.get("app") != spec.app.name:
        raise GenerateError(
            f"{out} holds the app {previous.get('app')!r}, not {spec.app.name!r}: "
            "renaming an app is not a migration; generate into a new folder"
        )
    if previous is None:
        files = []  # revisions without a snapshot cannot be continued: start over
    versions = staging / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    written = []
    for name in files:
        shutil.copyfile(out / VERSIONS / name, versions / name)
        written.append(f"{VERSIONS}/{name}")
    head = files[-1][:4] if files else None
    empty: dict[str, Any] = {"tables": []}
    old = previous or empty
    plan = match(old, new, spec) if previous is not None else Plan()
    up = operations(old, new, plan, _backfill(spec))
    warnings = list(up.warnings)
    new_file = None
    recompute = changed_rollups(previous, spec)
    for name in recompute:  # no table changes: the revision makes migrate recompute them
        up.summary.append(f"recompute {name} (its rollup changed)")
        up.slug.append(f"recompute_{name.replace('.', '_').lower()}")
    if up.lines or recompute:
        allowed = set(allow_destructive)
        refused = [
            name
            for name, owner in up.drops
            if name not in allowed and (owner is None or owner not in allowed)
        ]
        refused = [n for n in refused if n.split(" ", 1)[0] not in allowed]
        if refused:
            raise DestructiveChange(
                refused,
                "this spec change would delete data: "
                + ", ".join(refused)
                + f". {out} is unchanged. "
                "Back up first (python -m "
                + spec.app.name
                + " backup FILE), then allow each one by "
                "name: " + " ".join(f"--allow-destructive {n.split(' ', 1)[0]}" for n in refused),
            )
        warnings += [f"the new migration drops {name} (data in it is lost)" for name, _ in up.drops]
        down = operations(new, old, invert(plan))
        number = f"{int(head) + 1:04d}" if head else "0001"
        initial = head is None
        filename = f"{number}_{_slug(up.slug, initial)}.py"
        text = render_revision(number, head, _message(up.summary, initial), up, down)
        path = versions / filename
        path.write_bytes(text.encode("utf-8"))
        format_files([path], staging)
        written.append(f"{VERSIONS}/{filename}")
        new_file = f"{VERSIONS}/{filename}"
        head = number
    snapshot = {
        "format": SNAPSHOT_FORMAT,
        "app": spec.app.name,
        "head": head,
        "tables": new["tables"],
        "rollups": rollup_definitions(spec),
    }
    (staging / SNAPSHOT).write_bytes(
        (json.dumps(snapshot, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    )
    written.append(SNAPSHOT)
    dropped = tuple(sorted({name.split(" ", 1)[0] for name, _ in up.drops})) if new_file else ()
    return Outcome(new_file, warnings, sorted(written), dropped)
