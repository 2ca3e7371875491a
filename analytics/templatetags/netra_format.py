"""Number formatting for the dashboard and reports pages."""

from decimal import Decimal

from django import template

from core.money import dollars

register = template.Library()


@register.filter
def usd(value) -> str:
    """Money the one way (core.money.dollars): $1,234.56, $0.8527, <$0.0001, $0.00."""
    return dollars(value)


@register.filter
def compact(value) -> str:
    """1.2K, 3.4M, 5.6B for token counts."""
    if value is None:
        return "–"
    number = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(number) >= limit:
            return f"{number / limit:.1f}{suffix}"
    return f"{int(number):,}"


@register.filter
def pct(value, places: int = 1) -> str:
    """A ratio (0..1) as a percentage."""
    if value is None:
        return "–"
    return f"{Decimal(value) * 100:.{int(places)}f}%"


@register.filter
def gauge_class(percent) -> str:
    if percent is None:
        return ""
    value = Decimal(percent)
    return "bad" if value >= 90 else "warn" if value >= 75 else ""


@register.filter
def clamp100(percent) -> str:
    if percent is None:
        return "0"
    return str(min(max(Decimal(percent), Decimal(0)), Decimal(100)).quantize(Decimal("0.1")))


@register.filter
def getitem(mapping, key):
    """``row|getitem:"user__username"``: a dict value by a key held in a variable."""
    return mapping.get(key)
