"""Custom code at work in a generated app: hooks after the spec's processes, a ``call`` step in
the write's transaction, routes, middleware, a page template and a static file."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.app_settings import app_settings_env
from tests.backend.conftest import Backend


def test_a_call_step_and_the_custom_hooks_run_in_the_write(shop: Backend) -> None:
    made = shop.client.post(
        "/api/deals", json={"title": "Big deal", "amount": "250.00"}, headers=shop.as_user("sales")
    )
    assert made.status_code == 201, made.text
    deal = made.json()
    assert deal["discount"] == "25.00"  # custom.pricing.discount, through ``into`` and ``set``
    assert deal["note"] == "discount 25.00"  # the custom hook ran after the spec's process
    assert _calls(shop)[-1] == "price_deal"  # custom.deals.audit.remember ran too


def test_a_custom_hook_refuses_a_write_and_it_rolls_back(shop: Backend) -> None:
    sales = shop.as_user("sales")
    deal = shop.client.post("/api/deals", json={"title": "Quiet"}, headers=sales).json()
    refused = shop.client.patch(f"/api/deals/{deal['id']}", json={"title": "LOUD"}, headers=sales)
    assert refused.status_code == 422
    assert "No shouting" in refused.text
    assert shop.client.get(f"/api/deals/{deal['id']}", headers=sales).json()["title"] == "Quiet"
    other = shop.client.patch(f"/api/deals/{deal['id']}", json={"note": "LOUD"}, headers=sales)
    assert other.status_code == 200  # the hook watches ``title`` only


def test_custom_routes_come_first_and_see_the_user(shop: Backend) -> None:
    hello = shop.client.get("/api/hello", headers=shop.as_user("sales"))
    assert hello.json() == {"hello": "sales@example.com"}
    assert shop.client.get("/api/hello").json() == {"hello": None}
    assert shop.client.get("/pages/about").text == "<h1>Our own page</h1>"


def test_custom_middleware_templates_and_static_files(shop: Backend) -> None:
    """With the default middleware (real sign-in): the custom middleware runs inside it, the
    login page is the custom template, ``/static/shop.css`` the custom file."""
    gen = shop.gen
    settings = gen.app.startup_settings(app_settings_env())
    app = gen.app.create_app(settings, database=shop.database)
    with TestClient(app) as client:
        login = client.get("/login")
        assert login.status_code == 200
        assert login.headers["x-powered-by"] == "shop"
        assert "Welcome to the shop" in login.text
        assert 'name="password"' in login.text  # the rest of the runtime's page
        css = client.get("/static/shop.css")
        assert css.status_code == 200 and "the shop" in css.text
        assert client.get("/static/app.css").status_code == 200  # the runtime's still served
        assert client.get("/api/hello").json() == {"hello": None}  # behind AuthMiddleware
        refused = client.post("/api/deals", json={"title": "x"})
        assert refused.status_code == 401
        assert refused.headers["x-powered-by"] == "shop"


def _calls(shop: Backend) -> list[str]:
    """``CALLS`` of the app's ``custom/deals/audit.py``, as the app imported it (the test
    fixtures import the generated package, then forget it from ``sys.modules``)."""
    remember = vars(shop.gen.processes)["_custom__deals__audit__remember"]
    assert remember.__module__ == "shop.custom.deals.audit"
    return list(remember.__globals__["CALLS"])
