"""Values formatted per locale (Babel), datetimes in the app's time zone, and the API's
validation messages translated in the UI while the API keeps its English JSON."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from crmgen_runtime import crud, validation
from crmgen_runtime.errors import ApiError
from crmgen_runtime.principal import CurrentUser

from tests.ui.test_pages import UI, admin, csrf, ui  # noqa: F401

NBSP = "\u00a0"
NNBSP = "\u202f"  # CLDR puts a narrow no-break space before "г."


@pytest.fixture
def site(ui: UI) -> Any:  # noqa: F811
    return ui.gen.app.web.SITE


@pytest.mark.parametrize(
    ("type_", "value", "locale", "shown"),
    [
        ("integer", 1234567, "en", "1,234,567"),
        ("integer", 1234567, "ru", f"1{NBSP}234{NBSP}567"),
        ("integer", 1234567, "id", "1.234.567"),
        ("decimal", Decimal("12.5"), "ru", "12,5"),
        ("decimal", "0.25", "bs", "0,25"),
        ("money", Decimal("1234.50"), "ru", f"1{NBSP}234,50{NBSP}₽"),
        ("money", Decimal("1234.50"), "en", "RUB\u00a01,234.50"),
        ("date", dt.date(2024, 5, 12), "ru", f"12 мая 2024{NNBSP}г."),
        ("date", "2024-05-12", "en", "May 12, 2024"),
        ("date", dt.date(2024, 5, 12), "zh", "2024年5月12日"),
        ("boolean", True, "ru", "Да"),
        ("boolean", False, "zh", "否"),
    ],
)
def test_cells_follow_the_locale(
    site: Any, type_: str, value: Any, locale: str, shown: str
) -> None:
    meta = {"type": type_, "currency": "RUB" if type_ == "money" else None}  # as ui.json has it
    assert site.cell(meta, value, locale) == shown


def test_datetimes_are_shown_in_the_app_time_zone(site: Any, ui: UI) -> None:  # noqa: F811
    assert ui.gen.settings.TIMEZONE == "Europe/Moscow"  # examples/crm: UTC+3 all year
    moment = dt.datetime(2024, 5, 12, 21, 30, tzinfo=dt.UTC)
    assert site.cell({"type": "datetime"}, moment, "ru") == f"13 мая 2024{NNBSP}г., 00:30"
    assert site.cell({"type": "datetime"}, "2024-05-12T21:30:00Z", "en").startswith("May 13, 2024")
    # a system column without a field type is recognised by its value
    assert site.cell({}, moment, "ru") == f"13 мая 2024{NNBSP}г., 00:30"


def test_unparseable_values_are_shown_as_they_are(site: Any) -> None:
    assert site.cell({"type": "date"}, "someday", "ru") == "someday"
    assert site.cell({"type": "money"}, "lots", "ru") == "lots"
    assert site.cell({"type": "integer"}, None, "ru") == ""


def test_a_list_shows_russian_numbers_and_form_inputs_keep_machine_formats(
    admin: UI,  # noqa: F811
) -> None:
    form = admin.client.get("/companies/new")
    created = admin.client.post(
        "/companies/new",
        data={
            "csrf_token": csrf(form.text),
            "name": "Formatted Ltd",
            "employees": "12345",
            "annual_revenue": "9876543.21",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    url = created.headers["location"]
    admin.client.cookies.set("locale", "ru")
    detail = admin.client.get(url)
    assert f"12{NBSP}345" in detail.text
    assert f"9{NBSP}876{NBSP}543,21{NBSP}₽" in detail.text
    edit = admin.client.get(url + "/edit")
    assert 'value="12345"' in edit.text and 'value="9876543.21"' in edit.text
    admin.client.cookies.set("locale", "en")
    assert "12,345" in admin.client.get(url).text


def _error(ui: UI, payload: dict[str, Any]) -> Any:  # noqa: F811
    gen = ui.gen
    user = CurrentUser(
        id=1,
        email="admin@example.com",
        name="",
        roles=frozenset({"admin"}),
        superuser=True,
        extra={},
    )
    with pytest.raises(ApiError) as caught:
        crud.create_record(ui.database, gen.resources.RESOURCES["companies"], user, payload, None)
    return caught.value


def test_validation_messages_are_translated_from_their_codes(ui: UI, site: Any) -> None:  # noqa: F811
    error = _error(
        ui,
        {"name": "x" * 300, "employees": -1, "industry": "mining", "email": "nope", "tax_id": "12"},
    )
    # the API's words are untouched
    assert error.fields["employees"] == "Must be at least 0."
    assert error.fields["industry"].startswith("Must be one of: retail, ")
    ru = site.field_errors(error.fields, "ru")
    assert ru["employees"] == "Не меньше 0."
    assert ru["name"].startswith("Не длиннее ") and ru["name"].endswith(" символов.")
    assert ru["industry"].startswith("Допустимые значения: retail, ")
    assert ru["email"] == "Введите правильный адрес эл. почты."
    assert ru["tax_id"] == "Не короче 10 символов."
    zh = site.field_errors(error.fields, "zh")
    assert zh["employees"] == "不能小于 0。"
    required = site.field_errors(_error(ui, {}).fields, "bs")
    assert required == {"name": "Ovo polje je obavezno."}


def test_unknown_messages_pass_through_and_codes_cover_every_message(site: Any) -> None:
    assert site.field_errors({"x": "Something else went wrong."}, "ru") == {
        "x": "Something else went wrong."
    }
    for code in validation.MESSAGES:
        assert f"invalid_{code}" in site.messages["en"], code
    example = validation.message("too_short", min=3)
    assert validation.explain(example) == ("too_short", {"min": "3"})
    assert validation.explain(validation.message("too_small", min=3)) == ("too_small", {"min": "3"})
