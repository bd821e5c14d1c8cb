"""The render plan: which files the app is made of, from which templates, with which context.

The plan is plain data derived from the spec; the writer renders it. Adding a file to the
generated app is one line in ``build_plan`` plus its template.
"""

from __future__ import annotations

from typing import Any

from crmgen import __version__
from crmgen.bundled import templates_dir
from crmgen.language.fields import field_type
from crmgen.language.model import Spec
from crmgen.render import (
    analytics_indexes,
    api,
    app_docs,
    deployment,
    list_indexes,
    openapi,
    relations,
    runtime_wheel,
    samples,
    seed_plan,
)
from crmgen.render.analytics import analytics_context
from crmgen.render.mail_settings import mail_context
from crmgen.render.outbox_settings import outbox_context
from crmgen.render.planned import PlannedFile
from crmgen.render.processes import processes_context, written_fields
from crmgen.render.users import auth_context
from crmgen.render.web import ui_context

# The web UI's modules (templates/backend/web/), each found by listing its folder; its pages,
# static files, words and fonts are the runtime's (crmgen_runtime.assets).
WEB_MODULES = tuple(
    sorted(p.name.removesuffix(".py.j2") for p in (templates_dir() / "backend/web").glob("*.py.j2"))
)

# The app's own pytest suite (templates/tests/), rendered into OUT/tests/.
TEST_FILES = (
    "__init__.py",
    "spec_data.py",
    "conftest.py",
    "test_accounts.py",
    "test_auth.py",
    "test_constraints.py",
    "test_crud.py",
    "test_migrations.py",
    "test_permissions.py",
    "test_ui.py",
)

# The app's documentation (templates/docs/, crmgen.render.app_docs), rendered into OUT/docs/,
# beside the ER diagram's SVG.
DOC_FILES = ("README.md", "data-model.md", "entities.md", "access.md", "processes.md")


def base_context(spec: Spec) -> dict[str, Any]:
    """What every template sees."""
    return {
        "spec": spec,
        "app": spec.app,
        "package": spec.app.name,
        "crmgen_version": __version__,
        "runtime_requirement": runtime_wheel.requirement(),
        "runtime_wheel": runtime_wheel.OUT_PATH,
        "plugin_distributions": plugin_distributions(spec),
        "plugin_types": tuple(
            sorted(
                {f.type for e in spec.entities for f in e.fields if field_type(f.type).distribution}
            )
        ),
    }


def plugin_distributions(spec: Spec) -> list[str]:
    """The distributions of the plugin field types the spec uses: the app depends on them (they
    carry the types' runtime half)."""
    found = {field_type(f.type).distribution for e in spec.entities for f in e.fields}
    return sorted(name for name in found if name)


def models_context(spec: Spec) -> dict[str, Any]:
    """The models template also gets the relation helpers and the field types in use."""
    return {
        "field_types": sorted({f.type for e in spec.entities for f in e.fields}),
        "reverses": lambda entity: relations.reverses(spec, entity),
        "join_columns": relations.join_columns,
        "is_self": relations.is_self,
        "list_indexes": list_indexes.list_indexes,
        "analytics_indexes": lambda entity: analytics_indexes.analytics_indexes(spec, entity),
        "led_columns": lambda entity: list_indexes.led_columns(
            entity,
            list_indexes.list_indexes(entity) + analytics_indexes.analytics_indexes(spec, entity),
        ),
    }


def api_context(spec: Spec) -> dict[str, Any]:
    """The REST API templates get the resources (fields, compiled record rules, defaults)."""
    return {**api.api_context(spec), "openapi_text": openapi.document_text(spec)}


def seed_context(spec: Spec) -> dict[str, Any]:
    """The demo-data seeder gets the entities in seeding order, their fields as data and what
    the spec says of the data's shape (funnels, calendars, sums of lines, patterns)."""
    return {
        "seed_order": seed_plan.order(spec),
        "seed_fields": seed_plan.fields,
        "seed_count": seed_plan.COUNT,
        "seed_funnels": seed_plan.funnels(spec),
        "seed_calendars": seed_plan.calendars(spec),
        "seed_rollups": seed_plan.rollups(spec),
        "seed_patterned": seed_plan.patterned(spec),
        "seed_only": seed_plan.only(spec),
    }


