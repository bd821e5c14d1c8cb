"""Requests per second of the generated API against hand-written yardsticks, in one run.

    python benchmarks/api.py [--seconds 5] [--connections 8] [--contacts 10000]
                             [--database sqlite|postgresql] [--apps generated,baseline,...]

Generates examples/crm into a temporary folder, migrates a new database (an SQLite file, or a
PostgreSQL database made on ``--server`` and dropped at the end) and creates a user through the
app's CLI, seeds it with contacts and companies, then serves it with uvicorn (one worker)
beside each of ``APPS`` on the same database: ``baseline_app`` (today's baseline),
``tuned_app`` (tuned on the event loop; tuned with authentication and a thread hop) and
``generated_like`` (the app's hot reads four ways: issue 13, item 7). Every answer must be the
generated app's, byte for byte. Each endpoint of each app is loaded for a fixed time by a
bounded pool of concurrent requests (``wrk`` when it is installed, else httpx on asyncio) on
127.0.0.1, with the same bearer token. Prints req/s and the ``RATIOS``. Every process is killed
at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crmgen.generate import generate

PACKAGE = "reference_crm"
PASSWORD = "bench-password-1"
EMAIL = "bench@bench.example"
TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(out: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        # this checkout's runtime, not whichever one is installed
        PYTHONPATH=os.pathsep.join([str(out), str(ROOT), str(ROOT / "runtime")]),
        DATABASE_URL=url,
        BASELINE_DATABASE_URL=url,
        # as in production: a strong key and a public address (requests go to 127.0.0.1)
        SECRET_KEY="crmgen-benchmarks-0123456789-abcdefghijklmnopqrstuvwxyz",
        PUBLIC_URL="http://127.0.0.1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def app_commands(env: dict[str, str], folder: Path, *commands: list[str]) -> None:
    """Run each of the generated app's commands (``migrate``, ``createuser ...``) in turn."""
    for command in commands:
        subprocess.run(
            [sys.executable, "-m", PACKAGE, *command],
            env=env,
            cwd=folder,
            check=True,
            timeout=TIMEOUT,
            capture_output=True,
        )


def seed(out: Path, url: str, contacts: int) -> None:
    """Companies (one per 10 contacts) and contacts, owned by the bench user."""
    code = f"""
import sqlalchemy as sa
from crmgen_runtime.db import Database
from {PACKAGE}.models import Company, Contact, User
db = Database({url!r})
with db.session() as session:
    owner = session.scalar(sa.select(User.id))
    companies = [Company(name=f"Company {{i:04d}}", owner_id=owner) for i in range({contacts} // 10 + 1)]
    session.add_all(companies)
    session.flush()
    session.add_all(
        Contact(full_name=f"Contact {{i:05d}}", email=f"c{{i}}@bench.example",
                phone="+1 555 0100", company_id=companies[i // 10].id, owner_id=owner)
        for i in range({contacts})
    )
db.dispose()
"""
    subprocess.run(
        [sys.executable, "-c", code], env=environment(out, url), check=True, timeout=TIMEOUT
    )


@contextmanager
def serve(app: str, out: Path, url: str, folder: Path) -> Iterator[str]:
    """uvicorn (one worker, uvloop/httptools when installed) on a free loopback port."""
    with serving(app, out, url, folder) as (base, _):
        yield base


