"""A step function in a sub-package: it writes through the process's session."""

from typing import Any

import sqlalchemy as sa


def remember(run: Any) -> None:
    """Count the calls in the transaction's own session (proof it runs inside it)."""
    run.session.execute(sa.text("SELECT 1"))
    CALLS.append(run.process)


CALLS: list[str] = []
