"""Money and token formatting shared by the live page's first paint and static/js/live.js."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()

SMALLEST = Decimal("0.0001")


@register.filter
def usd(value) -> str:
    """$1,234.57 from a dollar up; $0.0025 below; <$0.0001 for dust; same rule as live.js."""
    if value is None or value == "":
        return "–"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return "–"
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount == 0:
        return "$0.00"
    if amount < SMALLEST:
        return f"{sign}<$0.0001"
    places = Decimal("0.01") if amount >= 1 else SMALLEST
    return f"{sign}${amount.quantize(places, rounding=ROUND_HALF_UP):,}"


@register.filter
def percent(value) -> str:
    if value is None or value == "":
        return "–"
    return f"{Decimal(str(value)).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"