@contextmanager
def serving(
    app: str, out: Path, url: str, folder: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``serve``, with the server's process (its memory can be read)."""
    port = free_port()
    log = (folder / f"{port}.log").open("w+")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=environment(out, url),
        cwd=folder,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise SystemExit(f"{app} exited:\n{log.read()}")
            try:
                httpx.get(base + "/api/contacts", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{app} did not start in {TIMEOUT} s") from None
                time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


async def _load(url: str, token: str, seconds: float, connections: int) -> tuple[int, int]:
    """(ok responses, other responses) of ``connections`` request loops for ``seconds``."""
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    counts = [0, 0]
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
        end = time.monotonic() + seconds

        async def loop() -> None:
            while time.monotonic() < end:
                response = await client.get(url)
                counts[0 if response.status_code == 200 else 1] += 1

        await asyncio.gather(*(loop() for _ in range(connections)))
    return counts[0], counts[1]


def load(url: str, token: str, seconds: float, connections: int) -> float:
    """Requests per second on ``url``."""
    wrk = shutil.which("wrk")
    if wrk:
        done = subprocess.run(
            [
                wrk,
                "-t",
                "2",
                "-c",
                str(connections),
                "-d",
                f"{int(seconds)}s",
                "-H",
                f"Authorization: Bearer {token}",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + TIMEOUT,
            check=True,
        )
        if "Non-2xx" in done.stdout:
            raise SystemExit(f"errors while loading {url}:\n{done.stdout}")
        return float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    asyncio.run(_load(url, token, 0.5, connections))  # warm-up
    started = time.monotonic()
    ok, bad = asyncio.run(_load(url, token, seconds, connections))
    if bad:
        raise SystemExit(f"{bad} failed requests on {url}")
    return ok / (time.monotonic() - started)


APPS = {
    "generated": f"{PACKAGE}.app:create_app",
    "baseline": "benchmarks.baseline_app:create_app",
    "tuned loop": "benchmarks.tuned_app:create_loop_app",
    "tuned+auth+hop": "benchmarks.tuned_app:create_hop_app",
    # the generated app's hot reads without its middleware (issue 13, item 7)
    "gl thread": "benchmarks.generated_like:create_thread_app",
    "gl shared": "benchmarks.generated_like:create_shared_app",
    "gl no lookup": "benchmarks.generated_like:create_nolookup_app",
    "gl async": "benchmarks.generated_like:create_async_app",
}
# (numerator, denominator) of each ratio printed
RATIOS = (
    ("generated", "baseline"),
    ("generated", "tuned loop"),
    ("generated", "tuned+auth+hop"),
    ("gl async", "gl thread"),
    ("gl shared", "gl thread"),
    ("gl no lookup", "gl shared"),
)


@contextmanager
def database(kind: str, folder: Path, server: str) -> Iterator[str]:
    """The URL of a new database: an SQLite file in ``folder``, or a PostgreSQL database made
    on ``server`` and dropped at the end."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.sqlite3'}"
        return
    import sqlalchemy as sa

    admin_url = sa.make_url(server).set(drivername="postgresql+psycopg")
    name = f"crmgen_bench_api_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--server", default="postgresql://postgres@127.0.0.1:5432/postgres", help="PostgreSQL"
    )
    parser.add_argument(
        "--apps", default=",".join(APPS), help="comma-separated, of: " + ", ".join(APPS)
    )
    options = parser.parse_args()
    names = [name for name in options.apps.split(",") if name]
    unknown = set(names) - set(APPS)
    if unknown or "generated" not in names:
        raise SystemExit(f"--apps: unknown {sorted(unknown)} or no 'generated'")
    with (
        tempfile.TemporaryDirectory(prefix="crmgen-bench-") as tmp,
        database(options.database, Path(tmp), options.server) as url,
    ):
        folder = Path(tmp)
        out = folder / "crm"
        generate(ROOT / "examples" / "crm", out)
        app_commands(
            environment(out, url),
            folder,
            ["migrate"],
            ["createuser", "--email", EMAIL, "--password", PASSWORD, "--role", "admin"],
        )
        seed(out, url, options.contacts)
        loader = "wrk" if shutil.which("wrk") else "httpx/asyncio"
        kind = "SQLite" if options.database == "sqlite" else "PostgreSQL"
        print(
            f"{options.contacts} contacts, {kind}, 1 uvicorn worker each, {loader}, "
            f"{options.connections} connections, {options.seconds:g} s per endpoint"
        )
        results: dict[str, dict[str, float]] = {}
        with ExitStack() as stack:
            bases = {
                name: stack.enter_context(serve(APPS[name], out, url, folder)) for name in names
            }
            generated = bases["generated"]
            login = httpx.post(
                f"{generated}/api/auth/login",
                json={"email": EMAIL, "password": PASSWORD},
                timeout=30,
            )
            login.raise_for_status()
            token = login.json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            one = httpx.get(f"{generated}/api/contacts?limit=1", timeout=30, headers=auth)
            endpoints = {
                "list 50 contacts": "/api/contacts",
                "get one contact": f"/api/contacts/{one.json()['items'][0]['id']}",
            }
            for path in endpoints.values():  # the same answers, so the same work
                expected = httpx.get(generated + path, timeout=30, headers=auth).content
                for name, base in bases.items():
                    answer = httpx.get(base + path, timeout=30, headers=auth).content
                    if answer != expected:
                        port = base.rsplit(":", 1)[1]
                        log = (folder / f"{port}.log").read_text()[-3000:]
                        raise SystemExit(
                            f"{name} answers {path} otherwise:\n{answer[:300]!r}\n{log}"
                        )
            page = httpx.get(generated + "/api/contacts", timeout=30, headers=auth).json()
            assert len(page["items"]) == 50 and page["total"] == options.contacts, page
            for endpoint, path in endpoints.items():
                for name, base in bases.items():
                    rps = load(base + path, token, options.seconds, options.connections)
                    results.setdefault(endpoint, {})[name] = rps
        report(results)


def report(results: dict[str, dict[str, float]]) -> None:
    """req/s of each app per endpoint, then the ratios of ``RATIOS`` (those measured)."""
    names = list(next(iter(results.values())))
    print(f"{'app':<16}" + "".join(f"{endpoint:>20}" for endpoint in results))
    for name in names:
        print(f"{name:<16}" + "".join(f"{rps[name]:>18.0f}/s" for rps in results.values()))
    for top, bottom in RATIOS:
        if top in names and bottom in names:
            label = f"{top} / {bottom}"
            ratios = (rps[top] / rps[bottom] for rps in results.values())
            print(f"{label:<36}" + "".join(f"{ratio:>12.2f}x" for ratio in ratios))


if __name__ == "__main__":
    main()
