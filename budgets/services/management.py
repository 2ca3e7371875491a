"""Budget administration: create, change (audited), raise, switch, reset a window, allocate."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from budgets.allocation import AllocationError, allocate
from budgets.models import Budget, BudgetChange, BudgetWindow
from budgets.services.locking import windows_lock
from budgets.windows import valid_timezone, window_bounds
from core.errors import InvalidInput
from core.money import COST_QUANTUM, ZERO
from tokens.models import UsageRecord, UsageTag

EDITABLE = ("name", "limit_tokens", "limit_usd", "enforcement", "thresholds", "timezone", "strict", "is_active",
            "webhook_url", "webhook_secret", "period", "priority")
NO_LIMIT = "Set limit_tokens, limit_usd or both."
AUDITED = ("limit_tokens", "limit_usd", "enforcement", "period", "thresholds", "timezone", "is_active", "strict")


def _audit_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def budget_errors(*, values: dict[str, Any], creating: bool = False) -> dict[str, list[str]]:
    """Every reason the services refuse these values, per field, without raising.

    The admin forms show these as field errors; ``budget_validate`` raises them
    for the API. ``creating`` adds the rules of a new budget: which of
    user/agent/run_id its scope needs, and at least one limit.
    """
    errors: dict[str, list[str]] = {}
    tz = values.get("timezone")
    if tz and not valid_timezone(tz):
        errors["timezone"] = [f"Unknown timezone {tz!r}."]
    thresholds = values.get("thresholds")
    if thresholds is not None and (
        not isinstance(thresholds, list)
        or any(isinstance(t, bool) or not isinstance(t, int | float) or t <= 0 for t in thresholds)
    ):
        errors["thresholds"] = ["A list of positive percentages."]
    for name in ("limit_tokens", "limit_usd"):
        if values.get(name) is not None and values[name] < 0:
            errors[name] = ["Must be zero or more."]
    if not creating:
        return errors
    scope = values.get("scope", Budget.SCOPE_USER)
    if scope in (Budget.SCOPE_GLOBAL, *Budget.ORG_SCOPES) and values.get("user") is not None:
        errors["user"] = [f"A {scope} budget has no user."]
    if scope in Budget.USER_SCOPES and values.get("user") is None:
        errors["user"] = ["Required for this scope."]
    needs = {Budget.SCOPE_ORGANIZATION: "organization", Budget.SCOPE_PROJECT: "project",
             Budget.SCOPE_KEY: "api_key", Budget.SCOPE_TAG: "organization"}.get(scope)
    if needs and values.get(needs) is None:
        errors[needs] = [f"Required for scope {scope}."]
    if scope == Budget.SCOPE_TAG and not values.get("tag"):
        errors["tag"] = ["Required for scope tag."]
    if scope == Budget.SCOPE_USER_AGENT and not values.get("agent"):
        errors["agent"] = ["Required for scope user_agent."]
    if scope == Budget.SCOPE_RUN and not values.get("run_id"):
        errors["run_id"] = ["Required for scope run."]
    if values.get("limit_tokens") is None and values.get("limit_usd") is None:
        errors.setdefault("limit_tokens", [NO_LIMIT])
    return errors


def budget_validate(*, values: dict[str, Any], creating: bool = False) -> None:
    errors = budget_errors(values=values, creating=creating)
    if errors:
        raise InvalidInput("Invalid budget: " + ", ".join(errors) + ".", fields=errors)


def budget_create(*, by, **values: Any) -> Budget:
    """Create a budget; scope decides which of user/agent/run_id are required."""
    budget_validate(values=values, creating=True)
    scope = values.get("scope", Budget.SCOPE_USER)
    if scope != Budget.SCOPE_USER_AGENT:
        values["agent"] = ""
    if scope != Budget.SCOPE_RUN:
        values["run_id"] = ""
    if scope != Budget.SCOPE_TAG:
        values["tag"] = ""
    # Organization, project and key budgets know their organization (visibility, and the org's tag budgets).
    if scope == Budget.SCOPE_PROJECT:
        values["organization"] = values["project"].organization
    elif scope == Budget.SCOPE_KEY:
        project = values["api_key"].project
        values["organization"] = project.organization if project is not None else None
    if scope not in (Budget.SCOPE_PROJECT,):
        values["project"] = None
    if scope != Budget.SCOPE_KEY:
        values["api_key"] = None
    if scope in (Budget.SCOPE_GLOBAL, *Budget.USER_SCOPES):
        values["organization"] = None
    with transaction.atomic():
        budget = Budget.objects.create(**values)
        _current_window_backfill(budget=budget)
        BudgetChange.objects.create(
            budget=budget, changed_by=by, field="created",
            new_value=f"tokens={_audit_value(budget.limit_tokens)} usd={_audit_value(budget.limit_usd)} "
                      f"{budget.enforcement}",
        )
    return budget


def _current_window_backfill(*, budget: Budget) -> None:
    """Count what the ledger already holds for the current window.

    A budget set mid-month must see the month's spend so far, as LiteLLM's
    and Helicone's users expect; later records are charged by the usage
    receiver as they arrive.
    """
    start, end = window_bounds(budget.period, budget.tz_name, timezone.now())
    records = UsageRecord.objects.filter(occurred_at__gte=start)
    if end is not None:
        records = records.filter(occurred_at__lt=end)
    if budget.scope in Budget.USER_SCOPES:
        records = records.filter(user_id=budget.user_id)
    elif budget.scope == Budget.SCOPE_ORGANIZATION:
        records = records.filter(organization_id=budget.organization_id)
    elif budget.scope == Budget.SCOPE_PROJECT:
        records = records.filter(project_id=budget.project_id)
    elif budget.scope == Budget.SCOPE_KEY:
        records = records.filter(api_key_id=budget.api_key_id)
    elif budget.scope == Budget.SCOPE_TAG:
        records = records.filter(pk__in=UsageTag.objects.filter(
            organization_id=budget.organization_id, tag=budget.tag, occurred_at__gte=start,
            **({"occurred_at__lt": end} if end is not None else {})).values("record_id"))
    if budget.scope == Budget.SCOPE_USER_AGENT:
        records = records.filter(agent=budget.agent)
    elif budget.scope == Budget.SCOPE_RUN:
        records = records.filter(run_id=budget.run_id)
    totals = records.aggregate(tokens=Sum("total_tokens"), usd=Sum("cost_usd"))
    BudgetWindow.objects.create(
        budget=budget, window_start=start, spent_tokens=totals["tokens"] or 0, spent_usd=totals["usd"] or ZERO,
    )


def budget_update(*, budget: Budget, by, note: str = "", **changes: Any) -> Budget:
    """Change a budget; every change of a limit, enforcement or window setting is audited."""
    budget_validate(values=changes)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidInput("These fields cannot be changed: " + ", ".join(sorted(unknown)) + ".",
                       fields={k: ["Not editable."] for k in unknown})
    limit_tokens = changes.get("limit_tokens", budget.limit_tokens)
    limit_usd = changes.get("limit_usd", budget.limit_usd)
    if limit_tokens is None and limit_usd is None:
        raise InvalidInput("A budget needs limit_tokens, limit_usd or both.",
                       fields={"limit_tokens": [NO_LIMIT]})
    with transaction.atomic():
        locked = Budget.objects.select_for_update().get(pk=budget.pk)
        audits = []
        for name, new in changes.items():
            old = getattr(locked, name)
            if old == new:
                continue
            setattr(locked, name, new)
            if name in AUDITED:
                audits.append(BudgetChange(budget=locked, changed_by=by, field=name, old_value=_audit_value(old),
                                           new_value=_audit_value(new), note=note[:300]))
        locked.save()
        BudgetChange.objects.bulk_create(audits)
    return locked


def budget_limit_raise(*, budget: Budget, by, percent: Decimal) -> Budget:
    """Raise every limit of the budget by ``percent`` (tokens round down)."""
    factor = 1 + Decimal(percent) / 100
    changes: dict[str, Any] = {}
    if budget.limit_tokens is not None:
        changes["limit_tokens"] = int(budget.limit_tokens * factor)
    if budget.limit_usd is not None:
        changes["limit_usd"] = (budget.limit_usd * factor).quantize(COST_QUANTUM)
    return budget_update(budget=budget, by=by, note=f"raised by {percent}%", **changes)


def budget_enforcement_toggle(*, budget: Budget, by) -> Budget:
    new = Budget.SOFT if budget.enforcement == Budget.HARD else Budget.HARD
    return budget_update(budget=budget, by=by, enforcement=new)


def budget_window_reset(*, budget: Budget, by, now: datetime | None = None) -> BudgetWindow:
    """Zero the committed spend of the current window (the ledger keeps every record). Audited."""
    now = now or timezone.now()
    start, _ = window_bounds(budget.period, budget.tz_name, now)
    with transaction.atomic():
        window = windows_lock({(budget.pk, start)})[(budget.pk, start)]
        BudgetChange.objects.create(
            budget=budget, changed_by=by, field="window_reset",
            old_value=f"tokens={window.spent_tokens} usd={_audit_value(window.spent_usd)}",
            new_value="tokens=0 usd=0", note=f"window from {start.isoformat()}",
        )
        BudgetWindow.objects.filter(pk=window.pk).update(spent_tokens=0, spent_usd=ZERO)
    window.refresh_from_db()
    return window


def budgets_allocate(
    *, parent: Budget, by, total: int, priorities: dict[str, int], minimum: int
) -> list[Budget]:
    """Create or update one per-agent budget under a user budget per agent, splitting ``total``."""
    if parent.scope != Budget.SCOPE_USER:
        raise InvalidInput("Allocate from a user budget.", fields={"parent": ["Must be a user budget."]})
    try:
        shares = allocate(total=total, priorities=priorities, minimum=minimum)
    except AllocationError as exc:
        raise InvalidInput(str(exc), code="allocation_invalid", fields={"total": [str(exc)]}) from exc
    out = []
    with transaction.atomic():
        existing = {b.agent: b for b in parent.agent_budgets.filter(scope=Budget.SCOPE_USER_AGENT)}
        for agent, tokens in shares.items():
            child = existing.get(agent)
            if child is None:
                child = budget_create(
                    by=by, scope=Budget.SCOPE_USER_AGENT, user=parent.user, agent=agent, parent=parent,
                    period=parent.period, limit_tokens=tokens, enforcement=parent.enforcement,
                    thresholds=list(parent.thresholds), timezone=parent.timezone, priority=priorities[agent],
                )
            else:
                child = budget_update(budget=child, by=by, note=f"allocated from budget {parent.pk}",
                                      limit_tokens=tokens, priority=priorities[agent])
            out.append(child)
    return out
