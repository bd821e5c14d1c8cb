"""Rollup fields (``crmgen_runtime.rollups``): kept exact by the row writers on every create,
update, re-link and (soft) delete of a related record, recomputed in batches, on SQLite and
PostgreSQL. A team's count, total, average, smallest and largest score and its last member's
name, over members that are soft-deleted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import PG_URL
from crmgen_runtime import tables, writes
from crmgen_runtime.db import Database
from crmgen_runtime.decimals import ExactDecimal
from crmgen_runtime.resources import Catalog, FieldInfo, Resource
from crmgen_runtime.rollups import Rollup, by_entity, compute, over, recompute, refresh
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):  # what the audit log refers to
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)


class AuditEntry(tables.AuditEntryTable, Base):
    pass


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    name: Mapped[str] = mapped_column(sa.String(50))
    members: Mapped[int] = mapped_column(default=0)
    total: Mapped[Decimal] = mapped_column(ExactDecimal(12, 2), default=0)
    mean: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 1))
    low: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 2))
    high: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 2))
    newest: Mapped[str | None] = mapped_column(sa.String(50))
    ratio: Mapped[float | None] = mapped_column(sa.Float)


class Member(Base):
    __tablename__ = "members"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    name: Mapped[str] = mapped_column(sa.String(50))
    score: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 2))
    share: Mapped[float | None] = mapped_column(sa.Float)
    active: Mapped[bool] = mapped_column(default=True)
    joined: Mapped[dt.date | None] = mapped_column(sa.Date)
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("teams.id"))
    deleted_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))


def _team_fields() -> dict[str, FieldInfo]:
    names = {
        "name": "string",
        "members": "integer",
        "total": "money",
        "mean": "decimal",
        "low": "money",
        "high": "money",
        "newest": "string",
        "ratio": "float",
    }
    return {
        n: FieldInfo(n, t, column=n, read_only=n != "name", required=n == "name")
        for n, t in names.items()
    }


TEAMS = Resource("Team", "teams", "Team", Team, _team_fields(), timestamps=False)
MEMBERS = Resource(
    "Member",
    "members",
    "Member",
    Member,
    {
        "name": FieldInfo("name", "string", column="name", required=True),
        "score": FieldInfo("score", "money", column="score"),
        "share": FieldInfo("share", "float", column="share"),
        "active": FieldInfo("active", "boolean", column="active"),
        "joined": FieldInfo("joined", "date", column="joined"),
        "team": FieldInfo(
            "team", "ref", column="team_id", relation="many_to_one", target="Team", back="team"
        ),
    },
    soft_delete=True,
    timestamps=False,
)
ACTIVE = lambda: Member.active.is_(True)
ROLLUPS = (
    Rollup("Team", "members", "Member", "team", "count", where=ACTIVE),
    Rollup("Team", "total", "Member", "team", "sum", "score"),
    Rollup("Team", "mean", "Member", "team", "avg", "score"),
    Rollup("Team", "low", "Member", "team", "min", "score"),
    Rollup("Team", "high", "Member", "team", "max", "score"),
    Rollup("Team", "newest", "Member", "team", "last", "name", order_by=("joined",)),
    Rollup("Team", "ratio", "Member", "team", "avg", "share"),
)
CATALOG = Catalog([TEAMS, MEMBERS], rollups=ROLLUPS)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A ``Database`` with the two tables: an SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'rollups.sqlite3'}")
    else:
        database = Database(PG_URL, connect_args=request.getfixturevalue("postgres_schema"))
    Base.metadata.create_all(database.engine)
    try:
        yield database
    finally:
        database.dispose()


def team(db: Database, team_id: int) -> dict[str, Any]:
    with db.engine.connect() as connection:
        row = connection.execute(sa.select(Team).where(Team.id == team_id)).mappings().one()
    return dict(row)


def add_member(session: Session, team_id: int | None, name: str, score: str, **more: Any) -> int:
    values = {"name": name, "score": Decimal(score), "team": team_id, **more}
    return writes.insert_row(session, MEMBERS, values, None, None)


def test_rollups_follow_every_write(db: Database) -> None:
    with db.session() as session:
        a = writes.insert_row(session, TEAMS, {"name": "a"}, None, None)
        b = writes.insert_row(session, TEAMS, {"name": "b"}, None, None)
    assert team(db, a)["members"] == 0 and team(db, a)["total"] == 0
    assert team(db, a)["newest"] is None and team(db, a)["mean"] is None
    with db.session() as session:
        first = add_member(session, a, "ann", "10.25", joined=dt.date(2024, 1, 1), share=0.5)
        add_member(session, a, "bob", "0.10", joined=dt.date(2024, 3, 1), share=0.25)
        third = add_member(session, a, "cy", "5.00", joined=dt.date(2024, 2, 1), active=False)
    got = team(db, a)
    assert got["members"] == 2  # cy is not active
    assert got["total"] == Decimal("15.35")
    assert got["mean"] == Decimal("5.1")  # 15.35 / 3, half-up to one place
    assert (got["low"], got["high"]) == (Decimal("0.10"), Decimal("10.25"))
    assert got["newest"] == "bob"
    assert got["ratio"] == pytest.approx(0.375)
    with db.session() as session:  # a change of a value
        writes.update_row(session, MEMBERS, first, {"score": Decimal("20.25")}, None, None)
    assert team(db, a)["total"] == Decimal("25.35")
    with db.session() as session:  # a re-link: both teams change
        writes.update_row(session, MEMBERS, first, {"team": b}, None, None)
    assert (team(db, a)["total"], team(db, b)["total"]) == (Decimal("5.10"), Decimal("20.25"))
    assert (team(db, a)["members"], team(db, b)["members"]) == (1, 1)
    with db.session() as session:  # a soft delete: the member no longer counts
        writes.delete_row(session, MEMBERS, third, None, None)
    assert team(db, a)["total"] == Decimal("0.10") and team(db, a)["low"] == Decimal("0.10")
    with db.session() as session:  # unlinked: its old team only
        writes.update_row(session, MEMBERS, first, {"team": None}, None, None)
    assert team(db, b) | {"name": "b"} == team(db, b)
    assert (team(db, b)["members"], team(db, b)["total"], team(db, b)["newest"]) == (0, 0, None)


def test_recompute_repairs_every_parent_in_batches(db: Database) -> None:
    with db.session() as session:
        ids = [writes.insert_row(session, TEAMS, {"name": f"t{i}"}, None, None) for i in range(5)]
        for i, team_id in enumerate(ids):
            add_member(session, team_id, f"m{i}", f"{i}.50", joined=dt.date(2024, 1, 1 + i))
    with db.engine.begin() as connection:  # tampered with outside the app
        connection.execute(sa.update(Team).values(total=Decimal(999), members=7, newest="x"))
    assert recompute(db.session, CATALOG, batch=2) == 5
    for i, team_id in enumerate(ids):
        got = team(db, team_id)
        assert (got["total"], got["members"], got["newest"]) == (Decimal(f"{i}.50"), 1, f"m{i}")


def test_lookups_and_refresh_of_nothing(db: Database) -> None:
    assert over(CATALOG, "Member") == ROLLUPS and over(CATALOG, "Team") == ()
    assert by_entity(CATALOG) == {"Team": ROLLUPS}
    assert over(Catalog([TEAMS, MEMBERS]), "Member") == ()
    with db.session() as session:
        refresh(session, CATALOG, ROLLUPS, [])  # nothing to do
        refresh(session, CATALOG, ROLLUPS, [12345])  # a parent that is gone
        assert compute(session, CATALOG, ROLLUPS[0], [12345]) == {12345: 0}
        assert compute(session, CATALOG, ROLLUPS[3], [12345]) == {12345: None}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"op": "median", "value": "score"}, "unknown rollup op"),
        ({"op": "count", "value": "score"}, "takes no value"),
        ({"op": "sum"}, "needs a value"),
        ({"op": "last", "value": "name"}, "needs order_by"),
    ],
)
def test_a_rollup_is_checked_when_made(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Rollup("Team", "x", "Member", "team", **arguments)
