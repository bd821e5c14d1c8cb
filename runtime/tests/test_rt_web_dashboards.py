"""``crmgen_runtime.web.dashboards``: dashboard and report pages and the report's CSV, over
HTTP on the small CRM (SQLite and PostgreSQL), from the site's ``ui.json`` and its analytics."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import rt_crm
from conftest import PUBLIC_URL, WebClient
from crmgen_runtime import auth, auth_routes
from crmgen_runtime.web import dashboards
from crmgen_runtime.web.site import Site
from rt_web import ui_data
from starlette.routing import Mount
from starlette.testclient import TestClient
from test_rt_analytics import ANALYTICS

PASSWORD = "correct horse battery"


def label(text: str) -> dict[str, str]:
    return {"en": text, "ru": text + "-ru"}


def group(name: str, kind: str) -> dict[str, Any]:
    return {"name": name, "label": label(name.title()), "type": kind, "currency": None}


BOARD = {
    "label": label("Sales"),
    "roles": ["sales", "viewer"],
    "kpis": [
        {"name": "deals", "label": label("Deals"), "format": "number", "entity": "deals"},
        {"name": "total", "label": label("Total"), "format": "money", "entity": "deals"},
        {"name": "big", "label": label("Big"), "format": "percent", "entity": "deals"},
    ],
    "charts": [
        {
            "name": "by_company",
            "label": label("By company"),
            "type": "funnel",
            "entity": "deals",
            "group": group("company", "ref"),
            "period": None,
            "format": "number",
        },
        {
            "name": "by_title",
            "label": label("By title"),
            "type": "bar",
            "entity": "deals",
            "group": group("title", "string"),
            "period": None,
            "format": "number",
        },
    ],
}
REPORT = {
    "label": label("By stage"),
    "roles": [],
    "entity": "deals",
    "group_by": [group("stage", "enum")],
    "columns": [
        {"name": "deals", "label": label("Deals"), "format": "number"},
        {"name": "top", "label": label("Top"), "format": "money"},
    ],
}
HIRED = {
    "label": label("Hired"),
    "roles": [],
    "entity": "users",
    "group_by": [group("hired_on", "date")],
    "columns": [{"name": "people", "label": label("People"), "format": "number"}],
}


@pytest.fixture
def client(
    tmp_path: Path, crm_web: rt_crm.Crm, web_client: WebClient, cheap_hashes: Any
) -> TestClient:
    data = ui_data()
    data["dashboards"] = {
        "boards": {"sales": BOARD, "admins": {**BOARD, "roles": ["admin"]}},
        "reports": {"by_stage": REPORT, "hired": {**HIRED, "period": "month"}},
    }
    (tmp_path / "ui.json").write_text(json.dumps(data), encoding="utf-8")
    site = Site(crm_web.catalog, tmp_path, analytics=ANALYTICS)
    routes = [
        Mount("/api", routes=[Mount("/auth", routes=auth_routes.routes(crm_web.catalog))]),
        *dashboards.routes(),
    ]
    with crm_web.database.session() as session:
        auth.create_user(
            crm_web.catalog, session, email="sam@example.com", password=PASSWORD, roles=("sales",)
        )
    made = web_client(
        routes,
        site=site,
        sessions=True,
        html_errors=True,
        base_url="https://testserver",
        PUBLIC_URL=PUBLIC_URL,
    )
    token = made.post("/api/auth/login", json={"email": "sam@example.com", "password": PASSWORD})
    made.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return made


def test_a_dashboard_shows_its_kpis_and_charts(client: TestClient) -> None:
    page = client.get("/dashboards/sales")
    assert page.status_code == 200, page.text
    for text in ("Sales", "Deals", "By company", "Not available for your role"):
        assert text in page.text
    assert dashboards.entity_routes("deals", rt_crm.deals) == []


def test_pages_the_reader_may_not_open(client: TestClient) -> None:
    assert client.get("/dashboards/admins").status_code == 403
    assert client.get("/dashboards/nothing").status_code == 404
    assert client.get("/reports/nothing.csv").status_code == 404
    with TestClient(client.app, base_url="https://testserver", follow_redirects=False) as nobody:
        assert nobody.get("/dashboards/sales").status_code in (302, 303)


def test_a_report_as_a_page_and_as_csv(client: TestClient, crm_web: rt_crm.Crm) -> None:
    with crm_web.database.session() as session:
        auth.create_user(
            crm_web.catalog, session, email="ada@example.com", password=PASSWORD, roles=("admin",)
        )
    token = client.post("/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    page = client.get("/reports/by_stage")
    assert page.status_code == 200 and "By stage" in page.text
    download = client.get("/reports/by_stage.csv")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="by_stage.csv"'
    rows = list(csv.reader(io.StringIO(download.text.lstrip("\ufeff"))))
    assert rows[0] == ["Stage", "Deals", "Top"]
    assert rows[-1][0] == "Total"
    hired = client.get("/reports/hired.csv")
    assert hired.status_code == 200


def test_values_read_as_people_read_them(tmp_path: Path) -> None:
    (tmp_path / "ui.json").write_text(json.dumps(ui_data()), encoding="utf-8")
    site = Site(rt_crm.catalog, tmp_path)
    assert dashboards.number_text(site, None, "number", "en") == "—"
    assert dashboards.number_text(site, 0.25, "percent", "en") == "25%"
    assert dashboards.plain(None) == "" and dashboards.plain(3) == "3"
    stage = group("stage", "enum")
    assert dashboards.key_text(site, stage, "deals", "won", None, "en") == "Won"
    with pytest.raises(LookupError):
        dashboards.analytics_of(site)
