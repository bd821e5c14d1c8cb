"""``q=`` on SQLite: the FTS5 trigram index against the LIKE scan it replaced, in one run.

    python benchmarks/search_sqlite.py [--contacts 100000] [--requests 30]

Generates examples/crm into a temporary folder, migrates an SQLite file (which makes the FTS5
search tables), creates an admin, and fills it with ``--contacts`` contacts (names in Latin
and Cyrillic, e-mails, phones; the triggers fill the index). A copy of the file without the
FTS5 tables searches by LIKE, as before. Both are served by uvicorn (one worker each); each
search is sent ``--requests`` times, one at a time, to each. Prints p50 and p90 in ms and the
ratio LIKE / FTS5 (above 1: the index is faster).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.api import EMAIL, PACKAGE, PASSWORD, app_commands, environment, serve
from crmgen.generate import generate

FIRST = ("Anna", "Boris", "Chen", "Dewi", "Emir", "Fatima", "Goran", "Hana", "Ivan", "Jun")
LAST = ("Smith", "Ivanova", "Wang", "Santoso", "Hodzic", "Garcia", "Kim", "Novak", "Tan", "Li")
CYRILLIC = ("Иванов", "Петрова", "Сидоров", "Кузнецова", "Смирнов")
SEARCHES = {
    "a rare surname (Hodzic42)": "Hodzic42",
    "a common name (Ivan, 1 in 7)": "Ivan",
    "a Cyrillic surname, lower case (иванов)": "иванов",
    "part of an e-mail (42.4242@)": "42.4242@",
    "part of a phone (555-0142)": "555-0142",
    "two words (Anna Smith42)": "Anna Smith42",
    "a 2-letter word (Li: LIKE on both)": "Li",
    "nothing found (zzqx)": "zzqx",
}


def fill(path: Path, contacts: int) -> None:
    """``contacts`` contacts by plain INSERTs (the triggers keep the FTS5 tables in step)."""
    rng = random.Random(13)
    now = "2025-01-01 00:00:00.000000"
    rows = []
    for i in range(contacts):
        if i % 5 == 0:
            name = f"{rng.choice(FIRST)} {rng.choice(CYRILLIC)}{i % 1000}"
        else:
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}{i % 1000}"
        email = f"{name.split()[1].lower()}.{i}@example.com"
        phone = f"+1 555-{i % 10000:04d}"
        rows.append((name, email, phone, now, now, 1, 0))
    connection = sqlite3.connect(path)
    with connection:
        connection.executemany(
            "INSERT INTO contacts (full_name, email, phone, created_at, updated_at, version,"
            " is_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    connection.execute("ANALYZE")
    connection.close()


def without_index(source: Path, target: Path) -> None:
    """A copy of ``source`` without the FTS5 tables and their triggers (search by LIKE)."""
    shutil.copyfile(source, target)
    connection = sqlite3.connect(target)
    with connection:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%fts5%'"
            )
        ]
        for name in names:
            for trigger in ("ai", "ad", "au"):
                connection.execute(f'DROP TRIGGER IF EXISTS "{name}_{trigger}"')
            connection.execute(f'DROP TABLE "{name}"')
    connection.execute("VACUUM")
    connection.close()


def token(base: str) -> str:
    login = httpx.post(
        f"{base}/api/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=30
    )
    login.raise_for_status()
    found: str = login.json()["access_token"]
    return found


def timings(base: str, auth: dict[str, str], q: str, requests: int) -> tuple[list[float], int]:
    """Milliseconds of ``requests`` searches (after one warm-up), and how many were found."""
    url = f"{base}/api/contacts"
    params = {"q": q, "count": "exact"}
    first = httpx.get(url, params=params, headers=auth, timeout=120)
    first.raise_for_status()
    spent = []
    for _ in range(requests):
        start = time.perf_counter()
        httpx.get(url, params=params, headers=auth, timeout=120).raise_for_status()
        spent.append((time.perf_counter() - start) * 1000)
    total: int = first.json()["total"]
    return spent, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crmgen-search-") as tmp:
        folder = Path(tmp)
        out = folder / "crm"
        generate(ROOT / "examples" / "crm", out)
        fts_file, like_file = folder / "fts.sqlite3", folder / "like.sqlite3"
        fts_url = f"sqlite:///{fts_file}"
        app_commands(
            environment(out, fts_url),
            folder,
            ["migrate"],
            ["createuser", "--email", EMAIL, "--password", PASSWORD, "--role", "admin"],
        )
        started = time.perf_counter()
        fill(fts_file, options.contacts)
        print(
            f"{options.contacts} contacts filled (triggers on) in {time.perf_counter() - started:.1f} s"
        )
        without_index(fts_file, like_file)
        app = f"{PACKAGE}.app:create_app"
        print(f"{'search':<42}{'found':>7}{'LIKE p50/p90':>16}{'FTS5 p50/p90':>16}{'ratio':>8}")
        with (
            serve(app, out, fts_url, folder) as fts,
            serve(app, out, f"sqlite:///{like_file}", folder) as like,
        ):
            auths = {b: {"Authorization": f"Bearer {token(b)}"} for b in (fts, like)}
            for label, q in SEARCHES.items():
                with_like, found_like = timings(like, auths[like], q, options.requests)
                with_fts, found_fts = timings(fts, auths[fts], q, options.requests)
                ratio = statistics.median(with_like) / statistics.median(with_fts)
                found = f"{found_fts}" if found_fts == found_like else f"{found_fts}/{found_like}"
                print(f"{label:<42}{found:>7}{_ms(with_like):>16}{_ms(with_fts):>16}{ratio:>7.1f}x")


def _ms(values: list[float]) -> str:
    deciles = statistics.quantiles(values, n=10)
    return f"{statistics.median(values):.1f}/{deciles[8]:.1f}"


if __name__ == "__main__":
    main()
