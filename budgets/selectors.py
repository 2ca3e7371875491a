"""Reads: which budgets apply, their live figures, and the output estimate for a check."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import F, Q, Sum
from django.utils import timezone

from budgets.labels import budget_label
from budgets.models import Budget, BudgetWindow, Reservation, ReservationHold
from budgets.windows import window_bounds
from core.money import ZERO
from organizations.models import Membership
from tokens.models import UsageRecord

# What a budget's label reads besides its own columns.
LABEL_RELATED = ("organization", "project__organization", "api_key")
HUNDRED = Decimal(100)
PERCENT_QUANTUM = Decimal("0.01")
WARNING_PERCENT = Decimal(80)
# What budget_status answers: under WARNING_PERCENT, from it, and at or past the limit.
BUDGET_STATUSES = ("ok", "warning", "exceeded")
# Output estimate: p95 of the completion tokens of the last calls of that agent and model.
ESTIMATE_SAMPLE = 200
ESTIMATE_LOOKBACK = timedelta(days=7)
DEFAULT_OUTPUT_TOKENS = 1024


def budget_applies(budget: Budget, *, user_id: int, agent: str, run_id: str, organization_id: int | None = None,
                   project_id: int | None = None, api_key_id: int | None = None, tags=()) -> bool:
    """Whether a call (or a record) with these attributes counts against ``budget``."""
    if budget.scope == Budget.SCOPE_GLOBAL:
        return True
    if budget.scope == Budget.SCOPE_ORGANIZATION:
        return organization_id is not None and budget.organization_id == organization_id
    if budget.scope == Budget.SCOPE_PROJECT:
        return project_id is not None and budget.project_id == project_id
    if budget.scope == Budget.SCOPE_KEY:
        return api_key_id is not None and budget.api_key_id == api_key_id
    if budget.scope == Budget.SCOPE_TAG:
        return organization_id is not None and budget.organization_id == organization_id and budget.tag in tags
    if budget.user_id != user_id:
        return False
    if budget.scope == Budget.SCOPE_USER:
        return True
    if budget.scope == Budget.SCOPE_USER_AGENT:
        return budget.agent == agent
    if budget.scope == Budget.SCOPE_RUN:
        return bool(run_id) and budget.run_id == run_id
    return False


def record_applies(budget: Budget, record: Any) -> bool:
    """``budget_applies`` for a usage record (or anything with its attribution attributes)."""
    return budget_applies(
        budget, user_id=record.user_id, agent=record.agent, run_id=record.run_id,
        organization_id=getattr(record, "organization_id", None), project_id=getattr(record, "project_id", None),
        api_key_id=getattr(record, "api_key_id", None), tags=getattr(record, "tags", None) or (),
    )


def budgets_active_for_users(*, user_ids: Iterable[int], organization_ids: Iterable[int | None] = (),
                             project_ids: Iterable[int | None] = (),
                             api_key_ids: Iterable[int | None] = ()) -> list[Budget]:
    """Active budgets owned by these users, those of these organizations (their project and tag budgets
    included), projects and keys, plus the global ones; one query."""
    where = Q(user_id__in=list(user_ids)) | Q(scope=Budget.SCOPE_GLOBAL)
    for name, ids in (("organization_id", organization_ids), ("project_id", project_ids),
                      ("api_key_id", api_key_ids)):
        ids = {i for i in ids if i is not None}
        if ids:
            where |= Q(**{f"{name}__in": ids})
    return list(Budget.objects.filter(is_active=True).filter(where).select_related(*LABEL_RELATED).order_by("pk"))


def budgets_active_for_records(*, records: Iterable[Any]) -> list[Budget]:
    records = list(records)
    return budgets_active_for_users(
        user_ids={r.user_id for r in records},
        organization_ids={getattr(r, "organization_id", None) for r in records},
        project_ids={getattr(r, "project_id", None) for r in records},
        api_key_ids={getattr(r, "api_key_id", None) for r in records},
    )


class _EstimateCache:
    """Per-process cache of output estimates (a p95 heuristic: a minute old is fine, a query per check is not)."""

    def __init__(self) -> None:
        self.data: dict = {}
        self.lock = threading.Lock()

    def get(self, key):
        hit = self.data.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, key, value) -> None:
        ttl = settings.NETRA_ESTIMATE_CACHE_SECONDS
        if ttl > 0:
            with self.lock:
                if len(self.data) > 10_000:
                    self.data.clear()
                self.data[key] = (time.monotonic() + ttl, value)

    def clear(self) -> None:
        with self.lock:
            self.data.clear()


estimate_cache = _EstimateCache()


def budgets_applicable(*, user, agent: str, run_id: str = "", organization_id: int | None = None,
                       project_id: int | None = None, api_key_id: int | None = None, tags=()) -> list[Budget]:
    """The active budgets that apply to a call, read fresh: a budget saved a moment ago in any process counts."""
    return [
        b for b in budgets_active_for_users(user_ids=[user.pk], organization_ids=[organization_id],
                                            project_ids=[project_id], api_key_ids=[api_key_id])
        if budget_applies(b, user_id=user.pk, agent=agent, run_id=run_id, organization_id=organization_id,
                          project_id=project_id, api_key_id=api_key_id, tags=tags)
    ]


def live_reserved(
    *, keys: Iterable[tuple[int, datetime]], now: datetime
) -> dict[tuple[int, datetime], tuple[int, Decimal]]:
    """Sum of live holds (active, unexpired) per (budget id, window start)."""
    keys = set(keys)
    if not keys:
        return {}
    rows = (
        ReservationHold.objects.filter(
            budget_id__in={k[0] for k in keys},
            window_start__in={k[1] for k in keys},
            active=True,
            expires_at__gt=now,
        )
        .values("budget_id", "window_start")
        .annotate(tokens=Sum("tokens"), usd=Sum("cost_usd"))
        .order_by()
    )
    out = {}
    for row in rows:
        key = (row["budget_id"], row["window_start"])
        if key in keys:
            out[key] = (int(row["tokens"] or 0), row["usd"] or ZERO)
    return out


def _percent(used, limit) -> Decimal | None:
    if limit is None:
        return None
    if limit == 0:
        return HUNDRED if used > 0 else ZERO
    return (Decimal(used) * HUNDRED / Decimal(limit)).quantize(PERCENT_QUANTUM)


def percent_used(budget: Budget, *, spent_tokens: int, spent_usd: Decimal) -> Decimal:
    """Committed spend as a percentage of the tighter limit."""
    values = [
        p for p in (_percent(spent_tokens, budget.limit_tokens), _percent(spent_usd, budget.limit_usd))
        if p is not None
    ]
    return max(values) if values else ZERO


def budget_status(percent: Decimal) -> str:
    ok, warning, exceeded = BUDGET_STATUSES
    if percent >= HUNDRED:
        return exceeded
    if percent >= WARNING_PERCENT:
        return warning
    return ok


def figures(
    budget: Budget,
    *,
    window_start: datetime,
    window_end: datetime | None,
    spent_tokens: int,
    spent_usd: Decimal,
    reserved_tokens: int,
    reserved_usd: Decimal,
    label_from: Budget | None = None,
) -> dict[str, Any]:
    """One budget's live figures: the item shape of GET /api/v1/budgets (Decimals unformatted).

    Remaining may be negative: usage that happened anyway shows as overage. ``label_from``: the same
    budget as listed with its related rows (a row locked afresh has none loaded).
    """
    percent = percent_used(budget, spent_tokens=spent_tokens, spent_usd=spent_usd)
    return {
        "id": budget.pk,
        "name": budget.name,
        "label": budget_label(budget_describe(label_from or budget)),
        "scope": budget.scope,
        "period": budget.period,
        "agent": budget.agent,
        "run_id": budget.run_id,
        "limit_tokens": budget.limit_tokens,
        "limit_usd": budget.limit_usd,
        "spent_tokens": spent_tokens,
        "spent_usd": spent_usd,
        "reserved_tokens": reserved_tokens,
        "reserved_usd": reserved_usd,
        "remaining_tokens": (
            budget.limit_tokens - spent_tokens - reserved_tokens if budget.limit_tokens is not None else None
        ),
        "remaining_usd": (
            budget.limit_usd - spent_usd - reserved_usd if budget.limit_usd is not None else None
        ),
        "percent_used": percent,
        "enforcement": budget.enforcement,
        "window_start": window_start,
        "window_end": window_end,
        "status": budget_status(percent),
    }


def budget_figures(
    *, budgets: list[Budget], now: datetime | None = None, at: dict[int, datetime] | None = None
) -> list[dict[str, Any]]:
    """Live figures for many budgets in two queries (windows, holds).

    ``at`` picks, per budget id, the instant whose window is shown (default ``now``).
    """
    now = now or timezone.now()
    bounds = {b.pk: window_bounds(b.period, b.tz_name, (at or {}).get(b.pk, now)) for b in budgets}
    keys = {(b.pk, bounds[b.pk][0]) for b in budgets}
    spent: dict[tuple[int, datetime], tuple[int, Decimal]] = {}
    if keys:
        rows = BudgetWindow.objects.filter(
            budget_id__in={k[0] for k in keys}, window_start__in={k[1] for k in keys}
        ).values_list("budget_id", "window_start", "spent_tokens", "spent_usd")
        for budget_id, start, tokens, usd in rows:
            spent[(budget_id, start)] = (tokens, usd)
    reserved = live_reserved(keys=keys, now=now)
    out = []
    for b in budgets:
        start, end = bounds[b.pk]
        s_tokens, s_usd = spent.get((b.pk, start), (0, ZERO))
        r_tokens, r_usd = reserved.get((b.pk, start), (0, ZERO))
        out.append(figures(b, window_start=start, window_end=end, spent_tokens=s_tokens, spent_usd=s_usd,
                           reserved_tokens=r_tokens, reserved_usd=r_usd))
    return out


def budgets_visible(*, user) -> list[Budget]:
    """Budgets a user may see: their own, global ones (they apply to everyone), those of their own keys,
    and those of the organizations they belong to (members read them)."""
    org_ids = list(Membership.objects.filter(user=user).values_list("organization_id", flat=True))
    return list(
        Budget.objects.filter(is_active=True)
        .filter(Q(user=user) | Q(scope=Budget.SCOPE_GLOBAL) | Q(organization_id__in=org_ids)
                | Q(api_key__user=user))
        .select_related(*LABEL_RELATED)
        .order_by("pk")
    )


def budget_visible_to(*, budget: Budget, user) -> bool:
    """``budgets_visible`` for one budget."""
    if budget.scope == Budget.SCOPE_GLOBAL or (budget.user_id is not None and budget.user_id == user.pk):
        return True
    if budget.api_key_id is not None and budget.api_key.user_id == user.pk:
        return True
    return budget.organization_id is not None and Membership.objects.filter(
        user=user, organization_id=budget.organization_id).exists()


def budget_describe(budget: Budget) -> dict[str, Any]:
    """What budgets.labels needs to name a budget (related rows as select_related left them)."""
    return {
        "name": budget.name, "scope": budget.scope, "agent": budget.agent, "run_id": budget.run_id,
        "tag": budget.tag,
        "organization": budget.organization.name if budget.organization_id and budget.organization else "",
        "project": str(budget.project) if budget.project_id and budget.project else "",
        "api_key": str(budget.api_key) if budget.api_key_id and budget.api_key else "",
    }


def budgets_for_user(*, user) -> list[dict]:
    """The user's budgets (and global ones) with live figures, as items of GET /api/v1/budgets."""
    return budget_figures(budgets=budgets_visible(user=user))


