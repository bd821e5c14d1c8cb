"""How long a `crmgen` command takes to start, against the bare interpreter, in one run.

    python benchmarks/cli_start.py [--repeat N]

Every `crmgen validate` in an editor's save hook, every CI step and every `crmgen serve` reload
pays the start. Times, best of N and median, of: `python -c pass` (the floor), `python -c
"import crmgen.language"` (importing the spec language), and `python -m crmgen validate
examples/minimal` (the whole command on the smallest spec); with the ratio of each median to
the floor's.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COMMANDS = {
    "interpreter (floor)": [sys.executable, "-c", "pass"],
    "import crmgen.language": [sys.executable, "-c", "import crmgen.language"],
    "crmgen validate minimal": [
        sys.executable,
        "-m",
        "crmgen",
        "validate",
        str(ROOT / "examples" / "minimal"),
    ],
}


def timed(command: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - began)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    results = {name: timed(command, args.repeat) for name, command in COMMANDS.items()}
    floor = statistics.median(results["interpreter (floor)"])
    print(f"{'command':<26} {'best s':>8} {'median s':>9} {'x floor':>8}")
    for name, times in results.items():
        median = statistics.median(times)
        print(f"{name:<26} {min(times):>8.3f} {median:>9.3f} {median / floor:>8.1f}")


if __name__ == "__main__":
    main()
