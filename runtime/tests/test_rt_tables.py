"""The system tables: mixins that give each app the same tables on its own ``Base``."""

from __future__ import annotations

import datetime as dt

import pytest
import rt_crm
import sqlalchemy as sa
from crmgen_runtime import tables
from crmgen_runtime.resources import Catalog
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


def test_catalog_finds_the_app_class_of_each_mixin(crm: rt_crm.Crm) -> None:
    assert crm.catalog.table(tables.AuditEntryTable) is rt_crm.AuditEntry
    assert crm.catalog.table(tables.OutboxMessageTable) is rt_crm.OutboxMessage
    assert crm.catalog.table(tables.AuditEntryTable) is rt_crm.AuditEntry  # cached


def test_every_system_table_is_created_with_its_constraints(crm_db: rt_crm.Crm) -> None:
    names = set(sa.inspect(crm_db.engine).get_table_names())
    assert {str(mixin.__dict__["__tablename__"]) for mixin in tables.SYSTEM_TABLES} <= names
    with Session(crm_db.engine) as session:
        entry = rt_crm.AuditEntry(
            entity="Deal", record_id=1, action="create", changes={}, user_id=1
        )
        session.add(entry)
        session.flush()
        assert entry.at is not None and entry.user_id == 1
        session.add(rt_crm.AuditEntry(entity="Deal", record_id=1, action="explode", changes={}))
        with pytest.raises(sa.exc.IntegrityError):
            session.flush()


def test_two_apps_in_one_process_get_tables_of_their_own() -> None:
    class OtherBase(DeclarativeBase):
        pass

    class Person(OtherBase):
        __tablename__ = "people"
        id: Mapped[int] = mapped_column(primary_key=True)

    class Entry(tables.AuditEntryTable, OtherBase):
        user_id: Mapped[int | None] = tables.user_column("people", "SET NULL")

    table = OtherBase.metadata.tables["crm_audit_log"]
    assert table is not rt_crm.Base.metadata.tables["crm_audit_log"]
    (key,) = table.c.user_id.foreign_keys
    assert key.target_fullname == "people.id" and key.ondelete == "SET NULL"
    assert {c.name for c in table.constraints if isinstance(c, sa.CheckConstraint)}
    engine = sa.create_engine("sqlite://")
    OtherBase.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Entry(entity="X", record_id=1, action="update", changes={"a": [1, 2]}))
        session.commit()
        assert session.scalars(sa.select(Entry)).one().changes == {"a": [1, 2]}


def test_a_mixin_no_model_uses_is_a_clear_lookup_error(crm: rt_crm.Crm) -> None:
    class Unused:
        pass

    with pytest.raises(LookupError, match="0 models of this app are Unuseds"):
        crm.catalog.table(Unused)
    assert tables.utcnow() - dt.datetime.now(dt.UTC) < dt.timedelta(seconds=5)


def test_an_empty_catalog_has_no_tables() -> None:
    with pytest.raises(LookupError):
        Catalog([]).table(tables.AuditEntryTable)


def test_entity_mixins_keep_the_column_order_and_count_versions() -> None:
    from crmgen_runtime import entities

    class Base(DeclarativeBase):
        pass

    class Note(entities.Record, entities.Timestamps, entities.SoftDelete, Base):
        __tablename__ = "notes"
        display_field = "title"
        title: Mapped[str | None] = mapped_column(sa.String(20))

    assert [c.name for c in Note.__table__.c] == [
        "id",
        "version",
        "title",
        "created_at",
        "updated_at",
        "deleted_at",
    ]
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        note = Note(title="Call Ann")
        session.add(note)
        session.commit()
        assert (note.version, str(note)) == (1, "Call Ann")
        note.title = None
        session.commit()
        assert (note.version, str(note)) == (2, f"#{note.id}")  # no title: its id
        assert str(Note()) == ""  # not stored yet: no id either
        assert note.updated_at is not None and note.deleted_at is None
