"""Entry-point plugins: other packages add field types and process step kinds.

A package declares, in its pyproject.toml::

    [project.entry-points."crmgen.steps"]
    sms = "my_package.steps:SMS_STEP"        # a crmgen.language.steps.StepKind

    [project.entry-points."crmgen.fields"]
    iban = "my_package.fields:IBAN"          # a crmgen.language.fields.FieldType

The built-in kinds register through the same registries, so plugins are first-class. A step
kind's code in the generated app comes from its ``template`` (see "Step plugins" in
docs/generated-app.md; tests/plugins/crmgen_slack_step is a working example).
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points


@lru_cache(maxsize=1)
def load_plugins() -> tuple[str, ...]:
    """Register every installed plugin once; returns the names loaded."""
    from crmgen.language import build_steps, fields, steps  # noqa: F401  (built-ins first)

    loaded = []
    for group, registry in (("crmgen.steps", steps.REGISTRY), ("crmgen.fields", fields.REGISTRY)):
        for ep in entry_points(group=group):
            item = ep.load()
            registry[item.name] = item
            loaded.append(f"{group}:{item.name}")
    return tuple(loaded)
