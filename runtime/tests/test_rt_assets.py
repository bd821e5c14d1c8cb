"""``crmgen_runtime.assets``: the runtime's templates, static files, messages and fonts, under
the overrides of an app's own folders."""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import pytest
from crmgen_runtime import assets
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """An app folder overriding one template, one static file and one message, adding others."""
    files = {
        "templates/error.html": "app error page {{ code }}",
        "templates/custom.html": "mine",
        "static/app.css": "body { color: red }",
        "static/img/logo.svg": "<svg/>",
        "messages/core.json": json.dumps({"back": {"en": "Go back"}, "hello": {"fr": "Salut"}}),
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_the_runtime_carries_its_files() -> None:
    assert (assets.WEB / "templates" / "base.html").is_file()
    assert (assets.WEB / "static" / "app.css").is_file()
    assert (assets.FONTS / "DejaVuSans.ttf").is_file()
    assert (assets.FONTS / "LICENSE.txt").is_file()
    assert assets.folders("templates", None) == [assets.WEB / "templates"]


def test_an_app_folder_comes_first_only_when_it_exists(app: Path, tmp_path: Path) -> None:
    assert assets.folders("static", app) == [app / "static", assets.WEB / "static"]
    assert assets.folders("static", tmp_path / "none") == [assets.WEB / "static"]


def test_templates_of_the_app_replace_the_runtimes(app: Path) -> None:
    env = jinja2.Environment(loader=assets.template_loader(app), autoescape=True)
    assert env.get_template("error.html").render(code=404) == "app error page 404"
    assert env.get_template("custom.html").render() == "mine"
    assert env.get_template("base.html").filename == str(assets.WEB / "templates" / "base.html")
    runtime = jinja2.Environment(loader=assets.template_loader(), autoescape=True)
    assert runtime.get_template("error.html").filename == str(
        assets.WEB / "templates" / "error.html"
    )


def test_static_files_of_the_app_replace_the_runtimes(app: Path) -> None:
    assert assets.static_file("app.css", app) == b"body { color: red }"
    assert assets.static_file("app.css") == (assets.WEB / "static" / "app.css").read_bytes()
    assert assets.static_file("img/logo.svg", app) == b"<svg/>"
    with pytest.raises(FileNotFoundError):
        assets.static_file("nothing.css", app)


@pytest.mark.parametrize("with_app", [True, False])
def test_static_files_are_served_the_same_way(app: Path, with_app: bool) -> None:
    web = Starlette(routes=[Mount("/static", assets.static_files(app if with_app else None))])
    with TestClient(web) as client:
        css = client.get("/static/app.css")
        assert css.status_code == 200
        assert (css.text == "body { color: red }") is with_app
        assert client.get("/static/lists.js").status_code == 200  # the runtime's
        assert client.get("/static/img/logo.svg").status_code == (200 if with_app else 404)


def test_messages_of_the_app_replace_keys_not_files(app: Path) -> None:
    runtime = assets.messages()
    merged = assets.messages(app)
    assert runtime["en"]["back"] == "Back" and runtime["ru"]["back"] == "Назад"
    assert merged["en"]["back"] == "Go back"
    assert merged["ru"]["back"] == "Назад"  # the runtime's other locales of that key stay
    assert merged["fr"] == {"hello": "Salut"}
    assert merged["en"]["bad_credentials"] == runtime["en"]["bad_credentials"]


def test_web_files_resolve_each_name_as_the_app_does(app: Path) -> None:
    files = assets.web_files(app)
    assert files["static/app.css"] == app / "static" / "app.css"
    assert files["templates/error.html"] == app / "templates" / "error.html"
    assert files["static/img/logo.svg"] == app / "static" / "img" / "logo.svg"
    assert files["static/lists.js"] == assets.WEB / "static" / "lists.js"
    assert files["templates/base.html"] == assets.WEB / "templates" / "base.html"
    assert list(files) == sorted(files)
    assert not any(name.startswith("messages/") for name in files)
    runtime = assets.web_files()
    assert set(runtime) <= set(files) and "templates/custom.html" not in runtime


@pytest.fixture
def custom(app: Path) -> Path:
    """The app folder with custom code (``custom/``) overriding the app's and the runtime's."""
    files = {
        "custom/templates/error.html": "custom error page {{ code }}",
        "custom/static/app.css": "body { color: blue }",
        "custom/static/extra.js": "// mine",
        "custom/messages/core.json": json.dumps({"back": {"en": "Return"}}),
    }
    for name, text in files.items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(text, encoding="utf-8")
    return app


def test_the_custom_folder_wins_over_the_app_and_the_runtime(custom: Path) -> None:
    app = custom
    assert assets.folders("static", app) == [
        app / "custom" / "static",
        app / "static",
        assets.WEB / "static",
    ]
    env = jinja2.Environment(loader=assets.template_loader(app), autoescape=True)
    assert env.get_template("error.html").render(code=500) == "custom error page 500"
    assert env.get_template("custom.html").render() == "mine"  # the app's, not shadowed
    assert assets.static_file("app.css", app) == b"body { color: blue }"
    assert assets.messages(app)["en"]["back"] == "Return"
    assert assets.messages(app)["fr"] == {"hello": "Salut"}
    files = assets.web_files(app)
    assert files["static/extra.js"] == app / "custom" / "static" / "extra.js"
    assert files["static/img/logo.svg"] == app / "static" / "img" / "logo.svg"


def test_static_files_are_served_from_every_layer(custom: Path) -> None:
    web = Starlette(routes=[Mount("/static", assets.static_files(custom))])
    with TestClient(web) as client:
        assert client.get("/static/app.css").text == "body { color: blue }"
        assert client.get("/static/extra.js").text == "// mine"
        assert client.get("/static/img/logo.svg").text == "<svg/>"
        assert client.get("/static/lists.js").status_code == 200
        assert client.get("/static/../custom/templates/error.html").status_code == 404
