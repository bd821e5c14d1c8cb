"""The runtime's line-coverage gate, measured while the test command runs its unit tests.

This file is the first the test command loads, so measuring starts before anything imports
``crmgen_runtime``: its modules' top-level lines count once, as they run on import. After
collection, coverage.py records only while a test of ``runtime/tests`` runs (with its fixtures);
the rest of the suite runs untraced. Each test process (xdist worker) saves its data to a folder
the controlling process names; the controller combines them and fails the run when a full run
of the runtime's tests covers less than ``fail_under`` (pyproject.toml) of the runtime's lines.

A partial run (``-k``, ``-m``, ``--lf``, a file or a test id, ``-x`` stopping early, or any
failed test) reports nothing: its figure would not be the runtime's.
"""

from __future__ import annotations

import importlib
import io
import os
import pkgutil
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent
RUNTIME_TESTS = ROOT / "runtime" / "tests"
IN_CI = os.environ.get("CI") == "true"
FILTERS = ("keyword", "markexpr", "lf", "stepwise", "deselect")

CONFIG = str(ROOT / "pyproject.toml")  # [tool.coverage]: what is measured, and fail_under

try:
    import coverage
    from coverage.data import CoverageData
    from coverage.exceptions import NoDataError
except ImportError:  # pragma: no cover - the test extra installs it
    coverage = None  # type: ignore[assignment]


def _measurer() -> Any:
    if coverage is None:
        return None
    measurer = coverage.Coverage(data_file=None, config_file=CONFIG)
    measurer.start()
    return measurer


MEASURER = _measurer()  # started now: measuring the collection's imports


def is_runtime_test(item: pytest.Item) -> bool:
    return (
        RUNTIME_TESTS in Path(str(item.path)).parents and item.get_closest_marker("quality") is None
    )


def runs_every_runtime_test(config: pytest.Config) -> bool:
    """True when the command selects the whole of ``runtime/tests``: no filter, and paths that
    hold the folder (or none: the configured ``testpaths``)."""
    if any(config.getoption(name, default=None) for name in FILTERS):
        return False
    if config.getoption("maxfail", default=0):
        return False
    for arg in config.args:
        if "::" in arg:
            continue
        path = Path(arg) if Path(arg).is_absolute() else Path(config.invocation_params.dir) / arg
        path = path.resolve()
        if path == RUNTIME_TESTS or path in RUNTIME_TESTS.parents:
            return True
    return False


class Gate:
    """One test process's share: traces runtime tests, saves to ``folder``; the controller
    (``controller=True``) also combines every process's data and judges."""

    def __init__(self, measurer: Any, folder: Path, *, controller: bool) -> None:
        self.measurer = measurer
        self.folder = folder
        self.controller = controller
        self.figure: float | None = None
        self.report = ""
        self.limit = 0.0
        self.tracing = True  # since this file was imported

    def _stop(self) -> None:
        if self.tracing:
            self.measurer.stop()
            self.tracing = False

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # every module once, while measuring: a module no runtime test imports counts as
        # imported, and no module's top-level lines depend on which test imported it first
        import crmgen_runtime

        for module in pkgutil.walk_packages(crmgen_runtime.__path__, "crmgen_runtime."):
            try:
                importlib.import_module(module.name)
            except ImportError:  # an optional extra that is not installed
                continue
        self._stop()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[None]:
        measured = is_runtime_test(item)
        if measured:
            self.measurer.start()
        try:
            yield
        finally:
            if measured:
                self.measurer.stop()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Iterator[None]:
        yield
        self._stop()
        # saved before an xdist worker reports it has finished
        mine = CoverageData(basename=str(self.folder / ".coverage"), suffix=True)
        mine.update(self.measurer.get_data())
        mine.write()
        if self.controller:
            self.judge(session)

    def judge(self, session: pytest.Session) -> None:
        if session.testsfailed or session.shouldstop or session.shouldfail:
            return
        combined = coverage.Coverage(data_file=str(self.folder / ".coverage"), config_file=CONFIG)
        combined.combine([str(self.folder)], keep=False)
        self.limit = float(combined.get_option("report:fail_under") or 0)
        out = io.StringIO()
        try:
            self.figure = combined.report(file=out)
        except NoDataError:
            self.figure = 0.0
        self.report = out.getvalue()
        if self.figure < self.limit:
            session.testsfailed += 1

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.controller and self.figure is not None:
            failed = self.figure < self.limit
            if failed:
                terminalreporter.write_sep("=", "crmgen_runtime line coverage", red=True)
                terminalreporter.write(self.report)
            terminalreporter.write_line(
                f"crmgen_runtime line coverage by runtime/tests: {self.figure:.1f}%"
                f" (fails under {self.limit:g}%){': FAILED' if failed else ''}"
            )

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self) -> None:
        if self.controller:
            shutil.rmtree(self.folder, ignore_errors=True)


def pytest_configure(config: pytest.Config) -> None:
    if MEASURER is None:
        if IN_CI:
            raise pytest.UsageError("coverage is not installed (pip install -e '.[test]')")
        return
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        folder = worker.get("crmgen_rt_coverage")
        if folder is None:  # the controller is not measuring: neither is this worker
            MEASURER.stop()
            return
        gate = Gate(MEASURER, Path(folder), controller=False)
    else:
        if not runs_every_runtime_test(config):
            MEASURER.stop()
            return
        gate = Gate(MEASURER, Path(tempfile.mkdtemp(prefix="crmgen-rt-coverage-")), controller=True)
    config.pluginmanager.register(gate, "crmgen-rt-coverage")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    gate = node.config.pluginmanager.get_plugin("crmgen-rt-coverage")
    if gate is not None:
        node.workerinput["crmgen_rt_coverage"] = str(gate.folder)
