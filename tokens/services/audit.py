"""The audit trail of repricing: one row per reprice of stored usage."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from tokens.models import RepriceAudit


def reprice_audit_open(*, actor: str, reason: str, models: list[str] | None, start: datetime | None,
                       end: datetime | None, only_unpriced: bool) -> RepriceAudit:
    """Record that a reprice began (it is committed at once, so a failed reprice leaves its trace)."""
    return RepriceAudit.objects.create(
        actor=actor[:150], reason=reason[:500], models_repriced=sorted(models) if models is not None else [],
        start=start, end=end, only_unpriced=only_unpriced,
    )


def reprice_audit_close(*, audit: RepriceAudit, seen: int, changed: int, before: Decimal, after: Decimal) -> None:
    """Record what a reprice changed: records seen and changed, their billed cost before and after."""
    audit.records_seen, audit.records_changed = seen, changed
    audit.cost_before_usd, audit.cost_after_usd = before, after
    audit.finished_at = timezone.now()
    audit.save(update_fields=["records_seen", "records_changed", "cost_before_usd", "cost_after_usd",
                              "finished_at"])
