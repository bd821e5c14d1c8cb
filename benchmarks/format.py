"""Three ways to get black-clean generated code, timed on examples/crm's rendered Python.

    python benchmarks/format.py [--spec examples/crm] [--repeat N]

1. black's API (``black.format_str``) on every file, in process;
2. ``ruff format`` (one child process for all files, black's settings);
3. no formatter: the templates already render black-clean code (counted with black's check).
Each way's output is checked with black; the fastest that is black-clean wins (see
docs/publishing.md).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import black

from crmgen.language import load_spec
from crmgen.render import build_plan, make_environment
from crmgen.render.formatting import LINE_LENGTH, _ruff, ruff_executable
from crmgen.render.planned import produce

MODE = black.Mode(line_length=LINE_LENGTH, target_versions={black.TargetVersion.PY311})


def render_python(spec: Path, folder: Path) -> list[Path]:
    """Render the app's planned files (unformatted) into ``folder``; returns the .py files."""
    env = make_environment()
    plan = build_plan(load_spec(spec))
    written = []
    for planned in plan:
        target = folder / planned.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(produce(env, planned))
        written.append(target)
    return [p for p in written if p.suffix == ".py"]


def black_clean(paths: list[Path]) -> int:
    """How many of ``paths`` black would leave as they are."""
    clean = 0
    for path in paths:
        source = path.read_text(encoding="utf-8")
        clean += black.format_str(source, mode=MODE) == source
    return clean


def timed(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", type=Path, default=ROOT / "examples" / "crm")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pristine = Path(tmp) / "rendered"
        paths = render_python(args.spec, pristine)
        lines = sum(p.read_text(encoding="utf-8").count("\n") for p in paths)
        rows = []

        def fresh(name: str) -> list[Path]:
            target = Path(tmp) / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(pristine, target)
            return [target / p.relative_to(pristine) for p in paths]

        def with_black() -> None:
            for path in fresh("black"):
                source = path.read_text(encoding="utf-8")
                path.write_text(black.format_str(source, mode=MODE), encoding="utf-8")

        rows.append(("black (API, in process)", timed(with_black, args.repeat), "black"))
        ruff = ruff_executable()
        if ruff is not None:
            rows.append(
                (
                    "ruff format (one process)",
                    timed(lambda: _ruff(ruff, fresh("ruff"), Path(tmp) / "ruff"), args.repeat),
                    "ruff",
                )
            )
        rows.append(("no formatter (as rendered)", 0.0, "rendered"))
        copy_time = timed(lambda: fresh("copy"), args.repeat)

        print(
            f"{args.spec}: {len(paths)} Python files, {lines} lines; {platform.processor() or platform.machine()}, "
            f"{__import__('os').cpu_count()} cores, Python {platform.python_version()}"
        )
        print(f"{'way':<28} {'seconds':>8} {'lines/s':>10} {'black-clean files':>18}")
        for label, seconds, folder in rows:
            spent = max(seconds - copy_time, 0.0) if folder != "rendered" else 0.0
            files = [Path(tmp) / folder / p.relative_to(pristine) for p in paths]
            if folder == "rendered":
                files = paths
            clean = black_clean(files)
            speed = f"{lines / spent:,.0f}" if spent else "-"
            print(f"{label:<28} {spent:8.3f} {speed:>10} {clean:>11}/{len(paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
