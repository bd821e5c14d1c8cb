"""What a list's total and its paging cost on a big PostgreSQL table, as ratios, in one run.

    python benchmarks/lists.py [--contacts 200000] [--seconds 5] [--connections 4]
                               [--database postgresql://postgres@127.0.0.1:5432/postgres]

Generates examples/crm into a temporary folder, makes a new PostgreSQL database on the server
of ``--database`` (dropped at the end), migrates it and creates a user through the app's CLI,
fills it with ``--contacts`` contacts (and a company per 10) in one ``INSERT ... SELECT``,
analyses it, and serves the app with uvicorn (one worker). Then it loads each request for a
fixed time (``wrk`` when installed, else httpx on asyncio) and prints req/s, mean latency and
the ratio against the first page with ``count=exact`` (the old default: a full count per
request): the first page with the default ``count=estimate`` (an exact count bounded at
``LIST_EXACT_COUNT_LIMIT``, then the planner's estimate) and ``count=none``; and a page
10,000 records in by ``cursor`` against the same page by ``offset``; and the first page sorted
by a column both ways and filtered by owner against the page by id, then ``sort=-full_name``
again without its index (what every column sort cost before the lists' indexes).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

import httpx2 as httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.api import EMAIL, PACKAGE, PASSWORD, app_commands, environment, load, serve
from crmgen.generate import generate

FULL_NAME_INDEX = "ix_contacts_list_full_name_id"  # the list index of the default order
DEEP = 10_000  # the records before the deep page (the default LIST_MAX_OFFSET)


def fill(url: str, contacts: int) -> None:
    """Companies (one per 10 contacts) and contacts owned by the bench user, then ANALYZE."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        owner = connection.execute(sa.text("SELECT min(id) FROM users")).scalar_one()
        connection.execute(
            sa.text(
                "INSERT INTO companies (name, owner_id)"
                " SELECT 'Company ' || lpad(n::text, 6, '0'), :owner"
                " FROM generate_series(1, :companies) AS n"
            ),
            {"owner": owner, "companies": contacts // 10 + 1},
        )
        connection.execute(
            sa.text(
                "INSERT INTO contacts (full_name, email, phone, company_id, owner_id)"
                " SELECT 'Contact ' || lpad(n::text, 7, '0'), 'c' || n || '@bench.example',"
                " '+1 555 0100', (SELECT min(id) FROM companies) + n / 10, :owner"
                " FROM generate_series(0, :contacts - 1) AS n"
            ),
            {"owner": owner, "contacts": contacts},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


def mean_ms(url: str, token: str, runs: int = 20) -> float:
    """The mean latency of ``url`` over ``runs`` requests in a row, in milliseconds."""
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        client.get(url).raise_for_status()
        total = 0.0
        for _ in range(runs):
            response = client.get(url)
            response.raise_for_status()
            total += response.elapsed.total_seconds()
    return total / runs * 1000


def measure(
    base: str, token: str, contacts: int, seconds: float, connections: int, url: str
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    first = httpx.get(f"{base}/api/contacts?limit=1", headers=auth, timeout=60).json()
    owner = first["items"][0]["owner"]["id"]
    exact = httpx.get(f"{base}/api/contacts?count=exact", headers=auth, timeout=60).json()
    estimate = httpx.get(f"{base}/api/contacts", headers=auth, timeout=60).json()
    assert exact.get("total") == contacts and exact["total_kind"] == "exact", exact
    print(f"total: exact {exact['total']}, default {estimate['total']} ({estimate['total_kind']})")
    deep = max(500, min(DEEP, contacts // 2) // 500 * 500)
    cursor = None
    for _ in range(deep // 500):  # the cursor of the page DEEP records in
        query = "limit=500&count=none" + (f"&cursor={cursor}" if cursor else "")
        cursor = httpx.get(f"{base}/api/contacts?{query}", headers=auth, timeout=60).json()[
            "next_cursor"
        ]
    by_cursor = httpx.get(f"{base}/api/contacts?cursor={cursor}", headers=auth).json()
    by_offset = httpx.get(f"{base}/api/contacts?offset={deep}", headers=auth).json()
    assert by_cursor["items"] == by_offset["items"]  # the same page
    groups = {
        "first page": {
            "count=exact": "/api/contacts?count=exact",
            "default (estimate)": "/api/contacts",
            "count=none": "/api/contacts?count=none",
        },
        "first page by id (an index)": {
            "count=exact": "/api/contacts?sort=id&count=exact",
            "default (estimate)": "/api/contacts?sort=id",
            "count=none": "/api/contacts?sort=id&count=none",
        },
        f"page {deep:,} records in": {
            "offset": f"/api/contacts?offset={deep}",
            "cursor": f"/api/contacts?cursor={cursor}",
        },
    }
    groups["sorted by a column (count=none)"] = {
        "by id": "/api/contacts?sort=id&count=none",
        "full_name": "/api/contacts?sort=full_name&count=none",
        "-full_name": "/api/contacts?sort=-full_name&count=none",
        "-phone (nullable)": "/api/contacts?sort=-phone&count=none",
        "owner= (a filter)": f"/api/contacts?owner={owner}&count=none",
    }
    print(f"{'request':<48}{'req/s':>9}{'mean ms':>10}{'ratio':>8}")
    by_id = 0.0
    for group, requests in groups.items():
        by_id = _measure_group(base, token, group, requests, seconds, connections)
    # what the sort cost before the lists' indexes (and the old ORDER BY no index matched)
    with sa.create_engine(url).begin() as connection:
        connection.execute(sa.text(f"DROP INDEX {FULL_NAME_INDEX}"))
    without = {"-full_name, no index": "/api/contacts?sort=-full_name&count=none"}
    _measure_group(base, token, "sorted by a column", without, seconds, connections, by_id)


def _measure_group(
    base: str,
    token: str,
    group: str,
    requests: dict[str, str],
    seconds: float,
    connections: int,
    reference: float | None = None,
) -> float:
    """Each request's req/s, mean latency and ratio against ``reference`` (default: the
    group's first request's req/s, which it returns)."""
    for name, path in requests.items():
        rps = load(base + path, token, seconds, connections)
        latency = mean_ms(base + path, token)
        reference = reference or rps
        print(f"{group + ', ' + name:<48}{rps:>9.1f}{latency:>10.1f}{rps / reference:>7.2f}x")
    return reference or 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument(
        "--database", default="postgresql://postgres@127.0.0.1:5432/postgres", help="the server"
    )
    options = parser.parse_args()
    server = sa.make_url(options.database).set(drivername="postgresql+psycopg")
    name = f"crmgen_bench_lists_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory(prefix="crmgen-bench-") as tmp:
            folder = Path(tmp)
            out = folder / "crm"
            generate(ROOT / "examples" / "crm", out)
            url = server.set(database=name).render_as_string(hide_password=False)
            env = environment(out, url)
            app_commands(
                env,
                folder,
                ["migrate"],
                ["createuser", "--email", EMAIL, "--password", PASSWORD, "--role", "admin"],
            )
            fill(url, options.contacts)
            print(
                f"{options.contacts:,} contacts, PostgreSQL, 1 uvicorn worker, "
                f"{options.connections} connections, {options.seconds:g} s per request"
            )
            with serve(f"{PACKAGE}.app:create_app", out, url, folder) as base:
                login = httpx.post(
                    f"{base}/api/auth/login",
                    json={"email": EMAIL, "password": PASSWORD},
                    timeout=30,
                )
                login.raise_for_status()
                token = login.json()["access_token"]
                measure(base, token, options.contacts, options.seconds, options.connections, url)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
