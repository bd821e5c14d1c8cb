"""Per-locale text: labels an analyst writes once or in every language the app speaks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    """A text by locale; ``get`` falls back to the default locale, then to any text."""

    values: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, raw: object, fallback: str = "") -> Text:
        if isinstance(raw, dict):
            return cls(tuple((str(k), str(v)) for k, v in raw.items()))
        if isinstance(raw, str):
            return cls((("*", raw),))
        return cls((("*", fallback),)) if fallback else cls(())

    def get(self, locale: str, default_locale: str | None = None) -> str:
        table = dict(self.values)
        for key in (locale, default_locale, "*"):
            if key is not None and key in table:
                return table[key]
        return self.values[0][1] if self.values else ""

    @property
    def locales(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.values if k != "*")

    def __bool__(self) -> bool:
        return bool(self.values)


def humanize(name: str) -> str:
    """``due_date`` -> ``Due date``; ``DealStage`` -> ``Deal stage``."""
    from crmgen.language.names import snake_case

    words = snake_case(name).replace("_", " ").strip()
    return words[:1].upper() + words[1:]
