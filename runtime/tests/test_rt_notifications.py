"""The parts of notifications and comments that need no app: mentions in a text, the checks of
preferences (the HTTP behaviour is tested on the reference CRM: tests/security/access_control/
test_notifications.py)."""

from __future__ import annotations

import dataclasses

import pytest
import rt_crm
import sqlalchemy as sa
from crmgen_runtime import comments, notifications, tables
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


def test_telling_reading_and_choosing_over_a_database(crm_web: rt_crm.Crm) -> None:
    """``notify`` as each user chose, the page and the count, marking read (one's own only) and
    the preferences, on SQLite and PostgreSQL."""
    catalog, database = crm_web.catalog, crm_web.database
    ann, bob = crm_web.ann.id, crm_web.bob.id
    assert (
        notifications.set_preferences(database, catalog, bob, {"mention": "off"})["mention"]
        == "off"
    )
    assert (
        notifications.set_preferences(database, catalog, bob, {"mention": "digest"})["mention"]
        == "digest"
    )
    notifications.set_preferences(database, catalog, bob, {"process": "off"})
    with database.session() as session:
        told = notifications.notify(
            session, catalog, users=[ann, bob, None, True], kind="process", message="Call back"
        )
        assert told == [ann]  # bob turned processes off; None and True are no users
        notifications.notify(
            session,
            catalog,
            users=[ann, bob],
            kind="mention",
            message="x" * 5000,
            entity="Deal",
            record_id=1,
            actor_id=bob,
        )
        assert notifications.notify(session, catalog, users=[], kind="mention", message="-") == []
        with pytest.raises(ValueError):
            notifications.notify(session, catalog, users=[ann], kind="gossip", message="-")
    assert notifications.unread_count(database, catalog, ann) == 2
    first = notifications.page(database, catalog, ann, unread=True, limit=1, offset=0)
    assert first["total"] == 2 and len(first["items"]) == 1
    newest = first["items"][0]
    assert newest["kind"] == "mention" and len(newest["message"]) <= notifications.MESSAGE_LENGTH
    assert notifications.record_url(catalog, "Deal", 1) == "/deals/1"
    assert notifications.record_url(catalog, "Nothing", 1) is None
    with pytest.raises(ApiError):  # not bob's
        notifications.mark_read(database, catalog, bob, newest["id"])
    assert notifications.mark_read(database, catalog, ann, newest["id"]) == 1
    assert notifications.unread_count(database, catalog, ann) == 1
    assert notifications.mark_read(database, catalog, ann, None) == 1  # all the rest
    assert notifications.page(database, catalog, ann, unread=True, limit=10, offset=0)["total"] == 0
    assert notifications.preferences(database, catalog, ann) == {
        kind: notifications.DEFAULT_CHANNEL for kind in notifications.KINDS
    }


def test_the_digest_goes_out_once_in_the_users_language(
    crm_web: rt_crm.Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = dataclasses.replace(crm_web.catalog.config, locales=("en", "ru"))
    monkeypatch.setattr(crm_web.catalog, "config", config)
    catalog, database = crm_web.catalog, crm_web.database
    ann = crm_web.ann.id
    with database.session() as session:
        session.execute(sa.update(rt_crm.User).where(rt_crm.User.id == ann).values(locale="ru"))
    notifications.set_preferences(database, catalog, ann, {"mention": "digest"})
    with database.session() as session:
        notifications.notify(
            session,
            catalog,
            users=[ann],
            kind="mention",
            message="Look",
            entity="Deal",
            record_id=1,
        )
    assert notifications.send_digests(database, catalog) == 1
    assert notifications.send_digests(database, catalog) == 0  # nothing new since
    outbox = catalog.table(tables.OutboxMessageTable)
    with database.session() as session:
        payloads = session.scalars(sa.select(outbox.payload)).all()
    assert len(payloads) == 1
    ru = notifications.words("ru")
    assert payloads[0]["subject"] == ru["digest_subject"].format(
        title=catalog.config.plain_title, count=1
    )
