"""Exports stream: the memory an export takes does not grow with the records it holds.

The export is served by the ASGI app itself (no test client, which would keep the whole
answer) to a sink that counts the bytes and drops them; ``tracemalloc`` measures the peak of
the memory Python allocates meanwhile. Exporting four times the records must not take more
than a little more memory (a bound, never a time)."""

from __future__ import annotations

import asyncio
import secrets
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import rt_crm
import sqlalchemy as sa
from conftest import WebClient, site_routes
from crmgen_runtime.web import lists
from crmgen_runtime.web.site import Site
from starlette.types import ASGIApp, Message

SMALL, LARGE = 2_500, 10_000  # records exported; LARGE holds 4 times as many
SLACK = 256 * 1024  # bytes the larger export may take beyond the smaller (one page, caches)


def add_companies(engine: sa.Engine, start: int, count: int) -> None:
    """``count`` more companies (ids from ``start``), in batches; their names are random, so
    an XLSX file holding them is about as large zipped as unzipped."""
    for first in range(start, start + count, 5_000):
        rows = [
            {"id": i, "name": secrets.token_urlsafe(36), "owner_id": 1, "secret": None}
            for i in range(first, min(first + 5_000, start + count))
        ]
        with engine.begin() as db:
            db.execute(sa.insert(rt_crm.Company), rows)


async def serve(app: ASGIApp, path: str) -> tuple[int, int]:
    """The status and body size of GET ``path``, the body dropped chunk by chunk."""
    done = asyncio.Event()
    status, size = 0, 0

    async def receive() -> Message:
        if not hasattr(receive, "sent"):
            receive.sent = True  # type: ignore[attr-defined]
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, size
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"x-user", b"admin")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return status, size


def peak_of(app: ASGIApp, path: str) -> tuple[int, int]:
    """The peak memory (bytes over the start) and the body size of an export."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        # a loop of its own in a thread of its own: another test's loop may run in this one
        with ThreadPoolExecutor(1) as pool:
            status, size = pool.submit(lambda: asyncio.run(serve(app, path))).result()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert status == 200
    return peak, size


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_exports_take_flat_memory(
    kind: str, crm_web: rt_crm.Crm, site: Site, web_client: WebClient
) -> None:
    app = web_client(site_routes(site, lists), site=site).app
    path = f"/companies/export.{kind}"
    add_companies(crm_web.engine, 1_000, 500)
    peak_of(app, path)  # warm up: imports, compiled queries
    add_companies(crm_web.engine, 1_500, SMALL - 500)
    small, small_size = peak_of(app, path)
    add_companies(crm_web.engine, 1_000 + SMALL, LARGE - SMALL)
    large, large_size = peak_of(app, path)
    assert large_size > 3 * small_size  # four times the records were exported
    assert large < small + SLACK, (small, large, small_size, large_size)
