"""Human labels for budgets, shared by the dashboard and the live page (no queries, no Django models)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def budget_label(budget: Mapping[str, Any]) -> str:
    """What a budget limits, in words: "All your usage", "Agent data", "Run nightly-7", "Everyone (global)"."""
    scope = budget.get("scope")
    if scope == "user_agent":
        return f"Agent {budget.get('agent')}"
    if scope == "run":
        return f"Run {budget.get('run_id')}"
    if scope == "global":
        return "Everyone (global)"
    return "All your usage"