def remaining_for_records(*, records: list) -> dict[uuid.UUID, dict]:
    """For each record id, what is left of the tightest applicable budget after it.

    Three queries for the whole list (budgets, windows, holds). Records with no
    applicable budget are absent.
    """
    if not records:
        return {}
    budgets = budgets_active_for_records(records=records)
    if not budgets:
        return {}
    applicable: dict[uuid.UUID, list[Budget]] = {}
    keys: dict[tuple[int, datetime], tuple[Budget, datetime | None]] = {}
    record_keys: dict[uuid.UUID, list[tuple[int, datetime]]] = defaultdict(list)
    for record in records:
        found = [b for b in budgets if record_applies(b, record)]
        if not found:
            continue
        applicable[record.pk] = found
        for b in found:
            start, end = window_bounds(b.period, b.tz_name, record.occurred_at)
            keys[(b.pk, start)] = (b, end)
            record_keys[record.pk].append((b.pk, start))
    if not keys:
        return {}
    spent = {}
    for budget_id, start, tokens, usd in BudgetWindow.objects.filter(
        budget_id__in={k[0] for k in keys}, window_start__in={k[1] for k in keys}
    ).values_list("budget_id", "window_start", "spent_tokens", "spent_usd"):
        spent[(budget_id, start)] = (tokens, usd)
    reserved = live_reserved(keys=keys.keys(), now=timezone.now())
    remaining: dict[tuple[int, datetime], tuple[int | None, Decimal | None]] = {}
    for key, (b, _end) in keys.items():
        s_tokens, s_usd = spent.get(key, (0, ZERO))
        r_tokens, r_usd = reserved.get(key, (0, ZERO))
        remaining[key] = (
            b.limit_tokens - s_tokens - r_tokens if b.limit_tokens is not None else None,
            b.limit_usd - s_usd - r_usd if b.limit_usd is not None else None,
        )
    out = {}
    for record_id, rkeys in record_keys.items():
        tokens = [remaining[k][0] for k in rkeys if remaining[k][0] is not None]
        usd = [remaining[k][1] for k in rkeys if remaining[k][1] is not None]
        out[record_id] = {
            "tokens_remaining": min(tokens) if tokens else None,
            "usd_remaining": min(usd) if usd else None,
        }
    return out


