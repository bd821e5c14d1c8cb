"""``crmgen serve SPEC``: generate the app into a cache folder and run it, reloading on spec edits.

The parent process watches the spec's files (polling their size and modification time, so it
needs no extra package and works on every file system). On a change it validates the spec:
errors are printed with their locations and the running server is left alone; a valid spec is
generated over the cached app (a new migration revision when the tables changed), the database
is migrated and the uvicorn child process is restarted.

Layout of the cache folder (``$CRMGEN_CACHE`` or ``~/.cache/crmgen``)/``<app>-<hash>``, the hash
being that of the spec's absolute path: ``app/`` (the generated app) and ``data/`` (the
default SQLite database, kept across restarts and regenerations).
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from crmgen.diagnostics import render_text
from crmgen.render.errors import GenerateError
from crmgen.spec import check_spec

SPEC_SUFFIXES = (".yaml", ".yml")


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` yet."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def cache_root() -> Path:
    configured = os.environ.get("CRMGEN_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crmgen"


def cache_folder(spec: Path, name: str) -> Path:
    """``<cache>/<name>-<first 12 hex of sha256(absolute spec path)>``."""
    digest = hashlib.sha256(str(spec.resolve()).encode("utf-8")).hexdigest()[:12]
    return cache_root() / f"{name}-{digest}"


def watched_files(spec: Path) -> list[Path]:
    """The spec file, or every YAML file below the spec folder."""
    if spec.is_dir():
        return sorted(p for p in spec.rglob("*") if p.suffix in SPEC_SUFFIXES and p.is_file())
    return [spec]


def fingerprint(paths: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    result = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            result.append((str(path), -1, -1))
            continue
        result.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(result)


class Server:
    """One app being served: build (validate, generate, migrate, seed), a uvicorn child and,
    unless turned off, an ``APP worker`` child (outbox delivery and scheduled processes)."""

    def __init__(
        self,
        spec: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        database: str | None = None,
        allow_destructive: Iterable[str] = (),
        echo: Callable[[str], None] | None = None,
        worker: bool = True,
    ) -> None:
        self.spec = spec
        self.with_worker = worker
        self.worker: subprocess.Popen[bytes] | None = None
        self.host = host
        self.port = port
        self.database = database
        self.allow_destructive = tuple(allow_destructive)
        self.echo = echo or (lambda line: print(line, file=sys.stderr, flush=True))
        self.package: str | None = None
        self.folder: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def out(self) -> Path:
        assert self.folder is not None
        return self.folder / "app"

    @property
    def url(self) -> str:
        if self.database:
            return self.database
        assert self.folder is not None and self.package is not None
        return f"sqlite:///{self.folder / 'data' / (self.package + '.sqlite3')}"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONPATH"] = str(self.out)
        env["DATABASE_URL"] = self.url
        return env

    def _app(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert self.package is not None
        return subprocess.run(
            [sys.executable, "-m", self.package, *args],
            cwd=self.out.parent / "data",
            env=self._env(),
            capture_output=True,
            text=True,
            check=False,
        )

    def build(self) -> bool:
        """Validate, generate, migrate (and seed an empty default database); False on a problem."""
        from crmgen.generate import generate_from

        model, diagnostics = check_spec(self.spec)
        text = render_text(diagnostics)
        if text:
            self.echo(text.rstrip("\n"))
        if model is None:
            self.echo(
                f"{self.spec}: the spec has errors; the server keeps running the previous version"
            )
            return False
        if self.package is not None and model.app.name != self.package:
            self.echo("the app's name changed: stop crmgen serve and start it again")
            return False
        self.package = model.app.name
        self.folder = cache_folder(self.spec, self.package)
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        try:
            generate_from(
                model,
                self.out,
                allow_destructive=self.allow_destructive,
                warn=lambda line: self.echo(f"warning: {line}"),
            )
        except GenerateError as exc:
            self.echo(f"error: {exc}")
            return False
        done = self._app("migrate")
        if done.returncode != 0:
            self.echo(f"error: migrate failed:\n{done.stderr.strip()}")
            return False
        if self.database is None:
            seeded = self._app("seed")
            if seeded.returncode != 0:
                self.echo(f"warning: seed failed: {seeded.stderr.strip().splitlines()[-1:]}")
            elif "seeded" in seeded.stderr:
                self.echo(seeded.stderr.strip())
        self.echo(f"generated {self.out} (database {self.url})")
        return True

    def start(self) -> None:
        assert self.package is not None
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                self.package,
                "serve",
                "--host",
                self.host,
                "--port",
                str(self.port),
            ],
            cwd=self.out.parent / "data",
            env=self._env(),
        )
        self.echo(
            f"serving {self.package} at http://{self.host}:{self.port}/ (pid {self.process.pid})"
        )
        if self.with_worker:
            self.worker = subprocess.Popen(
                [sys.executable, "-m", self.package, "worker"],
                cwd=self.out.parent / "data",
                env=self._env(),
            )
            self.echo(f"worker delivering the outbox and running schedules (pid {self.worker.pid})")

    def stop(self) -> None:
        for process in (self.process, self.worker):
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGINT if os.name != "nt" else signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.process = self.worker = None

    def watch(self, interval: float = 0.5, stop_after: float | None = None) -> int:
        """Build, serve and rebuild on changes until interrupted (or ``stop_after`` seconds)."""
        if not port_is_free(self.host, self.port):
            self.echo(
                f"error: port {self.port} on {self.host} is in use; choose another with --port"
            )
            return 1
        if not self.build():
            return 1
        self.start()
        seen = fingerprint(watched_files(self.spec))
        started = time.monotonic()
        try:
            while stop_after is None or time.monotonic() - started < stop_after:
                time.sleep(interval)
                if self.process is not None and self.process.poll() is not None:
                    self.echo(
                        f"error: the app server stopped (exit code {self.process.returncode})"
                    )
                    return 1
                now = fingerprint(watched_files(self.spec))
                if now == seen:
                    continue
                time.sleep(0.1)  # let an editor finish writing
                seen = fingerprint(watched_files(self.spec))
                self.echo(f"{self.spec} changed: regenerating")
                if self.build():
                    self.stop()
                    self.start()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
        return 0
