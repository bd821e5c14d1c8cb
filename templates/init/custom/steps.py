"""Functions a process calls with a ``call`` step, inside the write's transaction::

    - call:
        function: custom.steps.double
        with: {value: '= record.amount'}
        into: doubled

The function gets the process's ``run`` first (``run.session``: the transaction's database
session; ``run.user``: who is asking; ``run.query``/``run.create``/``run.update``: the
process's own steps), then the ``with`` values as keyword arguments; ``into`` names its result.
"""

from __future__ import annotations

# from decimal import Decimal
# from typing import Any
#
#
# def double(run: Any, value: Decimal | None) -> Decimal | None:
#     return None if value is None else value * 2
