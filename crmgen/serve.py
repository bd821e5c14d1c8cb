"""``crmgen serve SPEC``: generate the app into a cache folder and run it, reloading on spec edits.

The parent process watches the spec's files and its custom folder (polling their size and modification time, so it
needs no extra package and works on every file system). On a change it validates the spec:
errors are printed with their locations and the running server is left alone; a valid spec is
generated over the cached app (a new migration revision when the tables changed), the database
is migrated and the uvicorn child process is restarted. A spec that is invalid at the first
start is reported and nothing is served (exit 1).

The app runs in local development (``APP_ENV=development``) with a development key kept in the
cache folder and ``PUBLIC_URL`` set to the served address (``SECRET_KEY`` and ``PUBLIC_URL``
from the environment win). SIGINT (Ctrl-C), SIGTERM and SIGHUP stop the app server and the
worker, then crmgen serve; on Linux they also stop when crmgen serve is killed outright.

Layout of the cache folder (``$CRMGEN_CACHE`` or ``~/.cache/crmgen``)/``<app>-<hash>``, the hash
being that of the spec's absolute path: ``app/`` (the generated app), ``data/`` (the default
SQLite database, kept across restarts and regenerations) and ``secret_key`` (the development
key, 0600). The cache is crmgen's, not the user's: a generated file changed by hand in ``app/`` is
replaced on the next regeneration without a copy (hand edits belong in a ``generate`` output).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType

from crmgen.cache import cache_root
from crmgen.diagnostics import render_text
from crmgen.language import check_spec
from crmgen.language.custom_code import find_custom
from crmgen.language.sources import spec_files
from crmgen.render.errors import GenerateError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOP_TIMEOUT = 10.0  # seconds a child has to stop before it is killed
PR_SET_PDEATHSIG = 1  # linux/prctl.h
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


class Stopped(Exception):
    """A stop signal arrived (see ``STOP_SIGNALS``)."""


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    # The first stop signal wins: another one (a process manager's SIGTERM after a SIGINT) must
    # not interrupt the stopping, nor reach the command line as an error.
    for other in STOP_SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    raise Stopped(signal.Signals(signum).name)


def _die_with_parent() -> None:
    """In a child before exec (Linux): get SIGTERM when crmgen serve ends, even by SIGKILL."""
    assert _LIBC is not None
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def development_key(path: Path) -> str:
    """The development key kept in ``path`` (0600), made on first use."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` yet."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def cache_folder(spec: Path, name: str) -> Path:
    """``<cache>/<name>-<first 12 hex of sha256(absolute spec path)>``."""
    digest = hashlib.sha256(str(spec.resolve()).encode("utf-8")).hexdigest()[:12]
    return cache_root() / f"{name}-{digest}"


