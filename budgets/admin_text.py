"""Budget figures in words for the admin: local window times and money the one way (no ISO, no raw decimals)."""

from __future__ import annotations

from typing import Any

from budgets.models import Budget
from budgets.windows import zone
from core.money import dollars


def _when(moment, tz_name: str) -> str:
    local = moment.astimezone(zone(tz_name))
    return f"{local:%a %b} {local.day}, {local:%Y %H:%M}"


def window_text(budget: Budget, figures: dict[str, Any]) -> str:
    """"Sun Mar 1, 2026 00:00 to Wed Apr 1, 2026 00:00 (Europe/Paris)", or "Lifetime (no reset)"."""
    if figures["window_end"] is None:
        return "Lifetime (no reset)"
    tz_name = budget.tz_name
    return f"{_when(figures['window_start'], tz_name)} to {_when(figures['window_end'], tz_name)} ({tz_name})"


def spend_text(figures: dict[str, Any]) -> str:
    """"Spent $12.50 of $100.00 and 1,200 of 50,000 tokens; $0.0150 and 300 tokens held; 12.50%, ok"."""
    parts = []
    if figures["limit_usd"] is not None:
        parts.append(f"{dollars(figures['spent_usd'])} of {dollars(figures['limit_usd'])}")
    if figures["limit_tokens"] is not None:
        parts.append(f"{figures['spent_tokens']:,} of {figures['limit_tokens']:,} tokens")
    held = f"; {dollars(figures['reserved_usd'])} and {figures['reserved_tokens']:,} tokens held"
    return f"Spent {' and '.join(parts)}{held}; {figures['percent_used']}%, {figures['status']}."
