"""Demo numbers: amounts in a plausible range for their currency, counts, percentages.

A field's range comes from its name (a ``price`` is smaller than an ``amount``, an
``annual_revenue`` larger), scaled for the currency (figures in US dollars, times roughly how
many units of the currency a dollar buys: 100 roubles, 7 yuan), then narrowed to the field's
own ``min``/``max`` and to what its precision holds. Values are drawn log-uniformly (small
deals are more common than large ones) and rounded to a few significant digits, so amounts
look typed by a person (47,000.00, 1,490.00), never 0.37 roubles.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal

# Units of a currency per US dollar, to one significant digit (an order of magnitude is enough).
PER_DOLLAR = {
    "USD": 1, "EUR": 1, "GBP": 1, "CHF": 1, "CAD": 1, "AUD": 1, "NZD": 1, "SGD": 1,
    "RUB": 100, "CNY": 7, "BAM": 2, "IDR": 15000, "JPY": 150, "INR": 80, "KZT": 500,
    "UAH": 40, "TRY": 30, "PLN": 4, "CZK": 20, "SEK": 10, "NOK": 10, "DKK": 7, "BRL": 5,
    "MXN": 20, "KRW": 1300, "HUF": 400, "RSD": 100, "BYN": 3, "THB": 35, "VND": 25000,
    "PHP": 55, "MYR": 5, "ZAR": 20, "AED": 4, "SAR": 4, "ILS": 4, "EGP": 50, "NGN": 1500,
}  # fmt: skip
# Ranges in US dollars of money fields, by a word of the field's name; AMOUNT otherwise.
MONEY = {
    "price": (5, 2_000),
    "cost": (5, 2_000),
    "rate": (5, 500),
    "fee": (5, 500),
    "tariff": (5, 500),
    "salary": (1_500, 12_000),
    "wage": (1_500, 12_000),
    "revenue": (100_000, 50_000_000),
    "turnover": (100_000, 50_000_000),
    "capital": (100_000, 50_000_000),
    "budget": (1_000, 200_000),
}
AMOUNT = (100, 50_000)
# Ranges of whole numbers and plain decimals, by a word of the field's name.
COUNTS = {
    "quantity": (1, 20),
    "qty": (1, 20),
    "count": (1, 20),
    "pieces": (1, 20),
    "employees": (5, 5_000),
    "staff": (5, 5_000),
    "headcount": (5, 5_000),
    "age": (20, 65),
    "discount": (0, 25),
    "percent": (0, 30),
    "percentage": (0, 30),
    "probability": (5, 95),
    "rating": (1, 5),
    "score": (1, 5),
    "stars": (1, 5),
    "priority": (1, 5),
    "weight": (1, 100),
    "latitude": (-60, 70),
    "lat": (-60, 70),
    "longitude": (-180, 180),
    "lon": (-180, 180),
    "lng": (-180, 180),
}
NUMBER = (1, 1_000)
BIG_NUMBER = (1_000_000, 10_000_000_000)
SIGNIFICANT = 2  # digits an amount keeps (47,000, 1,500)


def _words(name: str) -> list[str]:
    return [w for w in name.lower().split("_") if w]


def span(name: str, kind: str, currency: str) -> tuple[float, float]:
    """The plausible range of a number field named ``name`` of type ``kind``."""
    for word in reversed(_words(name)):
        if kind in ("money", "decimal") and word in MONEY:
            low, high = MONEY[word]
            break
        if word in COUNTS:
            return COUNTS[word]
    else:
        if kind == "money":
            low, high = AMOUNT
        else:
            return BIG_NUMBER if kind == "bigint" else NUMBER
    rate = PER_DOLLAR.get(currency.upper(), 1)
    return low * rate, high * rate


def _bounds(
    wanted: tuple[float, float], low: float | None, high: float | None, limit: float | None
) -> tuple[float, float]:
    """``wanted`` narrowed to ``[low, high]`` (and ``±limit``); the field's range when the two
    do not meet."""
    floor = max(x for x in (low, -limit if limit else None, -1e18) if x is not None)
    ceiling = min(x for x in (high, limit, 1e18) if x is not None)
    a, b = max(wanted[0], floor), min(wanted[1], ceiling)
    return (a, b) if a <= b else (floor, min(ceiling, floor + max(wanted[1] - wanted[0], 1)))


def _pick(rng: random.Random, low: float, high: float) -> float:
    """Log-uniform in [low, high] when both are positive, uniform otherwise."""
    if low > 0 and high / low > 10:
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    return rng.uniform(low, high)


def _round(x: float, low: float, high: float) -> float:
    """``x`` to SIGNIFICANT digits, when that stays within [low, high]."""
    if x == 0:
        return x
    digits = SIGNIFICANT - 1 - math.floor(math.log10(abs(x)))
    rounded = round(x, digits)
    return rounded if low <= rounded <= high else x


def number(
    name: str,
    kind: str,
    rng: random.Random,
    currency: str = "USD",
    low: float | None = None,
    high: float | None = None,
    scale: int | None = None,
    precision: int | None = None,
) -> int | float | Decimal:
    """A plausible value of a number field (``kind``: integer, bigint, float, decimal, money)."""
    exact = kind in ("decimal", "money")
    places = (2 if scale is None else scale) if exact else 0
    limit = None
    if exact and precision is not None:
        limit = float(Decimal(10) ** (precision - places) - Decimal(1).scaleb(-places))
    a, b = _bounds(span(name, kind, currency), low, high, limit)
    x = _round(_pick(rng, a, b), a, b)
    if kind in ("integer", "bigint"):
        whole = min(max(round(x), math.ceil(a)), math.floor(b))
        return int(whole)
    if kind == "float":
        return round(x, 2) if a <= round(x, 2) <= b else x
    step = Decimal(1).scaleb(-places)
    value = Decimal(str(x)).quantize(step, "ROUND_HALF_UP")
    lowest, highest = Decimal(str(a)).quantize(step, "ROUND_UP"), Decimal(str(b))
    return min(max(value, lowest), highest.quantize(step, "ROUND_DOWN"))
