"""``crmgen_runtime.passwords``: the rules of a new password, argon2id hashes, and one
verification's work whatever is stored."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from argon2 import PasswordHasher
from crmgen_runtime import passwords


class Counting:
    """A hasher that counts its ``verify`` calls (everything else is ``inner``'s)."""

    def __init__(self, inner: PasswordHasher) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.checked: list[str] = []  # the hashes verified against

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def verify(self, stored: str, password: str) -> bool:
        self.calls["verify"] += 1
        self.checked.append(stored)
        return self.inner.verify(stored, password)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        (None, "A password is required."),
        ("", "A password is required."),
        (12345678, "A password is required."),
        ("short", "The password must have at least 8 characters."),
        ("x" * 1025, "The password must have at most 1024 characters."),
        ("x" * 8, None),
        ("x" * 1024, None),
    ],
)
def test_password_rules(password: object, problem: str | None) -> None:
    assert passwords.password_problem(password) == problem


def test_a_hash_is_argon2id_and_verifies_only_its_password(cheap_hashes: PasswordHasher) -> None:
    stored = passwords.hash_password("correct horse")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert passwords.verify_password(stored, "correct horse")
    assert not passwords.verify_password(stored, "wrong horse")
    assert not passwords.needs_rehash(stored)


def test_a_hash_of_other_parameters_needs_a_rehash(cheap_hashes: PasswordHasher) -> None:
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1).hash("pw")
    assert passwords.needs_rehash(stronger)


@pytest.mark.parametrize("stored", [None, ""])
def test_nothing_to_check_against_costs_one_verification_and_fails(
    stored: str | None, monkeypatch: pytest.MonkeyPatch, cheap_hashes: PasswordHasher
) -> None:
    counting = Counting(cheap_hashes)
    monkeypatch.setattr(passwords, "hasher", counting)
    assert not passwords.verify_password(stored, "any password")
    assert counting.calls["verify"] == 1


@pytest.mark.parametrize("stored", ["not a hash", "$2b$12$abcdefghijklmnopqrstuv"])
def test_an_unreadable_hash_is_checked_against_the_dummy_and_fails(
    stored: str, monkeypatch: pytest.MonkeyPatch, cheap_hashes: PasswordHasher
) -> None:
    counting = Counting(cheap_hashes)
    monkeypatch.setattr(passwords, "hasher", counting)
    assert not passwords.verify_password(stored, "any password")
    assert counting.checked == [stored, counting.checked[-1]]  # refused unread, then the dummy
    assert counting.checked[-1].startswith("$argon2id$")


def test_the_dummy_hash_has_the_hashers_format_and_cost(
    monkeypatch: pytest.MonkeyPatch, cheap_hashes: PasswordHasher
) -> None:
    counting = Counting(cheap_hashes)
    monkeypatch.setattr(passwords, "hasher", counting)
    passwords.verify_password(None, "one")
    passwords.verify_password("", "two")
    first, second = counting.checked
    assert first.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert first == second  # made once per hasher, never computed
