"""Latency of every list shape, the dashboards, an export and an import at two table sizes.

    python benchmarks/scale.py [--sizes 10000,1000000] [--requests 100] [--connections 4]
                               [--import-rows 100000]
                               [--database postgresql://postgres@127.0.0.1:5432/postgres]

Generates examples/crm into a temporary folder. For each size N it makes a new PostgreSQL
database (dropped at the end), migrates it, creates an admin and a seller (role ``sales``)
through the app's CLI, and fills it by ``COPY`` with 18 more users, N/10 companies and N
contacts, deals and tasks (owners among the 20 users, a few owning most; stages, priorities,
statuses and dates spread as a sales team's are), then ``VACUUM ANALYZE``. It serves the app
with uvicorn (one worker) and, as the admin and as the seller, sends ``--requests`` requests
of every list shape the reference CRM's UI and API offer for contacts, companies, deals and
tasks: unfiltered, each list filter, each sortable column both ways, ``q=`` (a common surname
and an e-mail), and a cursor page 1,000 pages in (or half way through a smaller table); then
every dashboard and report. ``--connections`` requests run at a time; the dashboards and
reports are measured again one request at a time ("alone"), as one user opens them. Then the
admin exports the contacts (CSV, streamed; the server's peak RSS is sampled), and at the
biggest size the worker imports ``--import-rows`` contacts queued as the import page queues
them.

Prints p50/p99 in ms per shape at each size and the ratio of the largest size to the smallest
(the aim: at most 2 for first pages).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psycopg
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.api import EMAIL, PACKAGE, PASSWORD, app_commands, environment, serving
from crmgen.generate import generate
from crmgen.language import load_spec

SELLER = "seller@bench.example"
USERS = 20
ROLES = {"admin": "admin", "seller": "sales"}  # who measures: the spec's role
ENTITIES = ("Contact", "Company", "Deal", "Task")
PAGE = 50
DEEP_PAGES = 1_000
FIRST = ("Anna", "Boris", "Chen", "Dewi", "Emir", "Fatima", "Goran", "Hana", "Ivan", "Jun")
LAST = ("Smith", "Ivanova", "Wang", "Santoso", "Hodzic", "Garcia", "Kim", "Novak", "Tan", "Li")
SURNAMES = [f"{name}{i}" for name in LAST for i in range(100)]  # 1,000 surnames
STAGES = {"lead": 30, "qualification": 20, "proposal": 15, "negotiation": 10, "won": 15, "lost": 10}
STATUSES = {"new": 30, "in_progress": 20, "done": 45, "cancelled": 5}
PRIORITIES = {"low": 30, "normal": 55, "high": 15}
INDUSTRIES = ("retail", "manufacturing", "services", "it", "other")

IMPORT = """
import json, sys
import sqlalchemy as sa
from crmgen_runtime.db import Database
from crmgen_runtime.spreadsheets import ImportLimits, Table
from crmgen_runtime.web import import_jobs, imports
from {package}.settings import load_settings
from {package}.web.core import SITE

rows_total = {rows}
db = Database(load_settings().database_url)
with db.engine.connect() as connection:
    user = connection.execute(
        sa.text("SELECT id FROM users WHERE email = :email"), {{"email": {email!r}}}
    ).scalar_one()
