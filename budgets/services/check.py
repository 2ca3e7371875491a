"""The budget check: may this call go ahead, and (with ``reserve``) hold its estimate until it is settled.

``budget_check`` names every step in order. The decision and the hold happen
under the budget windows' row locks, taken in one fixed order, so concurrent
checks can never jointly pass a hard limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from budgets import selectors
from budgets.labels import scope_words
from budgets.models import Budget, Reservation, ReservationHold
from budgets.services.locking import windows_lock
from budgets.windows import window_bounds
from core.money import COST_QUANTUM, ZERO, dollars, dollars_over
from tokens.counts import TokenCounts
from tokens.models import ApiKey
from tokens.pricing import catalog, cost_of
from tokens.services import usage_attribution
from tokens.tokenizer import count_messages, count_text


def reservation_ttl() -> timedelta:
    return timedelta(seconds=settings.NETRA_RESERVATION_TTL_SECONDS)


@dataclass
class Estimate:
    """What a call is expected to use: its prompt, the output held for it, and their catalog cost."""

    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None  # None: the model has no price

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def usd(self) -> Decimal:
        return self.cost_usd if self.cost_usd is not None else ZERO


@dataclass
class Decision:
    """Each applicable budget's figures as of the lock, and which of them stop or warn about the call."""

    items: list[dict[str, Any]] = field(default_factory=list)
    hard_denials: list[Budget] = field(default_factory=list)
    soft_over: list[Budget] = field(default_factory=list)
    applied: list[Budget] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # deleted or switched off since they were listed

    @property
    def allowed(self) -> bool:
        return not self.hard_denials


@dataclass
class CheckResult:
    allowed: bool
    reason: str
    message: str
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None
    budgets: list[dict[str, Any]] = field(default_factory=list)
    denied_by: list[int] = field(default_factory=list)
    # Each blocking budget: {"id", "name", "label", "scope"}; the soft ones passed, in "warnings".
    denials: list[dict[str, Any]] = field(default_factory=list)
    reservation: Reservation | None = None


def budget_check(
    *,
    user,
    agent: str,
    model: str,
    input_tokens: int | None = None,
    prompt: str | None = None,
    messages: list[dict] | None = None,
    run_id: str = "",
    max_output_tokens: int | None = None,
    reserve: bool = False,
    now: datetime | None = None,
    ttl: timedelta | None = None,
    api_key: ApiKey | None = None,
    tags: list[str] | tuple[str, ...] = (),
) -> CheckResult:
    """May this call go ahead? With ``reserve``, hold its estimate on every applicable budget.

    The prompt is given as a token count, a text or chat messages. A hard
    budget denies when committed + live holds + this estimate would pass its
    limit, or when it is already used up; a soft one only says so. The call is
    attributed as its usage will be (``usage_attribution``): the key's project
    and organization, else the user's organization, so organization, project,
    key and tag budgets apply too.
    """
    now = now or timezone.now()
    input_tokens = prompt_tokens(model=model, input_tokens=input_tokens, prompt=prompt, messages=messages)
    organization_id, project_id = usage_attribution(api_key=api_key, user=user)
    budgets = selectors.budgets_applicable(  # read fresh, every time
        user=user, agent=agent, run_id=run_id, organization_id=organization_id, project_id=project_id,
        api_key_id=api_key.pk if api_key is not None else None, tags=tuple(tags),
    )
    estimate = call_estimate(user=user, agent=agent, model=model, input_tokens=input_tokens,
                             max_output_tokens=max_output_tokens, strict=any(b.strict for b in budgets), now=now)
    bounds = {b.pk: window_bounds(b.period, b.tz_name, now) for b in budgets}
    with transaction.atomic():
        reservation = (_hold_write(user=user, agent=agent, model=model, run_id=run_id, estimate=estimate,
                                   budgets=budgets, bounds=bounds, now=now, ttl=ttl) if reserve else None)
        decision = _decide(budgets=budgets, bounds=bounds, estimate=estimate, held=reserve, now=now)
        reservation = _hold_keep_or_drop(reservation, decision=decision, estimate=estimate)
    return _result(decision, estimate=estimate, reservation=reservation)


def prompt_tokens(*, model: str, input_tokens: int | None = None, prompt: str | None = None,
                  messages: list[dict] | None = None) -> int:
    """The prompt's tokens: as given, or counted from the text or the chat messages with the model's tokenizer."""
    if input_tokens is not None:
        return input_tokens
    price = catalog.latest(model)
    provider = price.provider if price else ""
    counted = count_text(prompt, model, provider) if prompt is not None else count_messages(messages or [], model,
                                                                                               provider)
    return counted.tokens


def call_estimate(*, user, agent: str, model: str, input_tokens: int, max_output_tokens: int | None,
                  strict: bool, now: datetime) -> Estimate:
    """The output to hold (recent p95, or the full cap for strict budgets) and the call's catalog cost."""
    price = catalog.resolve(model, now)
    output_tokens = selectors.output_estimate(
        user=user, agent=agent, model=model, max_output_tokens=max_output_tokens,
        model_max=price.max_output_tokens if price else None, strict=strict, now=now,
    )
    cost = None
    if price is not None:
        cost = cost_of(price, TokenCounts(input=input_tokens, output=output_tokens))
        cost = None if cost is None else cost.quantize(COST_QUANTUM)
    return Estimate(input_tokens=input_tokens, output_tokens=output_tokens, cost_usd=cost)


