"""Enum badges: the tone of a value from its spec colour or, without one, from its name."""

from __future__ import annotations

from crmgen_runtime.web import badges

STAGE = {
    "choices": [["lead", "Lead"], ["won", "Won"], ["lost", "Lost"], ["open", "Open"]],
    "colors": {"lead": "#3b82f6", "won": "#22c55e", "lost": "#ef4444"},
}


def test_a_spec_colour_picks_the_tone_nearest_in_hue() -> None:
    assert badges.tone(STAGE, "lead") == 0  # blue
    assert badges.tone(STAGE, "won") == 1  # green
    assert badges.tone(STAGE, "lost") == 5  # red
    assert badges.tone_of_color("#f59e0b") == 2  # amber
    assert badges.tone_of_color("#9333ea") == 3  # purple
    assert badges.tone_of_color("#db2777") == 7  # pink
    assert badges.tone_of_color("#808080") == badges.NEUTRAL  # grey
    assert badges.tone_of_color("#000000") == badges.NEUTRAL


def test_a_value_without_colour_keeps_a_tone_from_its_name() -> None:
    first = badges.tone(STAGE, "open")
    assert first is not None and 0 <= first < badges.TONES
    reordered = {"choices": [["open", "Open"], ["lead", "Lead"]]}
    assert badges.tone(reordered, "open") == first  # order and other values do not matter


def test_only_enum_values_get_a_badge() -> None:
    assert badges.tone({"choices": []}, "x") is None
    assert badges.tone({}, "lead") is None
    assert badges.tone(STAGE, None) is None
    assert badges.tone(STAGE, "unknown") is None
    assert badges.tone(STAGE, ["lead"]) is None


def test_initials_of_names_and_addresses() -> None:
    assert badges.initials("Ada Lovelace") == "AL"
    assert badges.initials("Grace Brewster Murray Hopper") == "GH"
    assert badges.initials("иван петров") == "ИП"
    assert badges.initials("王小明") == "王"
    assert badges.initials("ada.lovelace@example.com") == "AL"
    assert badges.initials("  ") == "?"
    assert badges.name_tone("Ada Lovelace") == badges.name_tone("Ada Lovelace")


def test_only_references_to_users_get_an_avatar() -> None:
    entities = {"users": {"name": "User"}, "contacts": {"name": "Contact"}}
    users = badges.user_path(entities, "User")
    assert users == "users"
    owner = {"target": "users"}
    assert badges.avatar(owner, {"id": 1}, users, "Ada Lovelace") == {
        "initials": "AL",
        "tone": badges.name_tone("Ada Lovelace"),
    }
    assert badges.avatar({"target": "contacts"}, {"id": 1}, users, "Ada") is None
    assert badges.avatar(owner, None, users, "") is None
