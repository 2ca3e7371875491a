"""Writes: checks and reservations, applying usage, expiry, and budget administration.

Concurrency rule: whoever changes what a budget window may still spend locks
its BudgetWindow rows first, always in (budget id, window start) order
(``_lock_windows`` for checks and resets, ``_charge_windows`` updating in the
same order for usage), so two writers never deadlock and a check sees every
hold and every commit that happened before it. Releasing or expiring a hold
only frees room, so it needs no window lock.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from budgets import selectors
from budgets.allocation import allocate
from budgets.models import Budget, BudgetChange, BudgetWindow, Reservation, ReservationHold
from budgets.windows import valid_timezone, window_bounds
from netra_site.api_errors import ApiError

logger = logging.getLogger(__name__)
ZERO = Decimal(0)
COST_QUANTUM = Decimal("1e-12")


def reservation_ttl() -> timedelta:
    return timedelta(seconds=getattr(settings, "NETRA_RESERVATION_TTL_SECONDS", 600))


def _lock_windows(keys: set[tuple[int, datetime]]) -> dict[tuple[int, datetime], BudgetWindow]:
    """Create missing window rows, then lock them in (budget, window start) order, budgets read fresh.

    A key whose budget no longer exists is left out (the window is created
    with INSERT ... SELECT, so a deleted budget never breaks the transaction).
    """
    if not keys:
        return {}

    def fetch() -> dict[tuple[int, datetime], BudgetWindow]:
        rows = (
            BudgetWindow.objects.filter(budget_id__in={k[0] for k in keys}, window_start__in={k[1] for k in keys})
            .select_related("budget")
            .order_by("budget_id", "window_start")
            .select_for_update(of=("self",))
        )
        return {(w.budget_id, w.window_start): w for w in rows if (w.budget_id, w.window_start) in keys}

    found = fetch()
    if len(found) < len(keys):
        _create_windows({k for k in keys if k not in found})
        found = fetch()
    return found


def _create_windows(keys: set[tuple[int, datetime]]) -> None:
    q = connection.ops.quote_name
    sql = (
        f"INSERT INTO {q(BudgetWindow._meta.db_table)} (budget_id, window_start, spent_tokens, spent_usd) "
        f"SELECT id, %s, 0, 0 FROM {q(Budget._meta.db_table)} WHERE id = %s "
        "ON CONFLICT (budget_id, window_start) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(connection.ops.adapt_datetimefield_value(start), budget_id)
                                 for budget_id, start in sorted(keys)])


# --- Checks and reservations -------------------------------------------------------------


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
    reservation: Reservation | None = None


def _estimate_cost(model: str, input_tokens: int, output_tokens: int, at: datetime):
    from tokens.pricing import TokenCounts, catalog, cost_of

    price = catalog.resolve(model, at)
    if price is None:
        return None, None
    cost = cost_of(price, TokenCounts(input=input_tokens, output=output_tokens)).quantize(COST_QUANTUM)
    return cost, price.max_output_tokens


def budget_check(
    *,
    user,
    agent: str,
    model: str,
    input_tokens: int,
    run_id: str = "",
    max_output_tokens: int | None = None,
    reserve: bool = False,
    now: datetime | None = None,
    ttl: timedelta | None = None,
) -> CheckResult:
    """May this call go ahead? With ``reserve``, hold its estimate on every applicable budget.

    A hard budget denies when committed + live holds + this estimate would pass
    its limit, or when it is already used up; a soft one only says so. The
    decision and the hold happen under the windows' row locks, so concurrent
    checks can never jointly pass a hard limit.
    """
    now = now or timezone.now()
    budgets = selectors.budgets_applicable(user=user, agent=agent, run_id=run_id)
    cost_probe, model_max = _estimate_cost(model, input_tokens, 0, now)
    output_tokens = selectors.output_estimate(
        user=user, agent=agent, model=model, max_output_tokens=max_output_tokens, model_max=model_max,
        strict=any(b.strict for b in budgets), now=now,
    )
    cost, _ = _estimate_cost(model, input_tokens, output_tokens, now)
    tokens = input_tokens + output_tokens
    usd = cost if cost is not None else ZERO
    bounds = {b.pk: window_bounds(b.period, b.tz_name, now) for b in budgets}
    keys = {(b.pk, bounds[b.pk][0]) for b in budgets}

    with transaction.atomic():
        reservation = None
        if reserve:
            # Written before the lock so the lock is held for as little as possible: nobody else
            # sees these rows before our commit, and a denial deletes them in this transaction.
            reservation = Reservation.objects.create(
                user=user, agent=agent, model=model, run_id=run_id, input_tokens=input_tokens,
                output_tokens=output_tokens, tokens=tokens, cost_usd=usd, created_at=now,
                expires_at=now + (ttl or reservation_ttl()),
            )
            ReservationHold.objects.bulk_create([
                ReservationHold(reservation=reservation, budget_id=b.pk, window_start=bounds[b.pk][0],
                                tokens=tokens, cost_usd=usd, expires_at=reservation.expires_at)
                for b in budgets
            ])
        windows = _lock_windows(keys)
        # Our own holds are visible to us: with a reservation the sum already includes this estimate.
        reserved = selectors.live_reserved(keys=keys, now=now)
        pending_tokens, pending_usd = (0, ZERO) if reserve else (tokens, usd)
        items, hard_denials, soft_over, applied, skipped = [], [], [], [], []
        for cached in budgets:
            start, end = bounds[cached.pk]
            w = windows.get((cached.pk, start))
            if w is None or not w.budget.is_active:
                skipped.append(cached.pk)  # deleted or switched off since it was cached
                continue
            b = w.budget  # limits and enforcement as of the lock, never from the cache
            applied.append(b)
            r_tokens, r_usd = reserved.get((b.pk, start), (0, ZERO))
            item = selectors.figures(
                b, window_start=start, window_end=end, spent_tokens=w.spent_tokens, spent_usd=w.spent_usd,
                reserved_tokens=r_tokens, reserved_usd=r_usd,
            )
            items.append(item)
            if _would_exceed(b, item, tokens=pending_tokens, usd=pending_usd):
                (hard_denials if b.enforcement == Budget.HARD else soft_over).append(b)
        allowed = not hard_denials
        if reservation is not None and not allowed:
            ReservationHold.objects.filter(reservation=reservation).delete()
            Reservation.objects.filter(pk=reservation.pk).delete()
            reservation = None
            for item in items:
                _add_hold(item, tokens=-tokens, usd=-usd)
        elif reservation is not None and skipped:
            ReservationHold.objects.filter(reservation=reservation, budget_id__in=skipped).delete()

    if hard_denials:
        reason = "budget_exceeded"
        message = "Denied: " + "; ".join(_denial_text(b, items) for b in hard_denials) + "."
    elif soft_over:
        reason = "soft_limit_exceeded"
        message = "Allowed past a soft limit: " + "; ".join(_denial_text(b, items) for b in soft_over) + "."
    elif applied:
        reason, message = "within_budget", "Within every applicable budget."
    else:
        reason, message = "no_budget", "No budget applies to this call."
    return CheckResult(
        allowed=allowed, reason=reason, message=message, input_tokens=input_tokens, output_tokens=output_tokens,
        cost_usd=cost, budgets=items, denied_by=[b.pk for b in hard_denials], reservation=reservation,
    )


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
    item = next(i for i in items if i["id"] == budget.pk)
    parts = []
    if budget.limit_tokens is not None:
        parts.append(f"{item['remaining_tokens']} of {budget.limit_tokens} tokens left")
    if budget.limit_usd is not None:
        parts.append(f"${item['remaining_usd'].normalize():f} of ${budget.limit_usd.normalize():f} left")
    return f"budget {budget.pk} ({budget.scope}, {budget.period}) has " + " and ".join(parts)


def _settle(reservation_id, *, user, status: str, now: datetime) -> int:
    """Move a live reservation of ``user`` to ``status``; returns 1 if it was live, else 0."""
    changed = Reservation.objects.filter(
        pk=reservation_id, user=user, status=Reservation.ACTIVE, expires_at__gt=now
    ).update(status=status, settled_at=now)
    if changed:
        ReservationHold.objects.filter(reservation_id=reservation_id).update(active=False)
    return changed


def _expire_if_due(reservation: Reservation, *, now: datetime) -> None:
    if reservation.status == Reservation.ACTIVE and reservation.expires_at <= now:
        if Reservation.objects.filter(pk=reservation.pk, status=Reservation.ACTIVE).update(
            status=Reservation.EXPIRED, settled_at=now
        ):
            ReservationHold.objects.filter(reservation_id=reservation.pk).update(active=False)
        reservation.refresh_from_db()


def reservation_release(*, user, reservation_id, now: datetime | None = None) -> Reservation:
    """Give a hold back. Releasing twice is harmless; a committed or expired one cannot be released."""
    return _close(user=user, reservation_id=reservation_id, status=Reservation.RELEASED, verb="released",
                  now=now or timezone.now())


def reservation_commit(*, user, reservation_id, now: datetime | None = None) -> Reservation:
    """Close a hold without a usage record: nothing is charged (spend comes only from the ledger).

    The normal commit is a usage record carrying ``reservation_id``.
    """
    return _close(user=user, reservation_id=reservation_id, status=Reservation.COMMITTED, verb="committed",
                  now=now or timezone.now())


def _close(*, user, reservation_id, status: str, verb: str, now: datetime) -> Reservation:
    """Settle a live reservation; the same request twice answers the same; anything else is a 409."""
    with transaction.atomic():
        if not _settle(reservation_id, user=user, status=status, now=now):
            reservation = _owned(user, reservation_id)
            _expire_if_due(reservation, now=now)
        else:
            reservation = _owned(user, reservation_id)
    # Raised after the block so that marking a reservation expired is kept.
    if reservation.status != status:
        raise ApiError(
            f"The reservation is {reservation.status}; only an active one can be {verb}.",
            code=f"reservation_{reservation.status}", status_code=409,
        )
    return reservation


def _owned(user, reservation_id) -> Reservation:
    reservation = selectors.reservation_for_user(user=user, reservation_id=reservation_id)
    if reservation is None:
        # Another user's reservation is reported exactly like a missing one.
        raise ApiError("No such reservation.", code="not_found", status_code=404)
    return reservation


def reservations_expire(*, now: datetime | None = None, batch: int = 1000) -> int:
    """Mark reservations past their TTL expired and drop their holds (they already stopped counting)."""
    now = now or timezone.now()
    total = 0
    while True:
        ids = list(Reservation.objects.expired(now).order_by("expires_at").values_list("pk", flat=True)[:batch])
        if not ids:
            return total
        with transaction.atomic():
            expired = list(
                Reservation.objects.filter(pk__in=ids, status=Reservation.ACTIVE).values_list("pk", flat=True)
            )
            Reservation.objects.filter(pk__in=expired, status=Reservation.ACTIVE).update(
                status=Reservation.EXPIRED, settled_at=now
            )
            ReservationHold.objects.filter(reservation_id__in=expired).update(active=False)
        total += len(expired)
        if len(ids) < batch:
            return total


# --- Applying usage ------------------------------------------------------------------------


def usage_apply(*, records: list, count_tokens: bool = True, settle: bool = True) -> None:
    """Charge stored usage records to every budget that applies; settle their reservations.

    Runs inside the ingestion transaction (receiver of ``usage_recorded``). A
    record is always charged, even past a hard limit (the call happened): the
    overage shows and further checks are denied. A record whose reservation is
    unknown, another user's, expired or already settled is charged all the
    same and the mismatch is logged.
    """
    now = timezone.now()
    if settle:
        _settle_reservations(records, now=now)
    budgets = selectors.budgets_for_users_cached(user_ids={r.user_id for r in records})
    if not budgets:
        return
    increments: dict[tuple[int, datetime], list] = defaultdict(lambda: [0, ZERO])
    for record in records:
        for b in budgets:
            if selectors.budget_applies(b, user_id=record.user_id, agent=record.agent, run_id=record.run_id):
                start, _ = window_bounds(b.period, b.tz_name, record.occurred_at)
                inc = increments[(b.pk, start)]
                if count_tokens:
                    inc[0] += record.total_tokens
                inc[1] += record.cost_usd
    if not increments:
        return
    by_pk = {b.pk: b for b in budgets}
    for key, (new_tokens, new_usd) in _charge_windows(increments).items():
        tokens, usd = increments[key]
        # The UPDATE holds the row lock, so new - increment is exactly the old value. Thresholds
        # and limits come from the cached budget: at worst a few seconds old, and only for alerts.
        _alerts_for_crossing(
            by_pk[key[0]], window_start=key[1], before=(new_tokens - tokens, new_usd - usd),
            after=(new_tokens, new_usd),
        )


def _charge_windows(increments: dict[tuple[int, datetime], list]) -> dict[tuple[int, datetime], tuple]:
    """Add to each window's spend with one UPDATE ... RETURNING each, in the lock order.

    Returns the new (tokens, usd) per window. A window that does not exist yet
    is created first; one whose budget was deleted meanwhile is skipped.
    """
    q = connection.ops.quote_name
    sql = (
        f"UPDATE {q(BudgetWindow._meta.db_table)} SET spent_tokens = spent_tokens + %s, "
        "spent_usd = spent_usd + %s WHERE budget_id = %s AND window_start = %s RETURNING spent_tokens, spent_usd"
    )
    out = {}
    with connection.cursor() as cursor:
        for key in sorted(increments):
            tokens, usd = increments[key]
            if not tokens and not usd:
                continue
            params = (tokens, usd, key[0], connection.ops.adapt_datetimefield_value(key[1]))
            cursor.execute(sql, params)
            row = cursor.fetchone()
            if row is None:
                _create_windows({key})
                cursor.execute(sql, params)
                row = cursor.fetchone()
            if row is not None:
                out[key] = (int(row[0]), _decimal(row[1]))
    return out


def _decimal(value) -> Decimal:
    # SQLite hands back a float for a numeric column; PostgreSQL a Decimal.
    return value if isinstance(value, Decimal) else Decimal(str(value)).quantize(COST_QUANTUM)


def _settle_reservations(records: list, *, now: datetime) -> None:
    wanted = {r.reservation_id: r for r in records if r.reservation_id}
    if not wanted:
        return
    committed, odd = [], []
    for reservation_id, record in sorted(wanted.items()):
        # One conditional UPDATE commits a live reservation of this user; anything else is looked at below.
        if Reservation.objects.filter(
            pk=reservation_id, user_id=record.user_id, status=Reservation.ACTIVE, expires_at__gt=now
        ).update(status=Reservation.COMMITTED, settled_at=now, record_id=record.pk,
                 actual_tokens=record.total_tokens, actual_usd=record.cost_usd):
            committed.append(reservation_id)
        else:
            odd.append(reservation_id)
    found = {res.pk: res for res in Reservation.objects.filter(pk__in=odd)} if odd else {}
    for reservation_id in odd:
        record, res = wanted[reservation_id], found.get(reservation_id)
        if res is None or res.user_id != record.user_id:
            logger.warning("usage %s names reservation %s, unknown to its user; charged without it",
                           record.pk, reservation_id)
            continue
        logger.info("usage %s commits reservation %s which is %s; charged without it", record.pk, res.pk,
                    "expired" if res.status == Reservation.ACTIVE else res.status)
        update: dict[str, Any] = {}
        if res.status == Reservation.ACTIVE:
            update = {"status": Reservation.EXPIRED, "settled_at": now}
            committed.append(res.pk)  # its holds go too
        if res.record_id is None:
            update.update(record_id=record.pk, actual_tokens=record.total_tokens, actual_usd=record.cost_usd)
        if update:
            Reservation.objects.filter(pk=res.pk).update(**update)
    if committed:
        ReservationHold.objects.filter(reservation_id__in=committed, active=True).update(active=False)


def _alerts_for_crossing(
    budget: Budget, *, window_start: datetime, before: tuple[int, Decimal], after: tuple[int, Decimal]
) -> None:
    old = selectors.percent_used(budget, spent_tokens=before[0], spent_usd=before[1])
    new = selectors.percent_used(budget, spent_tokens=after[0], spent_usd=after[1])
    crossed = sorted(Decimal(str(t)) for t in (budget.thresholds or []) if old < Decimal(str(t)) <= new)
    if not crossed:
        return
    from analytics.alerts import alert_raise
    from analytics.models import Alert

    owner = budget.user if budget.user_id else None
    for threshold in crossed:
        t = threshold.normalize()
        label = f"{t:f}"
        what = "exhausted" if threshold >= 100 else f"{label}% used"
        alert_raise(
            kind=Alert.KIND_BUDGET_THRESHOLD,
            dedupe_key=f"budget:{budget.pk}:{window_start:%Y%m%dT%H%M}:{label}",
            message=f"Budget {budget.pk} ({budget.scope}, {budget.period}) {what}: {new}% of its limit",
            user=owner,
            severity="critical" if threshold >= 100 else "warning",
            budget_id=budget.pk,
            window_start=window_start,
            threshold=threshold,
            percent_used=new,
            figures={
                "spent_tokens": after[0], "spent_usd": str(after[1]), "limit_tokens": budget.limit_tokens,
                "limit_usd": str(budget.limit_usd) if budget.limit_usd is not None else None,
                "enforcement": budget.enforcement,
            },
            webhook_url=budget.webhook_url,
            webhook_secret=budget.webhook_secret,
            live_event={
                "budget": budget.pk, "threshold": label, "percent_used": str(new), "scope": budget.scope,
                "period": budget.period, "agent": budget.agent, "run_id": budget.run_id,
                "enforcement": budget.enforcement, "window_start": window_start.isoformat(),
            },
        )


# --- Administration --------------------------------------------------------------------------

EDITABLE = ("limit_tokens", "limit_usd", "enforcement", "thresholds", "timezone", "strict", "is_active",
            "webhook_url", "webhook_secret", "period", "priority")
AUDITED = ("limit_tokens", "limit_usd", "enforcement", "period", "thresholds", "timezone", "is_active", "strict")


def _audit_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def budget_validate(*, values: dict[str, Any]) -> None:
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
    if errors:
        raise ApiError("Invalid budget: " + ", ".join(errors) + ".", fields=errors)


def budget_create(*, by, **values: Any) -> Budget:
    """Create a budget; scope decides which of user/agent/run_id are required."""
    budget_validate(values=values)
    scope = values.get("scope", Budget.SCOPE_USER)
    errors: dict[str, list[str]] = {}
    if scope == Budget.SCOPE_GLOBAL and values.get("user") is not None:
        errors["user"] = ["A global budget has no user."]
    if scope != Budget.SCOPE_GLOBAL and values.get("user") is None:
        errors["user"] = ["Required for this scope."]
    if scope == Budget.SCOPE_USER_AGENT and not values.get("agent"):
        errors["agent"] = ["Required for scope user_agent."]
    if scope == Budget.SCOPE_RUN and not values.get("run_id"):
        errors["run_id"] = ["Required for scope run."]
    if values.get("limit_tokens") is None and values.get("limit_usd") is None:
        errors["limit_tokens"] = ["Set limit_tokens, limit_usd or both."]
    if errors:
        raise ApiError("Invalid budget: " + ", ".join(errors) + ".", fields=errors)
    if scope != Budget.SCOPE_USER_AGENT:
        values["agent"] = ""
    if scope != Budget.SCOPE_RUN:
        values["run_id"] = ""
    with transaction.atomic():
        budget = Budget.objects.create(**values)
        BudgetChange.objects.create(
            budget=budget, changed_by=by, field="created",
            new_value=f"tokens={_audit_value(budget.limit_tokens)} usd={_audit_value(budget.limit_usd)} "
                      f"{budget.enforcement}",
        )
    return budget


def budget_update(*, budget: Budget, by, note: str = "", **changes: Any) -> Budget:
    """Change a budget; every change of a limit, enforcement or window setting is audited."""
    budget_validate(values=changes)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ApiError("These fields cannot be changed: " + ", ".join(sorted(unknown)) + ".",
                       fields={k: ["Not editable."] for k in unknown})
    limit_tokens = changes.get("limit_tokens", budget.limit_tokens)
    limit_usd = changes.get("limit_usd", budget.limit_usd)
    if limit_tokens is None and limit_usd is None:
        raise ApiError("A budget needs limit_tokens, limit_usd or both.",
                       fields={"limit_tokens": ["Set limit_tokens, limit_usd or both."]})
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
        window = _lock_windows({(budget.pk, start)})[(budget.pk, start)]
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
    from budgets.allocation import AllocationError

    if parent.scope != Budget.SCOPE_USER:
        raise ApiError("Allocate from a user budget.", fields={"parent": ["Must be a user budget."]})
    try:
        shares = allocate(total=total, priorities=priorities, minimum=minimum)
    except AllocationError as exc:
        raise ApiError(str(exc), code="allocation_invalid", fields={"total": [str(exc)]}) from exc
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
