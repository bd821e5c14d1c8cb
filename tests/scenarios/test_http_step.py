"""The ``http`` step with ``into`` calls a real HTTP server on loopback, synchronously.

The reference CRM's ``company_enrichment`` process asks the enrichment service (integration
``enrichment``: base URL and bearer token from ENRICHMENT_API_URL / ENRICHMENT_API_TOKEN)
about a new company with a website, stores the JSON answer in ``extra`` and a field of it
(``info.body.employees``) in ``employees``. The loopback server is allowed by name
(``OUTBOUND_ALLOW_HOSTS``, set by the ``http`` fixture); any other private or loopback address
is refused before anything is sent.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.backend.payloads import create
from tests.scenarios.conftest import HttpRecorder, Scenario


def test_enrichment_calls_the_service_and_keeps_its_answer(
    scenario: Scenario, http: HttpRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENRICHMENT_API_URL", http.base + "/api")
    monkeypatch.setenv("ENRICHMENT_API_TOKEN", "enrich-token")
    answer = {"name": "Acme", "employees": 420, "offices": [{"city": "Kazan"}]}
    http.answers["/api/companies"] = answer
    company = create(
        scenario,
        "companies",
        full=False,
        user="manager",
        name="Acme",
        website="https://acme.example/about",
    )
    calls = http.received("/api/companies")
    assert len(calls) == 1, http.requests
    method, path, headers, _ = calls[0]
    assert method == "GET"
    assert parse_qs(urlsplit(path).query) == {"domain": ["https://acme.example/about"]}
    assert headers["Authorization"] == "Bearer enrich-token"
    stored = scenario.client.get(
        f"/api/companies/{company['id']}", headers=scenario.as_user("manager")
    )
    assert stored.json()["extra"] == answer  # the loopback server's JSON answer
    assert stored.json()["employees"] == 420  # a field of the reply, stored by a later step


@pytest.mark.parametrize(
    "base",
    [
        "http://127.0.0.1:{port}/api",
        "http://[::1]:{port}/api",
        "http://10.0.0.7/api",
        "http://169.254.169.254/api",
        "http://localhost:{port}/api",  # a name that resolves to 127.0.0.1
        "redirect",  # an allowed host redirects to 127.0.0.1, which is not allowed
    ],
)
def test_requests_to_private_addresses_are_refused(
    scenario: Scenario,
    http: HttpRecorder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    base: str,
) -> None:
    port = http.server_address[1]
    if base == "redirect":
        monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", "localhost")
        http.redirects["/api/companies"] = f"http://127.0.0.1:{port}/api/companies"
        base = "http://localhost:{port}/api"
        asked = 1  # the allowed host, once; the redirect's target never
    else:
        monkeypatch.delenv("OUTBOUND_ALLOW_HOSTS")
        asked = 0
    monkeypatch.setenv("ENRICHMENT_API_URL", base.format(port=port))
    with caplog.at_level("WARNING"):
        company = create(
            scenario,
            "companies",
            full=False,
            user="manager",
            name=f"Inside {len(caplog.records)} {base}",
            website="https://inside.example",
        )
    assert len(http.received("/api/companies")) == asked
    assert "not sent: refused" in caplog.text and "allow_hosts" in caplog.text
    stored = scenario.client.get(
        f"/api/companies/{company['id']}", headers=scenario.as_user("manager")
    )
    assert stored.status_code == 200 and stored.json()["extra"] is None


def test_a_failing_service_leaves_the_company_as_it_was(
    scenario: Scenario, http: HttpRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENRICHMENT_API_URL", http.base + "/api")
    for quoted in ("https%3A//down.example", "https%3A%2F%2Fdown.example"):  # either quoting
        http.statuses[f"/api/companies?domain={quoted}"] = 503
    company = create(
        scenario,
        "companies",
        full=False,
        user="manager",
        name="Down Ltd",
        website="https://down.example",
    )
    assert len(http.received("/api/companies")) == 1
    stored = scenario.client.get(
        f"/api/companies/{company['id']}", headers=scenario.as_user("manager")
    )
    assert stored.status_code == 200 and stored.json()["extra"] is None
    assert stored.json()["name"] == "Down Ltd"
