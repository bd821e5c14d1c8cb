"""A tiny Docker Engine API over HTTP on a loopback port, for the ``docker`` stage's tests.

Not a mock object: the real Docker SDK talks HTTP to it (``DOCKER_HOST=tcp://127.0.0.1:PORT``).
It answers the calls a build makes (version, ping, build, inspect) and records each request,
with the build context it received, so a test can check the shape of the build call.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

IMAGE_ID = "sha256:" + "ab" * 32


@dataclass
class Seen:
    requests: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    context: list[str] = field(default_factory=list)


def handler(seen: Seen) -> type[BaseHTTPRequestHandler]:
    class Engine(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().strip() or b"0", 16)
                    chunk = self.rfile.read(size + 2)[:size]
                    if size == 0:
                        return data
                    data += chunk
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def send(self, status: int, payload: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Api-Version", "1.43")
            self.end_headers()
            self.wfile.write(payload)

        def handle_any(self) -> None:
            url = urlsplit(self.path)
            seen.requests.append((self.command, url.path, parse_qs(url.query)))
            data = self.body()
            if url.path.endswith("/_ping"):
                self.send(200, b"OK", "text/plain")
            elif url.path.endswith("/version"):
                version = {"ApiVersion": "1.43", "MinAPIVersion": "1.12", "Version": "24.0.0"}
                self.send(200, json.dumps(version).encode())
            elif url.path.endswith("/build"):
                with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                    seen.context.extend(sorted(archive.getnames()))
                short = IMAGE_ID.removeprefix("sha256:")[:12]
                lines = [
                    {"stream": "Step 1/1 : FROM scratch\n"},
                    {"aux": {"ID": IMAGE_ID}},
                    {"stream": f"Successfully built {short}\n"},
                ]
                self.send(200, b"".join(json.dumps(line).encode() + b"\r\n" for line in lines))
            elif url.path.endswith("/push"):
                tag = parse_qs(url.query).get("tag", [""])[0]
                line = {"error": "denied: no access"} if tag == "denied" else {"status": "Pushed"}
                self.send(200, json.dumps(line).encode() + b"\r\n")
            elif "/images/" in url.path and url.path.endswith("/json"):
                self.send(200, json.dumps({"Id": IMAGE_ID, "RepoTags": []}).encode())
            else:
                self.send(404, json.dumps({"message": f"not faked: {url.path}"}).encode())

        do_GET = do_POST = do_HEAD = handle_any

    return Engine


@contextmanager
def fake_engine() -> Iterator[tuple[str, Seen]]:
    """``(DOCKER_HOST, seen)`` while the fake engine listens on a loopback port."""
    seen = Seen()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(seen))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
