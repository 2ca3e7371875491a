"""Money and token formatting shared by the live page's first paint and static/js/live.js."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

from core.money import dollars

register = template.Library()


@register.filter
def usd(value) -> str:
    """Money the one way (core.money.dollars; live.js follows the same rule): $1,234.57, $0.0025, <$0.0001."""
    if value is None or value == "":
        return "–"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return "–"
    return dollars(amount)


@register.filter
def percent(value) -> str:
    if value is None or value == "":
        return "–"
    return f"{Decimal(str(value)).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"
