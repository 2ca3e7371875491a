"""Budgets follow the ledger: every stored usage record is charged, inside its ingestion transaction."""

from __future__ import annotations

from django.dispatch import receiver

from budgets.services import usage_apply
from tokens.signals import usage_recorded, usage_repriced


@receiver(usage_recorded, dispatch_uid="budgets_usage_recorded")
def on_usage_recorded(sender, records, **kwargs) -> None:
    usage_apply(records=records)


@receiver(usage_repriced, dispatch_uid="budgets_usage_repriced")
def on_usage_repriced(sender, record_ids, **kwargs) -> None:
    # The tokens were charged when the records arrived; only their new cost is added now.
    from django.db import transaction

    from tokens.models import UsageRecord

    records = list(UsageRecord.objects.filter(pk__in=list(record_ids)))
    if records:
        with transaction.atomic():
            usage_apply(records=records, count_tokens=False, settle=False)