rows = [
    (line, [f"Imported Person {{line:07d}}", f"imported{{line}}@bench.example"])
    for line in range(2, rows_total + 2)
]
table = Table(["Name", "E-mail"], rows)
uploads, failures = imports.uploads_of(SITE.catalog), imports.failures_of(SITE.catalog)
limits = ImportLimits(rows=rows_total, cells=rows_total * 2)
upload = imports.store(db, uploads, failures, "admin", "contacts", "people.csv", table, limits)
job = {{"mapping": ["full_name", "email"], "match": "", "locale": "en", "user_id": user, "ip": None}}
assert import_jobs.queue(db, uploads, upload, job, len(rows))
db.dispose()
print(json.dumps(upload))
"""


def weighted(rng: random.Random, weights: dict[str, int], count: int) -> list[str]:
    return rng.choices(list(weights), list(weights.values()), k=count)


def owners(rng: random.Random, ids: list[int], count: int) -> list[int]:
    """Owners among ``ids``, a few of them owning most (weights 1/rank)."""
    return rng.choices(ids, [1 / (rank + 1) for rank in range(len(ids))], k=count)


def copy(
    connection: psycopg.Connection[Any], table: str, columns: str, rows: Iterator[Any]
) -> None:
    with connection.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as out:
        for row in rows:
            out.write_row(row)


def fill(url: str, size: int, today: dt.date) -> None:
    """Users, companies, contacts, deals and tasks by COPY, then VACUUM ANALYZE."""
    rng = random.Random(size)
    companies = max(1, size // 10)
    with psycopg.connect(url) as connection:
        copy(
            connection,
            "users",
            "email, name, active",
            ((f"user{n}@bench.example", f"User {n}", True) for n in range(USERS - 2)),
        )
        users = [row[0] for row in connection.execute("SELECT id FROM users ORDER BY id")]
        seller = connection.execute("SELECT id FROM users WHERE email = %s", (SELLER,)).fetchone()
        assert seller is not None
        # the seller is the second busiest owner, not the first
        users.remove(seller[0])
        users.insert(1, seller[0])

        def company_rows() -> Iterator[Any]:
            owned = owners(rng, users, companies)
            for n in range(companies):
                phone = None if n % 10 == 0 else f"+1 555 {n:07d}"
                yield (
                    f"{rng.choice(LAST)} {rng.choice(('Ltd', 'LLC', 'Group', 'Trading'))} {n}",
                    rng.choice(INDUSTRIES),
                    owned[n],
                    phone,
                    f"office{n}@company{n}.example",
                )

        copy(connection, "companies", "name, industry, owner_id, phone, email", company_rows())
        company_ids = [row[0] for row in connection.execute("SELECT id FROM companies")]

        def contact_rows() -> Iterator[Any]:
            owned = owners(rng, users, size)
            for n in range(size):
                surname = rng.choice(SURNAMES)
                yield (
                    f"{rng.choice(FIRST)} {surname}",
                    rng.choice(company_ids) if n % 20 else None,
                    owned[n],
                    n % 10 == 0,
                    None if n % 7 == 0 else f"+1 555 {n:07d}",
                    f"{surname.lower()}.{n}@mail.example",
                )

        copy(
            connection,
            "contacts",
            "full_name, company_id, owner_id, is_key, phone, email",
            contact_rows(),
        )
        first_contact = connection.execute("SELECT min(id) FROM contacts").fetchone()[0]  # type: ignore[index]

        def deal_rows() -> Iterator[Any]:
            owned = owners(rng, users, size)
            stages = weighted(rng, STAGES, size)
            for n in range(size):
                stage = stages[n]
                closed = today - dt.timedelta(days=rng.randrange(730))
                yield (
                    f"Deal {n} {rng.choice(LAST)}",
                    stage,
                    None if n % 10 == 0 else rng.randrange(1, 2_000) * 50,
                    None if n % 7 == 0 else today + dt.timedelta(days=rng.randrange(-365, 365)),
                    closed if stage in ("won", "lost") else None,
                    rng.choice(company_ids),
                    first_contact + rng.randrange(size),
                    owned[n],
                )

        copy(
            connection,
            "deals",
            "name, stage, amount, expected_close, closed_on, company_id, contact_id, owner_id",
            deal_rows(),
        )
        first_deal = connection.execute("SELECT min(id) FROM deals").fetchone()[0]  # type: ignore[index]

        def task_rows() -> Iterator[Any]:
            assigned = owners(rng, users, size)
            statuses = weighted(rng, STATUSES, size)
            priorities = weighted(rng, PRIORITIES, size)
            for n in range(size):
                yield (
                    f"Call {rng.choice(FIRST)} about deal {n}",
                    assigned[n],
                    None if n % 9 == 0 else today + dt.timedelta(days=rng.randrange(-200, 200)),
                    priorities[n],
                    statuses[n],
                    first_deal + rng.randrange(size) if n % 3 else None,
                    first_contact + rng.randrange(size) if n % 2 else None,
                )

        copy(
            connection,
            "tasks",
            "title, assignee_id, deadline, priority, status, deal_id, contact_id",
            task_rows(),
        )
        connection.commit()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def shapes(spec: Any, entity_name: str, ref: int, q: str) -> dict[str, str]:
    """The list requests the UI and API offer for an entity, by name: first pages."""
    entity = spec.entity(entity_name)
    base = f"/api/{entity.api_path}?limit={PAGE}"
    found = {"unfiltered": base, f"q={q}": f"{base}&q={q}"}
    for name in entity.ui.list.filters:
        field = entity.field(name)
        if field.values:
            value = field.values[0].name
        elif field.type == "boolean":
            value = "true"
        else:
            value = str(ref)
        found[f"{name}={value}"] = f"{base}&{name}={value}"
    for column in entity.ui.list.columns:
        field = entity.field(column)
        if field is None or field.type in ("json", "refs"):
            continue
        found[f"sort={column}"] = f"{base}&sort={column}"
        found[f"sort=-{column}"] = f"{base}&sort=-{column}"
    return {f"{entity.api_path} {name}": path for name, path in found.items()}


def deep_cursor(client: httpx.Client, base: str, path: str) -> tuple[str | None, int]:
    """The cursor of the page DEEP_PAGES pages of PAGE records in (or half way through a
    smaller list), walked 500 records a request, and how many pages in it is (None: the list
    has less than two pages)."""
    first = client.get(f"{base}{path}?limit=1&count=exact")
    first.raise_for_status()
    pages = min(DEEP_PAGES, first.json()["total"] // PAGE // 2)
    if not pages:
        return None, 0
    cursor, seen = None, 0
    while seen < pages * PAGE:
        step = min(500, pages * PAGE - seen)
        query = f"limit={step}&count=none" + (f"&cursor={cursor}" if cursor else "")
        answer = client.get(f"{base}{path}?{query}")
        answer.raise_for_status()
        cursor, seen = answer.json()["next_cursor"], seen + step
    assert cursor
    return cursor, pages


async def _timed(base: str, path: str, token: str, requests: int, connections: int) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    latencies: list[float] = []
    left = [requests]
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=120) as client:
        for _ in range(connections):  # warm-up: a connection each
            (await client.get(base + path)).raise_for_status()

        async def loop() -> None:
            while left[0] > 0:
                left[0] -= 1
                started = time.perf_counter()
                response = await client.get(base + path)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")

        await asyncio.gather(*(loop() for _ in range(connections)))
    return latencies


def percentiles(latencies: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return cuts[49], cuts[98]


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of process ``pid`` in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    values = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(values["VmRSS"].split()[0]) / 1024, int(values["VmHWM"].split()[0]) / 1024


def export(base: str, token: str, pid: int) -> dict[str, float]:
    """The contacts' CSV export as the admin: seconds, rows, and the server's RSS."""
    before, _ = rss_mb(pid)
    with httpx.Client(timeout=600) as client:
        client.post(f"{base}/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
        started, rows, peak = time.perf_counter(), 0, before
        with client.stream("GET", f"{base}/contacts/export.csv") as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                rows += chunk.count(b"\n")
                peak = max(peak, rss_mb(pid)[0])
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows - 1, "rss_before": before, "rss_peak": peak}


def imported(folder: Path, out: Path, url: str, rows: int) -> dict[str, float]:
    """Queue ``rows`` contacts as the import page does, run a worker until they are in."""
    env = environment(out, url)
    code = IMPORT.format(package=PACKAGE, rows=rows, email=EMAIL)
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    )
    upload = json.loads(done.stdout.strip().splitlines()[-1])
    engine = sa.create_engine(url)
    log = (folder / "worker.log").open("w")
    started = time.perf_counter()
    worker = subprocess.Popen(
        [sys.executable, "-m", PACKAGE, "worker", "--poll", "0.2"],
        env=env,
        cwd=folder,
        stdout=log,
        stderr=log,
    )
    try:
        while True:
            with engine.connect() as connection:
                state = connection.execute(
                    sa.text(
                        "SELECT status, rows_done, rows_failed FROM crm_import_uploads WHERE id = :id"
                    ),
                    {"id": upload},
                ).one()
            if state.status != "importing":
                break
            if worker.poll() is not None:
                raise SystemExit(f"the worker exited: {(folder / 'worker.log').read_text()}")
            time.sleep(0.2)
        seconds = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
        engine.dispose()
    if state.status != "done" or state.rows_failed:
        raise SystemExit(f"the import ended {state}: {(folder / 'worker.log').read_text()}")
    return {
        "seconds": seconds,
        "rows": state.rows_done,
        "rows_per_second": state.rows_done / seconds,
    }


def measure(
    spec: Any, base: str, tokens: dict[str, str], size: int, options: argparse.Namespace
) -> dict[tuple[str, str], tuple[float, float]]:
    """p50 and p99 (ms) of every shape as each role."""
    results: dict[tuple[str, str], tuple[float, float]] = {}
    for role, token in tokens.items():
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(headers=auth, timeout=120) as client:
            requests: dict[str, str] = {}
            for name in ENTITIES:
                entity = spec.entity(name)
                requests.update(shapes(spec, name, 5, "Smith42"))
                path = f"/api/{entity.api_path}"
                cursor, pages = deep_cursor(client, base, path)
                if cursor is not None:
                    print(
                        f"  {size:>9,} {role:<7} {entity.api_path}: the cursor page is {pages:,} pages in"
                    )
                    requests[f"{entity.api_path} cursor, deep page"] = (
                        f"{path}?limit={PAGE}&cursor={cursor}"
                    )
            requests["contacts q=<an e-mail>"] = f"/api/contacts?limit={PAGE}&q=smith42.4242"
            for dashboard in spec.ui.dashboards:
                if ROLES[role] in dashboard.roles or role == "admin":
                    requests[f"dashboard {dashboard.name}"] = f"/api/dashboards/{dashboard.name}"
            for report in spec.ui.reports:
                if ROLES[role] in report.roles or role == "admin":
                    requests[f"report {report.name}"] = f"/api/reports/{report.name}"
        runs = [(shape, path, options.connections) for shape, path in requests.items()]
        # a dashboard or report as one user opens it: alone on the server
        runs += [
            (f"{shape} (alone)", path, 1)
            for shape, path in requests.items()
            if shape.startswith(("dashboard ", "report "))
        ]
        for shape, path, connections in runs:
            latencies = asyncio.run(_timed(base, path, token, options.requests, connections))
            results[(shape, role)] = percentiles(latencies)
            p50, p99 = results[(shape, role)]
            print(f"  {size:>9,} {role:<7} {shape:<44} p50 {p50:8.1f}  p99 {p99:8.1f}", flush=True)
    return results


def run_size(
    spec: Any, out: Path, folder: Path, server: sa.URL, size: int, options: argparse.Namespace
) -> tuple[dict[tuple[str, str], tuple[float, float]], dict[str, Any]]:
    name = f"crmgen_bench_scale_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        env = environment(out, url)
        app_commands(
            env,
            folder,
            ["migrate"],
            ["createuser", "--email", EMAIL, "--password", PASSWORD, "--role", "admin"],
            ["createuser", "--email", SELLER, "--password", PASSWORD, "--role", "sales"],
        )
        started = time.perf_counter()
        fill(
            server.set(drivername="postgresql", database=name).render_as_string(False),
            size,
            dt.date.today(),
        )
        print(f"{size:,}: filled and analysed in {time.perf_counter() - started:.0f} s", flush=True)
        extra: dict[str, Any] = {}
        with serving(f"{PACKAGE}.app:create_app", out, url, folder) as (base, process):
            tokens = {}
            for role, email in (("admin", EMAIL), ("seller", SELLER)):
                login = httpx.post(
                    f"{base}/api/auth/login",
                    json={"email": email, "password": PASSWORD},
                    timeout=30,
                )
                login.raise_for_status()
                tokens[role] = login.json()["access_token"]
            results = measure(spec, base, tokens, size, options)
            extra["export"] = export(base, tokens["admin"], process.pid)
            print(f"  {size:>9,} export {extra['export']}", flush=True)
        if options.import_rows and size == max(options.size_list):  # once: at the biggest
            extra["import"] = imported(folder, out, url, options.import_rows)
            print(f"  {size:>9,} import {extra['import']}", flush=True)
        return results, extra
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def report(
    sizes: list[int],
    results: dict[int, dict[tuple[str, str], tuple[float, float]]],
    extras: dict[int, dict[str, Any]],
) -> None:
    small, big = sizes[0], sizes[-1]
    print()
    print(
        f"| shape | role | p50 / p99 ms at {small:,} | p50 / p99 ms at {big:,} | ratio p50 / p99 |"
    )
    print("|---|---|---|---|---|")
    for key, (p50, p99) in results[small].items():
        if key not in results[big]:
            continue
        b50, b99 = results[big][key]
        print(
            f"| {key[0]} | {key[1]} | {p50:.1f} / {p99:.1f} | {b50:.1f} / {b99:.1f}"
            f" | {b50 / p50:.2f} / {b99 / p99:.2f} |"
        )
    for size in sizes:
        found = extras[size]
        e = found["export"]
        print(
            f"\n{size:,}: export of {e['rows']:,} contacts (CSV) in {e['seconds']:.1f} s, server RSS"
            f" {e['rss_before']:.0f} MB before, peak {e['rss_peak']:.0f} MB"
        )
        if "import" in found:
            i = found["import"]
            print(
                f"{size:,}: import of {i['rows']:,} contacts by the worker in {i['seconds']:.1f} s"
                f" ({i['rows_per_second']:.0f} rows/s)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000", help="row counts, comma-separated")
    parser.add_argument("--requests", type=int, default=100, help="per shape and role")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument(
        "--database", default="postgresql://postgres@127.0.0.1:5432/postgres", help="the server"
    )
    options = parser.parse_args()
    sizes = options.size_list = sorted(int(size) for size in options.sizes.split(","))
    server = sa.make_url(options.database).set(drivername="postgresql+psycopg")
    spec = load_spec(ROOT / "examples" / "crm")
    results, extras = {}, {}
    print(
        f"examples/crm on PostgreSQL, 1 uvicorn worker, {options.connections} connections,"
        f" {options.requests} requests per shape and role; times in ms",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="crmgen-bench-") as tmp:
        folder = Path(tmp)
        out = folder / "crm"
        generate(ROOT / "examples" / "crm", out)
        for size in sizes:
            results[size], extras[size] = run_size(spec, out, folder, server, size, options)
    report(sizes, results, extras)


if __name__ == "__main__":
    main()