def output_estimate(
    *, user, agent: str, model: str, max_output_tokens: int | None, model_max: int | None,
    strict: bool, now: datetime | None = None,
) -> int:
    """Output tokens to hold for a call.

    Strict budgets hold the full cap. Otherwise the 95th percentile of the
    completion tokens of this agent and model's recent calls (a default when
    there is no history), never above the cap. The percentile is cached per
    process for a minute: it is a heuristic, and a query per check is not.
    """
    caps = [c for c in (max_output_tokens, model_max) if c]
    cap = min(caps) if caps else None
    if strict:
        return cap if cap is not None else DEFAULT_OUTPUT_TOKENS
    key = (user.pk, agent, model)
    estimate = estimate_cache.get(key)
    if estimate is None:
        estimate = _recent_p95(user=user, agent=agent, model=model, now=now or timezone.now())
        estimate_cache.put(key, estimate)
    return min(estimate, cap) if cap is not None else estimate


def _recent_p95(*, user, agent: str, model: str, now: datetime) -> int:
    sample = list(
        UsageRecord.objects.filter(
            user=user, agent=agent, model=model, occurred_at__gte=now - ESTIMATE_LOOKBACK
        )
        .order_by("-occurred_at")
        .annotate(completion=F("output_tokens") + F("reasoning_tokens"))
        .values_list("completion", flat=True)[:ESTIMATE_SAMPLE]
    )
    if not sample:
        return DEFAULT_OUTPUT_TOKENS
    sample.sort()
    return sample[max(0, math.ceil(0.95 * len(sample)) - 1)]


def reservation_for_user(*, user, reservation_id) -> Reservation | None:
    return Reservation.objects.filter(pk=reservation_id, user=user).first()
