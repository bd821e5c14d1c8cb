"""Moving the finished staging folder into OUT, with the writer's ``Staging.swap``.

The marker lists the generated files and the publish artefacts with their digests, so the next run
treats them as crmgen's (replaced, or a hand edit when changed) and everything else in OUT as the
user's (carried over).
"""

from __future__ import annotations

from crmgen.publish.stages import Run


def swap_in(state: Run) -> None:
    """Swap the staging folder into OUT; say which edited copies ``--force`` kept.

    Raises ``HandEdited`` (OUT unchanged) when a generated file in OUT was changed by hand while
    the stages ran.
    """
    assert state.staged is not None
    swapped = state.staged.swap()
    state.staged = None
    for path, copy in swapped.kept.items():
        state.warn(f"{path} was changed by hand: replaced, the edited copy is kept as {copy}")


def clean_up(state: Run) -> None:
    """Remove the staging folder when it was not swapped in (a stage failed)."""
    if state.staged is not None:
        state.staged.discard()
    state.staged = None
