"""Regenerate the committed snapshots in ``generated/`` from the examples.

    python -m tests.generated.refresh            # every snapshot
    python -m tests.generated.refresh crm        # only generated/crm
    python -m tests.generated.refresh --check    # write nothing; exit 1 when one is not current

Each example is generated into a new temporary folder (never over the snapshot: that would add
a migration revision against the committed one), then the snapshot is made equal to it. Review
the effect with ``git diff generated/`` and commit it with the generator change.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from crmgen.generate import generate
from tests.generated.snapshots import (
    EXAMPLES,
    ROOT,
    SNAPSHOTS,
    differences,
    files,
    manifest_path,
    replace,
    snapshot_of,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.generated.refresh", description=__doc__.splitlines()[0]
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of {', '.join(EXAMPLES)}")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when a snapshot is not current"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - EXAMPLES.keys())
    if unknown:
        parser.error(f"no snapshot named {', '.join(unknown)} (there are {', '.join(EXAMPLES)})")
    names = args.names or sorted(EXAMPLES)
    stale = False
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"crmgen-snapshot-{name}-") as tmp:
            out = Path(tmp) / name
            generate(EXAMPLES[name], out)
            if args.check:
                report = differences(name, snapshot_of(out))
                stale = stale or bool(report)
                print(report or f"generated/{name}: current")
                continue
            touched = replace(name, out)
        print(f"generated/{name}: {len(touched) or 'no'} file(s) changed")
        for relative in touched:
            print(f"  {relative}")
    if args.check:
        return 1 if stale else 0
    ignored = _ignored_by_git(names)
    if ignored:
        print(
            "git ignores these snapshot files, so a commit would leave them out:", file=sys.stderr
        )
        for path in ignored:
            print(f"  {path}", file=sys.stderr)
        return 1
    print("review with `git diff generated/` and commit the snapshots with the change")
    return 0


def _ignored_by_git(names: list[str]) -> list[str]:
    """The snapshot files a ``.gitignore`` would keep out of a commit (none outside a checkout)."""
    paths = [
        (SNAPSHOTS / name / relative).relative_to(ROOT).as_posix()
        for name in names
        for relative, _ in files(SNAPSHOTS / name)
    ]
    paths += [manifest_path(name).relative_to(ROOT).as_posix() for name in names]
    try:
        done = subprocess.run(
            ["git", "check-ignore", "--no-index", "--stdin"],
            input="\n".join(paths),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:  # no git here: nothing to check
        return []
    # 0: some are ignored, 1: none is, 128: not a git checkout
    return done.stdout.split() if done.returncode == 0 else []


if __name__ == "__main__":
    sys.exit(main())
