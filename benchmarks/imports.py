"""How fast an import writes rows, against the database's bare INSERT, in one run.

    python benchmarks/imports.py [--rows N] [--postgres URL]

For examples/crm's contacts on SQLite and PostgreSQL, per database:
- ``import``: what the import's run step does, a hundred rows a transaction through the API's
  checks and writes (``crud.create_in``: permissions, validation, defaults, processes, links,
  the audit entry), with ``links.remember``;
- ``row by row``: the same writes with a transaction and a read-back per row
  (``crud.create_record``), what the import did before;
- ``bare insert``: the same values by one Core ``INSERT`` per row in the same transactions, no
  checks and no audit: the floor.
Prints rows/s of each and the ratios to the floor. The rows are those of the legitimate
50,000-row file of ``tests/security/files/test_legit_import.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crmgen.generate import generate

CHUNK = 100
POSTGRES = os.environ.get(
    "CRMGEN_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def payload(i: int) -> dict[str, Any]:
    return {
        "full_name": f"Legit Person {i}",
        "email": f"legit{i}@legit.example",
        "phone": f"+7 900 {i:07d}",
        "discount": i % 50,
        "birthday": (dt.date(1960, 1, 1) + dt.timedelta(days=i % 15_000)).isoformat(),
        "is_key": i % 3 == 0,
    }


@contextmanager
def database_url(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:6]}.sqlite3'}"
        return
    name = f"crmgen_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def timed(write: Callable[[], None], rows: int) -> float:
    start = time.perf_counter()
    write()
    return rows / (time.perf_counter() - start)


def measure(app: dict[str, Any], kind: str, rows: int, folder: Path) -> dict[str, float]:
    crud, links, models = app["crud"], app["links"], app["models"]
    resource = app["resources"].BY_NAME["Contact"]
    results: dict[str, float] = {}
    with database_url(kind, folder) as url:
        database = app["db"].Database(url)
        models.Base.metadata.create_all(database.engine)
        with database.session() as session:
            admin = app["auth"].create_user(
                session, email="admin@bench.example", password="bench-password", roles=["admin"]
            )
            user = app["principal"].CurrentUser(
                id=admin.id,
                email=admin.email,
                name="admin",
                roles=frozenset({"admin"}),
                superuser=True,
                extra={},
            )
        table = models.Contact.__table__

        def imported() -> None:
            for start in range(0, rows, CHUNK):
                with database.session() as session:
                    links.remember(session)
                    for i in range(start, min(start + CHUNK, rows)):
                        crud.create_in(session, resource, user, payload(i), "127.0.0.1")

        def row_by_row() -> None:
            for i in range(rows, 2 * rows):
                crud.create_record(database, resource, user, payload(i), "127.0.0.1")

        def bare() -> None:
            for start in range(2 * rows, 3 * rows, CHUNK):
                with database.engine.begin() as connection:
                    for i in range(start, min(start + CHUNK, 3 * rows)):
                        values = payload(i)
                        values["birthday"] = dt.date.fromisoformat(values["birthday"])
                        connection.execute(sa.insert(table), values)

        results["import"] = timed(imported, rows)
        results["row by row"] = timed(row_by_row, rows)
        results["bare insert"] = timed(bare, rows)
        database.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        out = folder / "crm"
        generate(ROOT / "examples" / "crm", out)
        sys.path.insert(0, str(out))
        names = ("auth", "crud", "db", "links", "models", "principal", "resources")
        app = {name: importlib.import_module(f"reference_crm.{name}") for name in names}
        app["auth"].hasher = app["auth"].PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
        print(
            f"{args.rows} contacts per way, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
        )
        for kind in ("sqlite", "postgresql"):
            results = measure(app, kind, args.rows, folder)
            floor = results["bare insert"]
            print(f"\n{kind}")
            for way, speed in results.items():
                print(
                    f"  {way:12} {speed:8.0f} rows/s  {1000 / speed:6.2f} ms/row  {speed / floor:5.2f}x"
                )


if __name__ == "__main__":
    main()
