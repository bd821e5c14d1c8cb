"""The UI's own words: every key of every messages/*.json in all five locales, real text,
the same {parameters} in each translation, and no key defined by two files."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from crmgen_runtime import assets

MESSAGES = assets.WEB / "messages"
LOCALES = {"en", "ru", "id", "bs", "zh"}
FILES = sorted(MESSAGES.glob("*.json"))


def _parameters(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_key_has_every_locale(path: Path) -> None:
    words = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(words, dict) and words
    for key, texts in words.items():
        assert set(texts) == LOCALES, f"{path.name}: {key} has {sorted(texts)}"
        for locale, text in texts.items():
            assert isinstance(text, str) and text.strip(), f"{path.name}: {key}.{locale} is empty"
        wanted = _parameters(texts["en"])
        for locale, text in texts.items():
            assert _parameters(text) == wanted, f"{path.name}: {key}.{locale} parameters"


def test_translations_are_not_english_copies() -> None:
    same = []
    for path in FILES:
        for key, texts in json.loads(path.read_text(encoding="utf-8")).items():
            if texts["ru"] == texts["en"] or texts["zh"] == texts["en"]:
                same.append(f"{path.name}: {key}")
    assert not same, same


def test_no_key_is_defined_twice() -> None:
    owner: dict[str, str] = {}
    twice = []
    for path in FILES:
        for key in json.loads(path.read_text(encoding="utf-8")):
            if key in owner:
                twice.append(f"{key}: {owner[key]} and {path.name}")
            owner[key] = path.name
    assert not twice, twice