def watched_files(spec: Path) -> list[Path]:
    """The spec file, or every YAML file below the spec folder, and every file of the custom
    folder beside it (``custom/``, which the app gets a copy of)."""
    custom = find_custom(spec)
    extra = [custom.folder / name for name in custom.files] if custom is not None else []
    return sorted({*spec_files(spec), *extra})


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

    @property
    def address(self) -> str:
        """The served address, as a browser on this machine opens it."""
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(self.host, self.host)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def _env(self) -> dict[str, str]:
        """The app's environment: local development, the cache's key, the served address."""
        assert self.folder is not None
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONPATH"] = str(self.out)
        env["DATABASE_URL"] = self.url
        env["APP_ENV"] = "development"
        env["SECRET_KEY"] = env.get("SECRET_KEY") or development_key(self.folder / "secret_key")
        # encrypted fields' keys, made once and kept beside the development database
        from crmgen_runtime.crypto import development_keys

        keys = development_keys(self.folder / "encryption_keys")
        for name, value in keys.items():
            env[name] = env.get(name) or value
        env["PUBLIC_URL"] = env.get("PUBLIC_URL") or self.address
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

    def _failed(self, problem: str) -> bool:
        """Say what went wrong and what is served now; False."""
        if self.process is None:
            self.echo(f"{problem}; nothing is served: fix it and start crmgen serve again")
        else:
            self.echo(f"{problem}; the server keeps running the previous version")
        return False

    def build(self) -> bool:
        """Validate, generate, migrate (and seed an empty default database); False on a problem."""
        from crmgen.generate import generate_from

        model, diagnostics = check_spec(self.spec)
        text = render_text(diagnostics)
        if text:
            self.echo(text.rstrip("\n"))
        if model is None:
            return self._failed(f"{self.spec}: the spec has errors")
        if self.package is not None and model.app.name != self.package:
            return self._failed("the app's name changed: stop crmgen serve and start it again")
        self.package = model.app.name
        self.folder = cache_folder(self.spec, self.package)
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        try:
            generate_from(
                model,
                self.out,
                allow_destructive=self.allow_destructive,
                warn=lambda line: self.echo(f"warning: {line}"),
                hand_edits="replace",  # the cache is crmgen's own folder
            )
        except GenerateError as exc:
            return self._failed(f"error: {exc}")
        done = self._app("migrate")
        if done.returncode != 0:
            return self._failed(f"error: migrate failed:\n{done.stderr.strip()}")
        if self.database is None:
            seeded = self._app("seed")
            if seeded.returncode != 0:
                self.echo(f"warning: seed failed: {seeded.stderr.strip().splitlines()[-1:]}")
            elif "seeded" in seeded.stderr:
                self.echo(seeded.stderr.strip())
        self.echo(f"generated {self.out} (database {self.url})")
        return True

    def _child(self, *args: str) -> subprocess.Popen[bytes]:
        """``python -m APP ARGS`` running beside crmgen serve, ended with it."""
        assert self.package is not None
        return subprocess.Popen(
            [sys.executable, "-m", self.package, *args],
            cwd=self.out.parent / "data",
            env=self._env(),
            preexec_fn=_die_with_parent if _LIBC is not None else None,  # noqa: PLW1509
        )

    def start(self) -> None:
        self.process = self._child("serve", "--host", self.host, "--port", str(self.port))
        self.echo(f"serving {self.package} at {self.address}/ (pid {self.process.pid})")
        if self.with_worker:
            self.worker = self._child("worker")
            self.echo(f"worker delivering the outbox and running schedules (pid {self.worker.pid})")

    def stop(self) -> None:
        """SIGTERM to the app server and the worker, at once; killed if not gone in time."""
        running = [p for p in (self.process, self.worker) if p is not None and p.poll() is None]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.process = self.worker = None

    def watch(self, interval: float = 0.5, stop_after: float | None = None) -> int:
        """Build, serve and rebuild on changes until a stop signal (or ``stop_after`` seconds).

        Every stop signal (``STOP_SIGNALS``) stops the children first, whatever was running.
        """
        if not port_is_free(self.host, self.port):
            self.echo(
                f"error: port {self.port} on {self.host} is in use; choose another with --port"
            )
            return 1
        previous = {signum: signal.signal(signum, _stop_on_signal) for signum in STOP_SIGNALS}
        try:
            return self._serve(interval, stop_after)
        except Stopped as stop:
            self.echo(f"{stop}: stopping")
        finally:
            for signum in STOP_SIGNALS:  # a second signal must not cut the stopping short
                signal.signal(signum, signal.SIG_IGN)
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return 0

    def _serve(self, interval: float, stop_after: float | None) -> int:
        """Build and start, then rebuild and restart on each spec change."""
        if not self.build():
            return 1
        self.start()
        seen = fingerprint(watched_files(self.spec))
        started = time.monotonic()
        while stop_after is None or time.monotonic() - started < stop_after:
            time.sleep(interval)
            if self.process is not None and self.process.poll() is not None:
                self.echo(f"error: the app server stopped (exit code {self.process.returncode})")
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
        return 0
