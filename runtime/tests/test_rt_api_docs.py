"""``crmgen_runtime.web.api_docs``: the vendored viewers are the recorded bytes, their pages'
Content-Security-Policy adds only what each needs, the ``API_DOCS`` setting, and the year-long
cache lifetime of the vendored files."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from crmgen_runtime import assets
from crmgen_runtime.settings import load_settings
from crmgen_runtime.web import api_docs
from crmgen_runtime.web.site import SECURITY_HEADERS
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

VENDOR = json.loads((assets.WEB / "vendor.json").read_text(encoding="utf-8"))
MAX_VENDOR_BYTES = 3_200_000  # Swagger UI's bundle and CSS, ReDoc's bundle, their licences


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("package", VENDOR["packages"], ids=lambda p: p["name"])
def test_each_vendored_file_is_the_recorded_one(package: dict[str, Any]) -> None:
    folder = assets.WEB / package["folder"]
    shipped = {path.name for path in folder.iterdir()}
    assert shipped == set(package["files"])  # nothing unlisted is shipped
    assert "LICENSE" in shipped and package["licence"] in ("MIT", "Apache-2.0")
    for name, digest in package["files"].items():
        data = (folder / name).read_bytes()
        assert _sha256(data) == digest, name
        for patch in package.get("patches", {}).get(name, []):  # undone, the package's bytes
            assert data.count(patch["to"].encode()) >= 1
            data = data.replace(patch["to"].encode(), patch["from"].encode(), 1)
        if name in package.get("upstream", {}):
            assert _sha256(data) == package["upstream"][name], name
    assert package["version"] in folder.name  # a new version is a new URL


def test_the_vendored_files_stay_small_and_name_no_other_site_to_load() -> None:
    folders = [assets.WEB / package["folder"] for package in VENDOR["packages"]]
    total = sum(path.stat().st_size for folder in folders for path in folder.iterdir())
    assert total < MAX_VENDOR_BYTES, total
    redoc = (assets.WEB / "static" / api_docs.REDOC / "redoc.standalone.js").read_text("utf-8")
    assert "cdn.redoc.ly" not in redoc
    for package in VENDOR["packages"]:
        assert f"static/{api_docs.SWAGGER_UI}" == package["folder"] or (
            f"static/{api_docs.REDOC}" == package["folder"]
        )


def _directives(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def test_swagger_ui_keeps_the_uis_policy() -> None:
    assert _directives(api_docs.policy("swagger")) == _directives(
        SECURITY_HEADERS["Content-Security-Policy"]
    )


def test_redoc_adds_only_its_style_hashes_and_a_blob_worker() -> None:
    base = _directives(SECURITY_HEADERS["Content-Security-Policy"])
    redoc = _directives(api_docs.policy("redoc"))
    changed = {name for name in redoc if redoc[name] != base.get(name)}
    assert changed == {"style-src", "worker-src"}
    assert redoc["worker-src"] == "blob:"
    assert redoc["style-src"].split()[0] == "'self'"
    assert all(source.startswith("'sha256-") for source in redoc["style-src"].split()[1:])
    for viewer in ("swagger", "redoc"):
        policy = api_docs.policy(viewer)
        assert "unsafe-eval" not in policy and "unsafe-inline" not in policy
        assert _directives(policy)["script-src"] == "'self'"


@pytest.mark.parametrize(
    ("value", "on"),
    [(None, True), ("1", True), ("on", True), ("TRUE", True), ("0", False), ("off", False)],
)
def test_api_docs_are_on_unless_turned_off(value: str | None, on: bool) -> None:
    env = {} if value is None else {"API_DOCS": value}
    assert load_settings(env, "sqlite:///x.db").api_docs is on


def test_a_malformed_api_docs_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="API_DOCS is 1 or 0"):
        load_settings({"API_DOCS": "maybe"}, "sqlite:///x.db")


def test_vendored_files_are_cached_for_a_year_and_the_others_are_not() -> None:
    web = Starlette(routes=[Mount("/static", assets.static_files(None))])
    with TestClient(web) as client:
        bundle = client.get(f"/static/{api_docs.REDOC}/redoc.standalone.js")
        assert bundle.status_code == 200
        assert bundle.headers["cache-control"] == assets.IMMUTABLE
        assert "javascript" in bundle.headers["content-type"]
        css = client.get(f"/static/{api_docs.SWAGGER_UI}/swagger-ui.css")
        assert css.headers["cache-control"] == assets.IMMUTABLE
        again = client.get(
            f"/static/{api_docs.SWAGGER_UI}/swagger-ui.css",
            headers={"if-none-match": css.headers["etag"]},
        )
        assert again.status_code == 304 and again.headers["cache-control"] == assets.IMMUTABLE
        assert "cache-control" not in client.get("/static/app.css").headers
        assert client.get("/static/vendor/nothing.js").status_code == 404
