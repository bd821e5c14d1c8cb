"""A list's total as people read it: counted ("1,234"), estimated ("about 1.2 million", the
locale's compact number) or bounded ("more than 10,000"), as the API's ``total_kind`` says."""

from __future__ import annotations

from babel.numbers import format_compact_decimal, format_decimal

from crmgen_runtime.formats import babel_locale
from crmgen_runtime.web.site import Translate


def total_text(t: Translate, total: int | None, kind: str | None, locale: str) -> str:
    """``total`` of the kind ``kind`` (``exact``, ``estimate``, ``at_least``; "" when not
    counted) in the words of ``t`` and the numbers of ``locale``."""
    if total is None:
        return ""
    where = babel_locale(locale)
    if kind == "estimate":
        about = format_compact_decimal(total, format_type="long", fraction_digits=1, locale=where)
        return t("list_total_about").format(n=about)
    if kind == "at_least":  # the bounded count found one over the threshold
        return t("list_total_more").format(n=format_decimal(total - 1, locale=where))
    return format_decimal(total, locale=where)
