"""What the generated apps' own test suites share with every app: no outgoing requests, and
password hashes cheap enough to make many users (the same code paths as in production)."""

from __future__ import annotations

import contextlib
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from unittest import mock

from argon2 import PasswordHasher

from crmgen_runtime import egress, passwords

# argon2id at its lowest cost (1 pass, 8 KiB): a fraction of a millisecond per hash.
TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def no_network(*args: Any, **kwargs: Any) -> Any:
    """``urllib.request.urlopen`` and the app's outgoing requests (``egress.Egress.open``) in
    tests: the call fails as if the network were down."""
    raise urllib.error.URLError("the tests make no network calls")


@contextlib.contextmanager
def offline_and_cheap_hashes() -> Iterator[None]:
    """While it lasts: no outgoing HTTP (``no_network``) and ``TEST_HASHER`` for passwords."""
    with (
        mock.patch.object(urllib.request, "urlopen", no_network),
        mock.patch.object(egress.Egress, "open", no_network),
        mock.patch.object(passwords, "hasher", TEST_HASHER),
    ):
        yield
