"""An app's spec-wide configuration: one object, carried by its catalog."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import rt_crm
from crmgen_runtime.config import AppConfig
from crmgen_runtime.resources import Catalog


def test_the_derived_objects_follow_the_time_zone_and_currency() -> None:
    config = AppConfig("shop", timezone="Asia/Jakarta", currency="IDR", lockout_minutes=15)
    assert str(config.clock.zone) == "Asia/Jakarta"
    assert "Rp" in config.formats.format_money(Decimal("12.5"), "id")
    assert config.functions.days(2) == dt.timedelta(days=2)
    assert config.settings.database_url({}) == "sqlite:///shop.sqlite3"
    assert config.lockout == dt.timedelta(minutes=15)


def test_the_audit_log_is_for_superusers_and_the_audit_roles() -> None:
    config = AppConfig("crm", audit_roles=frozenset({"manager"}))
    assert config.may_read_audit(rt_crm.person(1, "manager"))
    assert config.may_read_audit(rt_crm.person(2, superuser=True))
    assert not config.may_read_audit(rt_crm.person(3, "sales"))
    assert not config.may_read_audit(None)


def test_a_catalog_carries_its_apps_config() -> None:
    config = AppConfig("crm", database_url="postgresql://db/crm")
    assert Catalog([], config=config).config is config
    assert Catalog([]).config.name == "app"
    assert config.settings.default_database_url == "postgresql://db/crm"


def test_the_plain_title_is_one_line() -> None:
    assert AppConfig("crm", title="  Acme\n  Sales\tCRM ").plain_title == "Acme Sales CRM"
    assert AppConfig("crm").plain_title == ""
