"""The ``http`` step with ``into`` calls a real HTTP server on loopback, synchronously.

The reference CRM's ``company_enrichment`` process asks the enrichment service (integration
``enrichment``: base URL and bearer token from ENRICHMENT_API_URL / ENRICHMENT_API_TOKEN)
about a new company with a website and stores the JSON answer in ``extra``.
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
    assert stored.json()["extra"] == {"ok": True}  # the loopback server's JSON answer


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
