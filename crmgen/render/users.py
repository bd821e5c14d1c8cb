"""Facts the templates need about users and roles, computed from the spec.

The built-in User has ``email``, ``name`` and ``active``; every other field the spec adds (e.g.
``position``, stored as ``position_id``) is an *extra* field: it reaches ``CurrentUser.extra``,
``GET /api/auth/me`` and the record rules.
"""

from __future__ import annotations

from typing import Any

from crmgen.language.model import Spec

USER = "User"
BUILTIN_USER_FIELDS = frozenset({"email", "name", "active"})


def auth_context(spec: Spec) -> dict[str, Any]:
    """The context of ``settings.py``."""
    user = spec.entity(USER)
    if user is None:  # the validator always adds User; a hand-built Spec may not
        raise ValueError("the spec has no User entity")
    extra = tuple(f.column for f in user.fields if f.name not in BUILTIN_USER_FIELDS and f.column)
    return {
        "user_entity": user,
        "user_extra_columns": extra,
        "user_timestamps": user.timestamps,
        "role_names": tuple(sorted(r.name for r in spec.roles)),
        "superuser_roles": tuple(sorted(r.name for r in spec.roles if r.superuser)),
        "user_manager_roles": tuple(
            sorted(r.name for r in spec.roles if r.manage_users or r.superuser)
        ),
        "audit_roles": tuple(sorted(r.name for r in spec.roles if r.audit or r.superuser)),
    }
