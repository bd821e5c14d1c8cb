"""``crmgen_runtime.web.widgets``: a form widget is a template partial, found where the site's
loader looks (the app's templates, the field types' packages, the runtime's), resolved when
the site starts; a field type's package brings its own widget and words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rt_crm
from crmgen_runtime import fields
from crmgen_runtime.web import widgets
from crmgen_runtime.web.site import Site
from rt_web import field, ui_data


def _app(root: Path, spec: dict[str, Any]) -> Path:
    root.mkdir(exist_ok=True)
    (root / "ui.json").write_text(json.dumps(spec), encoding="utf-8")
    return root


def _with_field(meta: dict[str, Any]) -> dict[str, Any]:
    """The small CRM's ``ui.json`` with one more field on deals."""
    spec = ui_data()
    spec["entities"]["deals"]["fields"][meta["name"]] = meta
    return spec


def test_the_built_in_widgets_resolve_to_their_partials(tmp_path: Path) -> None:
    site = Site(rt_crm.catalog, _app(tmp_path, ui_data()))
    assert site.widgets == {
        "text": "widgets/input.html",
        "number": "widgets/input.html",
        "select": "widgets/select.html",
        "ref": "widgets/ref.html",
        "multi": "widgets/multi.html",
    }
    assert site.widgets_used()["multi"] == "deals.partners"  # the form part's own widget


def test_an_apps_partial_wins_even_over_the_shared_input(tmp_path: Path) -> None:
    root = _app(tmp_path, ui_data())
    (root / "templates" / "widgets").mkdir(parents=True)
    (root / "templates" / "widgets" / "text.html").write_text("<i>text</i>", encoding="utf-8")
    site = Site(rt_crm.catalog, root)
    assert site.widgets["text"] == "widgets/text.html"
    assert site.widgets["number"] == "widgets/input.html"
    assert site.templates.get_template("widgets/text.html").render() == "<i>text</i>"
    assert widgets.template_of(site.templates, "../form") is None  # not a widget's name


def test_a_widget_nobody_provides_stops_the_site(tmp_path: Path) -> None:
    spec = _with_field(field("rating", widget="stars"))
    with pytest.raises(widgets.MissingWidget, match=r"deals\.rating .*'stars'.*widgets/stars"):
        Site(rt_crm.catalog, _app(tmp_path, spec))


@pytest.fixture
def stars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A field type ``stars`` whose package has a widget and a word of its own."""
    package = tmp_path / "site" / "rt_stars_field"
    (package / "templates" / "widgets").mkdir(parents=True)
    (package / "messages").mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "templates" / "widgets" / "stars.html").write_text(
        '<input id="{{ id }}" name="{{ f.name }}" value="{{ value }}"{{ described }}>'
        "{{ t('stars_hint') }}",
        encoding="utf-8",
    )
    words = {"stars_hint": {"en": "One to five", "ru": "От одного до пяти"}}
    (package / "messages" / "stars.json").write_text(json.dumps(words), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    stars = fields.FieldType("stars", lambda info, value: value, assets="rt_stars_field")
    monkeypatch.setitem(fields.REGISTRY, "stars", stars)
    return "rt_stars_field"


def test_a_field_types_package_brings_its_widget_and_words(stars: str, tmp_path: Path) -> None:
    spec = _with_field(field("rating", "stars", widget="stars"))
    site = Site(rt_crm.catalog, _app(tmp_path / "app", spec))
    assert site.widgets["stars"] == "widgets/stars.html"
    assert site.messages["ru"]["stars_hint"] == "От одного до пяти"
    html = site.templates.get_template("widgets/stars.html").render(
        id="f_rating", f={"name": "rating"}, value="3", described="", t=site.translator("en")
    )
    assert html == '<input id="f_rating" name="rating" value="3">One to five'
    assert fields.asset_folders(["stars", "string", "nothing"], "static") == []


def test_the_apps_templates_and_words_win_over_the_packages(stars: str, tmp_path: Path) -> None:
    spec = _with_field(field("rating", "stars", widget="stars"))
    root = _app(tmp_path / "app", spec)
    (root / "templates" / "widgets").mkdir(parents=True)
    (root / "templates" / "widgets" / "stars.html").write_text("mine", encoding="utf-8")
    (root / "messages").mkdir()
    words = {"stars_hint": {"en": "Our hint"}}
    (root / "messages" / "ours.json").write_text(json.dumps(words), encoding="utf-8")
    site = Site(rt_crm.catalog, root)
    assert site.templates.get_template("widgets/stars.html").render() == "mine"
    assert site.translator("en")("stars_hint") == "Our hint"
    assert site.translator("ru")("stars_hint") == "От одного до пяти"
