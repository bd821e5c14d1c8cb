"""``/openapi.json`` describes every API endpoint the app serves, with its methods.

The routes are read off the app itself (every ``Route`` below ``/api``, mounts followed), so an
endpoint added without its description fails here; documents' ``{file}`` paths are matched by
the concrete file names the document lists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.routing import Mount, Route

from tests.app_settings import app_settings_env
from tests.backend.conftest import generated

_PARAM = re.compile(r"\{([a-z_]+)(:[a-z]+)?\}")


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, frozenset[str]]]:
    for route in routes:
        if isinstance(route, Mount):
            yield from _routes(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            methods = frozenset((route.methods or set()) - {"HEAD"})
            yield _PARAM.sub(r"{\1}", prefix + route.path), methods


def _served(app: Any) -> dict[str, set[str]]:
    served: dict[str, set[str]] = {}
    for path, methods in _routes(app.routes):
        if path.startswith("/api/"):
            served.setdefault(path, set()).update(methods)
    return served


def _matches(template: str, concrete: str) -> bool:
    pattern = re.escape(template).replace(r"\{file\}", r"[^/]+")
    pattern = re.sub(r"\\\{[a-z_]+\\\}", r"\\{[a-z_]+\\}", pattern)
    return re.fullmatch(pattern, concrete) is not None


@pytest.mark.parametrize("spec", ["crm", "minimal"])
def test_every_api_route_is_described(spec: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    gen = generated(spec, tmp_path_factory)
    app = gen.app.create_app(gen.app.startup_settings(app_settings_env()))
    document = json.loads(app.state.openapi)
    described = {
        path: {m.upper() for m in item if m in ("get", "post", "patch", "put", "delete")}
        for path, item in document["paths"].items()
    }
    missing = []
    for path, methods in sorted(_served(app).items()):
        found = [p for p in described if _matches(path, p)]
        if not found:
            missing.append(f"{path} {sorted(methods)}")
            continue
        covered = set().union(*(described[p] for p in found))
        if methods - covered:
            missing.append(f"{path} {sorted(methods - covered)}")
    assert not missing, "not in openapi.json:\n" + "\n".join(missing)


def test_an_entitys_operations_share_its_tag(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Interactive docs group operations by tag: an entity's attachments and personal data sit
    with its list, read and write operations under its name, never under a second tag named
    after its path (ReDoc listed "Company" and "companies" apart)."""
    gen = generated("crm", tmp_path_factory)
    app = gen.app.create_app(gen.app.startup_settings(app_settings_env()))
    document = json.loads(app.state.openapi)
    tags = {
        tag
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        for tag in operation.get("tags", [])
    }
    plural = {"companies", "contacts", "deals", "leads", "tasks", "invoices", "orders"}
    assert not tags & plural, sorted(tags & plural)
    for path in ("/api/deals/{id}/attachments", "/api/contacts/{id}/personal-data"):
        item = document["paths"][path]
        assert {t for op in item.values() if isinstance(op, dict) for t in op["tags"]} == {
            "Deal" if "deals" in path else "Contact"
        }, path
