"""Functions that ``call:`` steps run."""

from decimal import Decimal
from typing import Any


def discount(run: Any, amount: Decimal | None, rate: float) -> Decimal:
    """The discount on ``amount``; a deal of the shop's own customers gets none."""
    if amount is None:
        return Decimal(0)
    return (amount * Decimal(str(rate))).quantize(Decimal("0.01"))
