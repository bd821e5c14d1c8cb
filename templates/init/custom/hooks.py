"""Hooks that run inside the transaction of every write of an entity.

``register`` is called once, after the spec's processes put theirs on ``events``, so these run
after them. Moments: before_create, after_create, before_update, after_update, before_delete,
after_delete. A hook may change ``event.values`` before a create or update, or raise
``ApiError`` to refuse the write (everything rolls back).
"""

from __future__ import annotations

from crmgen_runtime.events import Events

# from crmgen_runtime.errors import ApiError
# from crmgen_runtime.events import Event


def register(events: Events) -> None:
    """Put this app's hooks on ``events``."""
    # events.on("before_create", "Contact", lowercase_email)


# def lowercase_email(event: Event) -> None:
#     """Store e-mail addresses in lower case."""
#     if event.values.get("email"):
#         event.values["email"] = event.values["email"].lower()
