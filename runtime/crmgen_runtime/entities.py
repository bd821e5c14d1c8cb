"""What every entity's model has, as mixins of the app's declarative models.

``Record`` gives the integer ``id``, the ``version`` counter of optimistic concurrency (an
update of a stale row raises ``sqlalchemy.orm.exc.StaleDataError``) and ``str(record)``, the
display value (the field named by ``display_field``); ``Timestamps`` the ``created_at`` and
``updated_at`` columns (UTC); ``SoftDelete`` the ``deleted_at`` of an entity whose records are
hidden instead of deleted. An app's model lists what it has::

    class Company(entities.Record, entities.Timestamps, entities.SoftDelete, Base):
        display_field = "name"

The columns keep their places in the table: ``id`` and ``version`` first, the spec's fields,
then the timestamps and ``deleted_at``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from crmgen_runtime.tables import utcnow


class Record:
    """The id, the version counter and the display value of a record."""

    display_field: ClassVar[str] = "id"  # the field ``str(record)`` shows

    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-2)
    version: Mapped[int] = mapped_column(server_default=sa.text("1"), sort_order=-1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        table: sa.Table = cls.__table__  # type: ignore[attr-defined]
        return {"version_id_col": table.c.version}

    def __str__(self) -> str:
        """The display value, or ``#<id>`` when it is empty (``""`` before the first flush)."""
        value = getattr(self, self.display_field, None)
        if value is None or value == "":
            return "" if self.id is None else f"#{self.id}"
        return str(value)


class Timestamps:
    """When a record was created and last updated (UTC)."""

    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, server_default=sa.func.now(), sort_order=1
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True),
        default=utcnow,
        onupdate=utcnow,
        server_default=sa.func.now(),
        sort_order=1,
    )


class SoftDelete:
    """When a record was deleted (None: it was not); deleted records are hidden, not removed."""

    deleted_at: Mapped[dt.datetime | None] = mapped_column(
        sa.DateTime(timezone=True), index=True, sort_order=2
    )


def field_value(obj: Any, name: str) -> Any:
    """``obj.<name>`` where ``name`` is a field's name: a record (a model instance) keeps a field
    named like a Python keyword, or like what its class keeps (``metadata``), in the attribute
    ``<name>_`` (``record.from_``), which spec templates and expressions read as ``record.from``.
    Raises AttributeError like ``getattr``."""
    mapper = sa.inspect(type(obj), raiseerr=False)
    if mapper is not None and f"{name}_" in mapper.attrs:
        return getattr(obj, f"{name}_")
    return getattr(obj, name)
