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


SUB_DOLLAR = Decimal("0.0001")
SMALLEST_SHOWN = SUB_DOLLAR


def dollars(amount: Decimal | None, rounding: str = ROUND_HALF_UP) -> str:
    """The one way money is shown to people (pages, admin, alerts, denials; docs/analytics.md, "Money").

    $1,234.57 from one dollar up (cents); $0.8527 under one dollar (four decimals,
    so a cheap call does not read $0.00); "<$0.0001" for a non-zero amount smaller
    than that; $0.00 for zero; "–" for no amount. JSON keeps exact decimal strings.
    """
    if amount is None or amount == "":
        return "–"
    amount = Decimal(amount)
    sign = "-" if amount < 0 else ""
    size = abs(amount)
    if size == 0:
        return "$0.00"
    if size >= 1:
        return f"{sign}${size.quantize(CENT, rounding=rounding):,.2f}"
    shown = size.quantize(SUB_DOLLAR, rounding=rounding)
    if shown == 0:
        return f"{sign}<${SMALLEST_SHOWN}"
    if shown >= 1:
        return f"{sign}$1.00"
    return f"{sign}${shown:.4f}"


def dollars_over(amount: Decimal) -> str:
    """An overrun, rounded up so it never reads $0.00."""
    return dollars(amount, ROUND_UP)


def price_str(value: Decimal | None) -> str:
    """A price per 1M tokens: exact (a price is never rounded), at least cents: $30.00, $0.075, $2.50."""
    if value is None:
        return "–"
    text = money_str(value)
    whole, _, fraction = text.partition(".")
    return f"${int(whole):,}.{fraction.ljust(2, '0')}" if not whole.startswith("-") else f"-{price_str(-value)}"
