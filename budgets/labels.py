"""Human labels for budgets, shared by the dashboard, the live page, denials and alerts (no queries, no models)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SCOPE_WORDS = {
    "user": "user", "user_agent": "user and agent", "run": "run", "organization": "organization",
    "project": "project", "key": "API key", "tag": "tag", "global": "global",
}


def budget_label(budget: Mapping[str, Any]) -> str:
    """What a budget limits, in words: its name if it has one, else "All your usage", "Agent data",
    "Run nightly-7", "Organization Acme", "Project acme/web", "Key ntk_ab12… (ci)", "Tag marketing",
    "Everyone (global)"."""
    if budget.get("name"):
        return str(budget["name"])
    scope = budget.get("scope")
    if scope == "user_agent":
        return f"Agent {budget.get('agent')}"
    if scope == "run":
        return f"Run {budget.get('run_id')}"
    if scope == "global":
        return "Everyone (global)"
    if scope == "organization":
        return f"Organization {budget.get('organization') or ''}".strip()
    if scope == "project":
        return f"Project {budget.get('project') or ''}".strip()
    if scope == "key":
        return f"Key {budget.get('api_key') or ''}".strip()
    if scope == "tag":
        return f"Tag {budget.get('tag')}"
    return "All your usage"


def scope_words(scope: str) -> str:
    return SCOPE_WORDS.get(scope, scope)
