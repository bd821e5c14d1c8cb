"""``crmgen_runtime.testing``: what the generated apps' suites use to stay offline and fast."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from crmgen_runtime import egress, passwords, testing


def test_offline_and_cheap_hashes_while_it_lasts() -> None:
    before = passwords.hasher
    with testing.offline_and_cheap_hashes():
        assert passwords.hasher is testing.TEST_HASHER
        with pytest.raises(urllib.error.URLError, match="no network calls"):
            urllib.request.urlopen("http://example.com/")
        with pytest.raises(urllib.error.URLError):
            egress.DEFAULT.open(urllib.request.Request("http://example.com/"), 1)
        assert testing.TEST_HASHER.verify(testing.TEST_HASHER.hash("pw"), "pw")
    assert passwords.hasher is before and urllib.request.urlopen is not testing.no_network