def tests_context(spec: Spec) -> dict[str, Any]:
    """The app's own tests get the spec as sample data (``crmgen.render.samples``)."""
    user = spec.entity("User")
    return {
        "samples": samples.samples(spec),
        "clean_order": tuple(samples.clean_order(spec)),
        "roles": tuple(sorted(r.name for r in spec.roles)),
        "superuser_roles": api.superuser_roles(spec),
        "user_manager_roles": api.user_manager_roles(spec),
        "user_entity": user,
        "actions": ("list", "read", "create", "update", "delete"),
        "missing": samples.MISSING,
        "lit": samples.literal,
        "any_hidden": any(p.hidden for e in spec.entities for p in e.permissions),
        "any_read_only": any(
            p.read_only and "update" in e.api and p.access("update").mode != "none"
            for e in spec.entities
            for p in e.permissions
        ),
        "process_written": written_fields(spec),
        "wheres_of": lambda p: [
            (a, x.where.source) for a, x in p.actions if x.mode == "where" and x.where
        ],
    }


def build_plan(spec: Spec) -> list[PlannedFile]:
    """The files of the generated app, sorted by path."""
    context = base_context(spec)
    package = spec.app.name
    rest = api_context(spec)
    files = [
        PlannedFile(runtime_wheel.OUT_PATH, "", data=runtime_wheel.wheel_bytes()),
        PlannedFile("pyproject.toml", "backend/pyproject.toml.j2", context),
        PlannedFile("README.md", "backend/README.md.j2", context),
        PlannedFile(".gitignore", "backend/gitignore.j2", context),
        PlannedFile(f"{package}/__init__.py", "backend/__init__.py.j2", context),
        PlannedFile(
            f"{package}/settings.py", "backend/settings.py.j2", {**context, **auth_context(spec)}
        ),
        PlannedFile(
            f"{package}/models.py", "backend/models.py.j2", {**context, **models_context(spec)}
        ),
        PlannedFile("alembic.ini", "backend/alembic.ini.j2", context),
        PlannedFile("migrations/env.py", "backend/migrations/env.py.j2", context),
        PlannedFile("migrations/script.py.mako", "backend/migrations/script.py.mako.j2", context),
        PlannedFile(f"{package}/__main__.py", "backend/__main__.py.j2", context),
        PlannedFile(f"{package}/cli.py", "backend/cli.py.j2", context),
        PlannedFile(f"{package}/backup.py", "backend/backup.py.j2", context),
        PlannedFile(f"{package}/resources.py", "backend/resources.py.j2", {**context, **rest}),
        PlannedFile(
            f"{package}/processes.py",
            "backend/processes.py.j2",
            {**context, **processes_context(spec)},
        ),
        PlannedFile(f"{package}/app.py", "backend/app.py.j2", context),
        PlannedFile(f"{package}/openapi.json", "backend/openapi.json.j2", {**context, **rest}),
        PlannedFile(f"{package}/seed.py", "backend/seed.py.j2", {**context, **seed_context(spec)}),
        PlannedFile(
            f"{package}/outbox.py", "backend/outbox.py.j2", {**context, **outbox_context(spec)}
        ),
        PlannedFile(
            f"{package}/analytics.py",
            "backend/analytics.py.j2",
            {**context, **analytics_context(spec)},
        ),
        PlannedFile(f"{package}/ui.json", "ui/ui.json.j2", {**context, **ui_context(spec)}),
    ]
    if spec.logs_mail:  # e-mail from records (email_templates, imap): no trace otherwise
        files.append(
            PlannedFile(
                f"{package}/mail.py", "backend/mail.py.j2", {**context, **mail_context(spec)}
            )
        )
    files += [
        PlannedFile(f"{package}/web/{name}.py", f"backend/web/{name}.py.j2", context)
        for name in WEB_MODULES
    ]
    tests = {**context, **tests_context(spec)}
    files += [PlannedFile(f"tests/{name}", f"tests/{name}.j2", tests) for name in TEST_FILES]
    docs = {**context, **app_docs.docs_context(spec)}
    files += [PlannedFile(f"docs/{name}", f"docs/{name}.j2", docs) for name in DOC_FILES]
    files.append(PlannedFile(app_docs.SVG_PATH, "", data=app_docs.svg_bytes(spec)))
    files += deployment.planned(package, context)
    return sorted(files, key=lambda f: f.path)
