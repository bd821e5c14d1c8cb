"""Moving the finished staging folder into OUT, with the writer's swap and carry-over.

The marker lists the generated files and the publish artefacts, so the next run treats them as
crmgen's (replaced) and everything else in OUT as the user's (carried over).
"""

from __future__ import annotations

import os
import shutil

from crmgen.publish.stages import Run
from crmgen.render import writer


def swap_in(state: Run) -> None:
    """Write the marker into the staging folder and swap it into OUT."""
    assert state.staging is not None
    for cache in sorted(state.staging.rglob("__pycache__")):
        shutil.rmtree(cache)
    writer._write_marker(state.staging, state.plan, state.extra_files)
    os.chmod(state.staging, 0o755)
    writer._swap(state.staging, state.out)
    state.staging = None


def clean_up(state: Run) -> None:
    """Remove the staging folder when it was not swapped in (a stage failed)."""
    if state.staging is not None:
        shutil.rmtree(state.staging, ignore_errors=True)
    state.staging = None
