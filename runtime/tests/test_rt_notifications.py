"""The parts of notifications and comments that need no app: mentions in a text, the checks of
preferences (the HTTP behaviour is tested on the reference CRM: tests/security/access_control/
test_notifications.py)."""

from __future__ import annotations

import pytest
from crmgen_runtime import comments, notifications
from crmgen_runtime.errors import ApiError


@pytest.mark.parametrize(
    "text,emails",
    [
        ("hi @Anna@Example.com.", ["anna@example.com"]),
        ("@a@x.io and @b@y.co.uk, @a@x.io again", ["a@x.io", "b@y.co.uk"]),
        ("mail anna@example.com, not a mention", []),
        ("(@c.d+e@mail.example)", ["c.d+e@mail.example"]),
        ("@nobody and @ alone", []),
    ],
)
def test_mentions_are_the_addresses_after_an_at(text: str, emails: list[str]) -> None:
    assert comments.mentioned_emails(text) == emails


def test_preferences_take_known_kinds_and_channels_only() -> None:
    assert notifications.check_preferences({"mention": "off", "process": "digest"}) == {
        "mention": "off",
        "process": "digest",
    }
    with pytest.raises(ApiError) as caught:
        notifications.check_preferences({"mention": "loud", "spam": "app"})
    assert caught.value.status == 422 and set(caught.value.fields) == {"mention", "spam"}
    with pytest.raises(ApiError):
        notifications.check_preferences(["app"])


def test_every_kind_has_its_words_in_every_language() -> None:
    for locale in ("en", "ru", "id", "bs", "zh"):
        words = notifications.words(locale)
        for kind in notifications.KINDS:
            assert words[f"notification_{kind}"].format(actor="X")
        assert "{count}" in words["digest_subject"]