def _hold_write(*, user, agent: str, model: str, run_id: str, estimate: Estimate, budgets: list[Budget],
                bounds: dict, now: datetime, ttl: timedelta | None) -> Reservation:
    """The reservation and one hold per budget window, written before the lock so it is held briefly:
    nobody sees these rows before our commit, and a denial deletes them in this transaction."""
    reservation = Reservation.objects.create(
        user=user, agent=agent, model=model, run_id=run_id, input_tokens=estimate.input_tokens,
        output_tokens=estimate.output_tokens, tokens=estimate.tokens, cost_usd=estimate.usd, created_at=now,
        expires_at=now + (ttl or reservation_ttl()),
    )
    ReservationHold.objects.bulk_create([
        ReservationHold(reservation=reservation, budget_id=b.pk, window_start=bounds[b.pk][0],
                        tokens=estimate.tokens, cost_usd=estimate.usd, expires_at=reservation.expires_at)
        for b in budgets
    ])
    return reservation


def _decide(*, budgets: list[Budget], bounds: dict, estimate: Estimate, held: bool, now: datetime) -> Decision:
    """Lock the windows in order, then compare each budget's committed + live holds (+ this call) with its limit."""
    keys = {(b.pk, bounds[b.pk][0]) for b in budgets}
    windows = windows_lock(keys)
    # Our own holds are visible to us: with a reservation the sum already includes this estimate.
    reserved = selectors.live_reserved(keys=keys, now=now)
    pending_tokens, pending_usd = (0, ZERO) if held else (estimate.tokens, estimate.usd)
    decision = Decision()
    for listed in budgets:
        start, end = bounds[listed.pk]
        w = windows.get((listed.pk, start))
        if w is None or not w.budget.is_active:
            decision.skipped.append(listed.pk)
            continue
        b = w.budget  # limits and enforcement as of the lock
        decision.applied.append(b)
        r_tokens, r_usd = reserved.get((b.pk, start), (0, ZERO))
        item = selectors.figures(
            b, window_start=start, window_end=end, spent_tokens=w.spent_tokens, spent_usd=w.spent_usd,
            reserved_tokens=r_tokens, reserved_usd=r_usd, label_from=listed,
        )
        decision.items.append(item)
        if _would_exceed(b, item, tokens=pending_tokens, usd=pending_usd):
            (decision.hard_denials if b.enforcement == Budget.HARD else decision.soft_over).append(b)
    return decision


def _hold_keep_or_drop(reservation: Reservation | None, *, decision: Decision,
                       estimate: Estimate) -> Reservation | None:
    """A denied call holds nothing; holds on budgets that vanished meanwhile go."""
    if reservation is None:
        return None
    if not decision.allowed:
        ReservationHold.objects.filter(reservation=reservation).delete()
        Reservation.objects.filter(pk=reservation.pk).delete()
        for item in decision.items:
            _add_hold(item, tokens=-estimate.tokens, usd=-estimate.usd)
        return None
    if decision.skipped:
        ReservationHold.objects.filter(reservation=reservation, budget_id__in=decision.skipped).delete()
    return reservation


def _result(decision: Decision, *, estimate: Estimate, reservation: Reservation | None) -> CheckResult:
    items = decision.items
    if decision.hard_denials:
        reason = "budget_exceeded"
        message = "Denied: " + "; ".join(_denial_text(b, items) for b in decision.hard_denials) + "."
    elif decision.soft_over:
        reason = "soft_limit_exceeded"
        message = "Allowed past a soft limit: " + "; ".join(_denial_text(b, items) for b in decision.soft_over) + "."
    elif decision.applied:
        reason, message = "within_budget", "Within every applicable budget."
    else:
        reason, message = "no_budget", "No budget applies to this call."
    return CheckResult(
        allowed=decision.allowed, reason=reason, message=message, input_tokens=estimate.input_tokens,
        output_tokens=estimate.output_tokens, cost_usd=estimate.cost_usd, budgets=items,
        denied_by=[b.pk for b in decision.hard_denials],
        denials=[_denial(b, items) for b in decision.hard_denials], reservation=reservation,
    )


def _denial(budget: Budget, items: list[dict]) -> dict[str, Any]:
    item = next(i for i in items if i["id"] == budget.pk)
    return {"id": budget.pk, "name": budget.name, "label": item["label"], "scope": budget.scope}


def _would_exceed(budget: Budget, item: dict, *, tokens: int, usd: Decimal) -> bool:
    """Used up already, or committed + live holds + ``tokens``/``usd`` past the limit."""
    if budget.limit_tokens is not None:
        if item["spent_tokens"] >= budget.limit_tokens or tokens > item["remaining_tokens"]:
            return True
    if budget.limit_usd is not None:
        if item["spent_usd"] >= budget.limit_usd or usd > item["remaining_usd"]:
            return True
    return False


def _add_hold(item: dict, *, tokens: int, usd: Decimal) -> None:
    item["reserved_tokens"] += tokens
    item["reserved_usd"] += usd
    if item["remaining_tokens"] is not None:
        item["remaining_tokens"] -= tokens
    if item["remaining_usd"] is not None:
        item["remaining_usd"] -= usd


def _denial_text(budget: Budget, items: list[dict]) -> str:
    """E.g. budget 3 (user, month) has $0.00 of $12.00 left (over by $5,361.59): money in cents, nothing
    left below zero (an overrun is said as such)."""
    item = next(i for i in items if i["id"] == budget.pk)
    parts = []
    if budget.limit_tokens is not None:
        left = item["remaining_tokens"]
        over = f" (over by {-left})" if left < 0 else ""
        parts.append(f"{max(left, 0)} of {budget.limit_tokens} tokens left{over}")
    if budget.limit_usd is not None:
        left = item["remaining_usd"]
        over = f" (over by {dollars_over(-left)})" if left < 0 else ""
        parts.append(f"{dollars(max(left, ZERO))} of {dollars(budget.limit_usd)} left{over}")
    return (f"budget {budget.pk} \"{item['label']}\" ({scope_words(budget.scope)}, {budget.period}) has "
            + " and ".join(parts))
