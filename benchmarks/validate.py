"""How long loading + validating a spec takes: the reference CRM and a generated 200-entity spec.

    python benchmarks/validate.py [--repeat N] [--entities N] [--profile]

Prints best-of-N and median wall times per spec, and the machine. Target: under 0.2 s for the
reference CRM (examples/crm). When that example does not validate (yet), examples/minimal is timed
instead, and the table says so.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crmgen.language import check_spec

TARGET_SECONDS = 0.2

FIELD_KINDS = [
    "{type: string, required: true, max_length: 120}",
    "{type: text}",
    "{type: integer, min: 0, max: 1000}",
    "{type: money, min: 0}",
    "{type: date}",
    "{type: boolean, default: false}",
    "{type: enum, values: [new, active, done], default: new}",
    "{type: email}",
]


def generate_spec(entities: int = 200, fields: int = 10) -> str:
    """A large valid spec: ``entities`` entities of ~``fields`` fields with refs between them,
    permissions for three roles, and a process (create trigger with several steps) per 10 entities.
    """
    out = [
        "app: {name: big_crm, title: Big CRM, locales: [en, ru]}",
        "roles:",
        "  admin: {superuser: true}",
        "  manager: Manager",
        "  sales: Sales",
        "entities:",
    ]
    for i in range(entities):
        out += [
            f"  Thing{i}:",
            "    owner: owner",
            "    fields:",
            "      name: {type: string, required: true}",
        ]
        for j in range(fields - 2):
            out.append(f"      f{j}: {FIELD_KINDS[j % len(FIELD_KINDS)]}")
        out.append("      owner: {type: ref, to: User}")
        if i > 0:
            out.append(f"      parent: {{type: ref, to: Thing{i - 1}, required: true}}")
        if i > 1:
            out.append(f"      related: {{type: refs, to: Thing{i // 2}}}")
        out += [
            "    permissions:",
            "      manager: all",
            "      sales: {list: own, read: own, create: true, update: {where: 'record.f2 < 100'}, hidden: [f1]}",
            "    ui:",
            "      list: {columns: [name, f0, f2], sort: [-f2]}",
        ]
    out.append("processes:")
    for i in range(0, entities, 10):
        out += [
            f"  on_thing{i}:",
            f"    on: {{create: Thing{i}}}",
            "    steps:",
            "      - set: {f4: '= today()'}",
            f"      - count: {{entity: Thing{i}, where: {{owner: '= record.owner', f6__ne: done}}, into: n}}",
            "      - if: n > 10 and record.f2 >= 5",
            "        then:",
            "          - log: 'busy: {{ n }} for {{ record.name }}'",
            "        else:",
            "          - set: {f6: active}",
        ]
    return "\n".join(out) + "\n"


def time_spec(path: Path, repeat: int) -> tuple[float, float, bool, int]:
    """(best, median, valid, diagnostics) over ``repeat`` runs of check_spec."""
    times = []
    spec = None
    diagnostics: list = []
    for _ in range(repeat):
        start = time.perf_counter()
        spec, diagnostics = check_spec(path)
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), spec is not None, len(diagnostics)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--entities", type=int, default=200)
    parser.add_argument(
        "--profile", action="store_true", help="cProfile one run of the generated spec"
    )
    args = parser.parse_args()

    check_spec(ROOT / "examples" / "minimal")  # warm up: imports, the schema validator

    rows = []
    crm = ROOT / "examples" / "crm"
    crm_ok = crm.is_dir() and any(crm.rglob("*.y*ml")) and check_spec(crm)[0] is not None
    reference = crm if crm_ok else ROOT / "examples" / "minimal"
    label = "examples/crm" if crm_ok else "examples/minimal (examples/crm does not validate yet)"
    rows.append((label, *time_spec(reference, args.repeat)))

    with tempfile.TemporaryDirectory() as folder:
        big = Path(folder) / "big.yaml"
        big.write_text(generate_spec(args.entities), encoding="utf-8")
        size = big.stat().st_size
        rows.append(
            (
                f"generated: {args.entities} entities ({size // 1024} KiB)",
                *time_spec(big, args.repeat),
            )
        )
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            check_spec(big)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()} ({platform.system()})"
    )
    print(f"runs per spec: {args.repeat}")
    width = max(len(r[0]) for r in rows)
    print(f"{'spec':<{width}}  {'best':>8}  {'median':>8}  valid  problems")
    for name, best, median, valid, problems in rows:
        print(
            f"{name:<{width}}  {best:8.3f}s {median:8.3f}s  {'yes' if valid else 'NO':>5}  {problems:>8}"
        )
    best_reference = rows[0][1]
    verdict = "OK" if best_reference < TARGET_SECONDS else "SLOW"
    print(f"reference target < {TARGET_SECONDS} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
