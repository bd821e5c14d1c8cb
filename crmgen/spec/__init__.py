"""Deprecated alias of ``crmgen.language``, the spec-language layer (renamed in 0.4.0).

Kept for one release so that plugins written against the old path keep working: importing
``crmgen.spec`` or one of its old modules (``crmgen.spec.steps``, ``crmgen.spec.fields``, ...)
gives the ``crmgen.language`` module object itself, not a copy, and the first such import emits
a DeprecationWarning naming the new path. Nothing inside crmgen imports this package.
"""

from __future__ import annotations

import importlib
import sys
import warnings

OLD = "crmgen.spec"
NEW = "crmgen.language"

# every module of the layer when it was renamed; modules added since never had an old path
MODULES = (
    "build_app",
    "build_documents",
    "build_entities",
    "build_processes",
    "build_steps",
    "build_ui",
    "context",
    "cron",
    "expressions",
    "fields",
    "integrations",
    "model",
    "names",
    "schema",
    "schema_errors",
    "sources",
    "steps",
    "text",
    "user_management",
    "yaml_loader",
)


warnings.warn(
    f"{OLD} is deprecated (renamed in crmgen 0.4.0): import {NEW} instead"
    f" ({OLD}.steps is {NEW}.steps, and so on for every module)",
    DeprecationWarning,
    stacklevel=2,
)

# The import system returns what sys.modules holds once this body has run: `import crmgen.spec`
# gives the new package, and `import crmgen.spec.steps` finds the new module already there. (The
# modules are already loaded: crmgen.language imports them all. They are entered here rather
# than found by a meta path finder, which would make the import system set each one as an
# attribute of the package, hiding the functions the package exports under the same names.)
for _name in MODULES:
    sys.modules[f"{OLD}.{_name}"] = importlib.import_module(f"{NEW}.{_name}")
sys.modules[OLD] = importlib.import_module(NEW)
