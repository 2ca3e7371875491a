"""Raising alerts: once per condition and window, then notify.

``alert_raise`` inserts an Alert keyed by ``dedupe_key``; a second raise of the
same key is a no-op, so a threshold crossed by many concurrent requests alerts
once. Notifications go out only after the transaction commits: the email and
the HMAC-signed webhook as Celery tasks with retries and backoff
(``analytics.delivery``), the live event through the event bus.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from analytics.delivery import (
    WEBHOOK_BUDGET,
    WEBHOOK_SITE,
    alert_email_deliver,
    alert_webhook_deliver,
    webhook_target,
)
from analytics.models import Alert
from budgets.forecast import budget_figures_forecast, forecast_json, forecast_sentence
from budgets.labels import budget_label, scope_words
from budgets.selectors import budget_describe
from budgets.services import ThresholdCrossing
from core import events
from organizations.selectors import organization_member_ids
from tokens.models import UsageRecord


def alert_raise(
    *,
    kind: str,
    dedupe_key: str,
    message: str,
    user=None,
    severity: str = "warning",
    budget_id: int | None = None,
    window_start: datetime | None = None,
    threshold: Decimal | None = None,
    percent_used: Decimal | None = None,
    figures: dict[str, Any] | None = None,
    live_event: dict[str, Any] | None = None,
    webhook: str = WEBHOOK_SITE,
) -> Alert | None:
    """Create the alert unless one with ``dedupe_key`` exists and queue its notifications; None if a repeat.

    ``webhook`` names where the webhook goes: the budget's own URL or the site's.
    """
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                kind=kind,
                dedupe_key=dedupe_key,
                message=message,
                user=user,
                severity=severity,
                budget_id=budget_id,
                window_start=window_start,
                threshold=threshold,
                percent_used=percent_used,
                figures=figures or {},
            )
    except IntegrityError:
        return None
    # robust: with the broker (Redis) down the alert is kept and its delivery logged as lost; the request
    # that crossed the threshold never fails for it.
    if user is not None and user.email:
        transaction.on_commit(lambda: alert_email_deliver.delay(alert.pk), robust=True)
    if webhook_target(alert, webhook)[0]:
        transaction.on_commit(lambda: alert_webhook_deliver.delay(alert.pk, webhook), robust=True)
    if user is not None and live_event is not None:
        events.publish(user.pk, "budget_alert", live_event)
    return alert


def budget_alerts_raise(*, crossings: list[ThresholdCrossing]) -> list[Alert]:
    """One alert per budget threshold that charging crossed (deduplicated per budget, window and threshold)."""
    raised = []
    for crossing in crossings:
        budget, threshold = crossing.budget, crossing.threshold
        label = f"{threshold.normalize():f}"
        what = "exhausted" if threshold >= 100 else f"{label}% used"
        label_of = budget_label(budget_describe(budget))
        live_event = {
            "budget": budget.pk, "name": budget.name, "label": label_of, "threshold": label,
            "percent_used": str(crossing.percent_used), "scope": budget.scope, "period": budget.period,
            "agent": budget.agent, "run_id": budget.run_id, "organization": budget.organization_id,
            "project": budget.project_id, "tag": budget.tag,
            "enforcement": budget.enforcement, "window_start": crossing.window_start.isoformat(),
        }
        forecast = budget_figures_forecast(budget=budget)["forecast"]
        alert = alert_raise(
            kind=Alert.KIND_BUDGET_THRESHOLD,
            dedupe_key=f"budget:{budget.pk}:{crossing.window_start:%Y%m%dT%H%M}:{label}",
            message=f"Budget {budget.pk} \"{label_of}\" ({scope_words(budget.scope)}, {budget.period}) {what}: "
                    f"{crossing.percent_used}% of its limit. {forecast_sentence(forecast)}",
            user=budget.user if budget.user_id else None,
            severity="critical" if threshold >= 100 else "warning",
            budget_id=budget.pk,
            webhook=WEBHOOK_BUDGET,
            window_start=crossing.window_start,
            threshold=threshold,
            percent_used=crossing.percent_used,
            figures={
                "spent_tokens": crossing.spent_tokens, "spent_usd": str(crossing.spent_usd),
                "limit_tokens": budget.limit_tokens,
                "limit_usd": str(budget.limit_usd) if budget.limit_usd is not None else None,
                "enforcement": budget.enforcement,
                "forecast": forecast_json(forecast),
            },
            live_event=live_event,
        )
        if alert is not None:
            raised.append(alert)
            if budget.organization_id:
                # An organization's budget alerts its members, and nobody outside it.
                for user_id in organization_member_ids(organization_id=budget.organization_id):
                    events.publish(user_id, "budget_alert", live_event)
    return raised


def unpriced_alerts_raise(*, records: list[UsageRecord]) -> list[Alert]:
    """One site alert per model and UTC day when usage of a model without a price arrives.

    The records are stored unpriced (never at a silent $0) and are priced by
    ``usage_reprice`` once the catalog knows the model; the alert tells an admin to add it.
    """
    seen: dict[tuple[str, str], int] = {}
    for record in records:
        if not record.priced:
            key = (record.model, f"{record.occurred_at:%Y-%m-%d}")
            seen[key] = seen.get(key, 0) + 1
    raised = []
    for (model, day), count in sorted(seen.items()):
        alert = alert_raise(
            kind=Alert.KIND_UNPRICED_MODEL,
            dedupe_key=f"unpriced:{model[:200]}:{day}",
            message=f"Usage of {model!r} arrived without a catalog price ({day}): stored unpriced. "
                    "Add its price (import_prices or admin), then reprice.",
            severity="warning",
            figures={"model": model, "day": day, "records_in_first_batch": count},
        )
        if alert is not None:
            raised.append(alert)
    return raised
