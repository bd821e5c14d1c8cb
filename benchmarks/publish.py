"""Generation speed and the duration of every ``crmgen publish`` stage, in one run.

    python benchmarks/publish.py [--entities N] [--repeat N] [--profile STAGE]
    python benchmarks/publish.py --vs REF [--repeat N]

Prints: lines/s of ``crmgen generate`` on examples/crm and on a synthetic spec of N entities
(benchmarks/validate.py builds it); every publish stage for examples/crm with and without the
generated tests; the wheel built with hatchling's API (what the package stage uses) against
``pip wheel --no-deps --no-build-isolation``; and the machine. Aims (2 cores): publish with
tests < 10 s, without < 2 s. ``--profile generate`` (or another in-process stage) prints cProfile's
top functions of that stage. ``--vs REF`` (a git revision, e.g. the previous release) times
``crmgen publish examples/crm`` of this checkout against REF's, in turn (A B A B ...), without and
with the generated tests, and prints each run's ratio A/B and their median.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from validate import generate_spec

from crmgen.generate import generate
from crmgen.publish import STAGES, Options, publish
from crmgen.publish.artefacts import build_wheel

CRM = ROOT / "examples" / "crm"


def lines_in(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        data = path.read_bytes()
        if b"\0" not in data:
            total += data.count(b"\n")
    return total


def generation_speed(spec: Path, tmp: Path, repeat: int) -> tuple[int, int, float]:
    """(files, lines, best seconds) of ``generate`` into a fresh folder, best of ``repeat``."""
    best = float("inf")
    written: list[Path] = []
    for n in range(repeat):
        out = tmp / f"gen-{spec.stem}-{n}"
        start = time.perf_counter()
        written = generate(spec, out)
        best = min(best, time.perf_counter() - start)
    return len(written), lines_in(written), best


def stage_times(tmp: Path, skip_tests: bool, profile: str | None) -> dict[str, float]:
    out = tmp / ("crm-fast" if skip_tests else "crm-full")
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        for stage in STAGES:
            if stage.name == profile:
                original = stage.run
                object.__setattr__(
                    stage, "run", lambda state, f=original: profiler.runcall(f, state)
                )
    outcome = publish(CRM, out, Options(skip_tests=skip_tests), echo=lambda line: None)
    if not outcome.passed:
        raise SystemExit(f"publish failed at {outcome.failed_stage}: {outcome.report['stages']}")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(20)
    times = {r.name: r.seconds for r in outcome.results}
    times["total"] = sum(times.values())
    return times


def wheel_times(tmp: Path, repeat: int) -> tuple[float, float]:
    """(hatchling API, pip wheel) seconds, median of ``repeat``, on examples/crm's project."""
    project = tmp / "crm-fast"
    api, pip = [], []
    for n in range(repeat):
        start = time.perf_counter()
        build_wheel(project, tmp / f"wheel-api-{n}")
        api.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "-q",
                "-w",
                str(tmp / f"wheel-pip-{n}"),
                str(project),
            ],
            check=True,
            capture_output=True,
        )
        pip.append(time.perf_counter() - start)
    return statistics.median(api), statistics.median(pip)


def versus(ref: str, repeat: int) -> None:
    """Publish examples/crm with this checkout (A) and with ``ref`` (B), in turn, and print
    the ratios A/B pair by pair (a machine that drifts in speed moves both of a pair)."""
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        tree = tmp / "ref"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), ref],
            check=True,
        )
        try:
            sides = {
                "A": os.pathsep.join([str(ROOT), str(ROOT / "runtime")]),
                "B": os.pathsep.join([str(tree), str(tree / "runtime")]),
            }
            print(f"A: this checkout, B: {ref}")
            print(f"{'publish examples/crm':<22} {'A (s)':>8} {'B (s)':>8} {'A/B':>6}")
            for label, extra in (("no tests", ["--skip-tests"]), ("with tests", [])):
                ratios = []
                for run in range(repeat + 1):  # the first pair warms the caches: not counted
                    times = {}
                    for side, path in sides.items():
                        out = tmp / f"out-{side}-{label.replace(' ', '-')}-{run}"
                        env = {**os.environ, "PYTHONPATH": path}
                        command = [
                            sys.executable,
                            "-m",
                            "crmgen",
                            "publish",
                            str(CRM),
                            "-o",
                            str(out),
                        ]
                        start = time.perf_counter()
                        subprocess.run(command + extra, env=env, capture_output=True, check=True)
                        times[side] = time.perf_counter() - start
                    if run:
                        ratios.append(times["A"] / times["B"])
                        print(f"{label:<22} {times['A']:8.2f} {times['B']:8.2f} {ratios[-1]:6.2f}")
                print(
                    f"{label + ', median A/B':<22} {'':>8} {'':>8} {statistics.median(ratios):6.2f}"
                )
        finally:
            remove = ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)]
            subprocess.run(remove, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entities", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", default=None, help="cProfile this stage (in-process stages)")
    parser.add_argument("--vs", default=None, metavar="REF", help="compare publish with git REF")
    args = parser.parse_args()
    if args.vs:
        versus(args.vs, args.repeat)
        return 0
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        big = tmp / "big.yaml"
        big.write_text(generate_spec(args.entities), encoding="utf-8")
        print(f"\n{'generate':<34} {'files':>6} {'lines':>8} {'seconds':>8} {'lines/s':>9}")
        for label, spec in (("examples/crm", CRM), (f"synthetic {args.entities} entities", big)):
            files, lines, seconds = generation_speed(spec, tmp, args.repeat)
            print(f"{label:<34} {files:>6} {lines:>8} {seconds:8.2f} {lines / seconds:>9,.0f}")

        fast = stage_times(tmp, True, args.profile)
        full = stage_times(tmp, False, args.profile if args.profile == "test" else None)
        print(f"\n{'publish examples/crm (seconds)':<34} {'no tests':>9} {'with tests':>11}")
        for name in fast:
            print(f"{name:<34} {fast[name]:9.2f} {full[name]:11.2f}")
        print(f"{'aim (2 cores)':<34} {'< 2':>9} {'< 10':>11}")

        api, pip = wheel_times(tmp, args.repeat)
        print(f"\nwheel of examples/crm: hatchling API {api:.3f} s, pip wheel {pip:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
