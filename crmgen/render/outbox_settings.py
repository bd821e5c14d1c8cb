"""What the outbox template needs: the spec's integrations as data.

Each integration becomes ``(name, type, ((setting, env var or None, literal or default), ...))``
so the generated ``outbox.py`` reads secrets from the environment at delivery time and never
holds them in source.
"""

from __future__ import annotations

from typing import Any

from crmgen.language.model import Spec


def integrations(
    spec: Spec,
) -> tuple[tuple[str, str, tuple[tuple[str, str | None, Any], ...]], ...]:
    """The integrations sorted by name, each with its settings sorted by name."""
    return tuple(
        (
            i.name,
            i.type,
            tuple(sorted((s.name, s.env, s.value) for s in i.settings)),
        )
        for i in sorted(spec.integrations, key=lambda i: i.name)
    )


def outbox_context(spec: Spec) -> dict[str, Any]:
    """The context of ``outbox.py``."""
    from crmgen.render.processes import uses_step

    return {
        "integrations": integrations(spec),
        "attaches_documents": uses_step(spec, "attach_document"),
    }
