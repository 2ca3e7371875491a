"""Money: Decimal everywhere, printed as plain decimal strings (never floats, never exponents)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, ROUND_UP, Decimal

# USD per 1M tokens needs ten places; costs of single calls twelve.
PRICE_DIGITS = {"max_digits": 20, "decimal_places": 10}
COST_DIGITS = {"max_digits": 24, "decimal_places": 12}
PER_MILLION = Decimal(1_000_000)
COST_QUANTUM = Decimal("1e-12")
ZERO = Decimal(0)
CENT = Decimal("0.01")


def money_str(value: Decimal | None) -> str | None:
    """A Decimal as a plain string without exponent or trailing zeros ("0.0015", "30", never "3E+1")."""
    if value is None:
        return None
    value = Decimal(value).normalize()
    text = format(value, "f")
    return "0" if text in ("-0", "") else text


def to_decimal(value) -> Decimal:
    """A database value as a Decimal quantized to the cost column (SQLite hands back floats)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value or 0)).quantize(COST_QUANTUM)


def dollars(amount: Decimal, rounding: str = ROUND_HALF_UP) -> str:
    """$1,234.57: an amount in cents, for sentences (denials, alerts)."""
    return f"${amount.quantize(CENT, rounding=rounding):,.2f}"


def dollars_over(amount: Decimal) -> str:
    """An overrun in cents, rounded up so it never reads $0.00."""
    return dollars(amount, ROUND_UP)
