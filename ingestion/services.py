"""The ingestion pipeline: every step a usage record takes, in order, in one function.

``usage_ingest`` is the only way usage enters the ledger (the usage API, the
demo data, later the gateway and OTLP). Reading it top-down names each step;
no signal or receiver adds any. ``usage_reprice`` is the same for records
stored unpriced that the catalog can price now.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from analytics.alerts import budget_alerts_raise
from analytics.rollups import daily_usage_add
from budgets.selectors import remaining_for_records
from budgets.services import budget_windows_charge, reservations_settle
from core import events
from tokens.events import token_usage_data
from tokens.models import ApiKey, UsageRecord
from tokens.pricing import catalog
from tokens.services import (
    RecordResult,
    usage_price,
    usage_records_price,
    usage_store,
    usage_unpriced_ids,
    usage_unpriced_lock,
    usage_validate,
)

logger = logging.getLogger(__name__)


def usage_ingest(*, user, api_key: ApiKey | None, payloads: list[Any]) -> list[RecordResult]:
    """Validate, price and store posted usage records, then account for them everywhere.

    Idempotent on (user, request_id): a record seen before (earlier, in the
    same batch, or by a concurrent request) is answered "duplicate" and
    counted once. Valid records are stored even when others in the batch are
    invalid. Returns one result per payload, in order.
    """
    now = timezone.now()
    batch = usage_validate(user=user, api_key=api_key, payloads=payloads, now=now)  # 1. validate
    usage_price(batch=batch)  # 2. price at the catalog version valid when each call occurred
    if not batch.priced:
        return batch.results
    with transaction.atomic():
        created = usage_store(batch=batch)  # 3. store, idempotently; create their runs
        if created:
            reservations_settle(records=created, now=now)  # 4. commit the holds they name
            crossings = budget_windows_charge(records=created)  # 5. charge every applicable budget window
            daily_usage_add(record_ids=[r.pk for r in created])  # 6. roll up into the daily totals
            budget_alerts_raise(crossings=crossings)  # 7. alert thresholds crossed (sent after commit)
            transaction.on_commit(lambda: usage_announce(records=created))  # 8. live events after commit
    return batch.results


def usage_announce(*, records: list[UsageRecord]) -> None:
    """Publish one token_usage live event per record, with what is left of its tightest budget."""
    try:
        remaining = remaining_for_records(records=records)
    except Exception:  # the event still goes out, without budget figures
        logger.exception("remaining_for_records failed; announcing usage without budget figures")
        remaining = {}
    events.publish_many(
        [(r.user_id, "token_usage", token_usage_data(r, remaining.get(r.pk))) for r in records]
    )


def usage_reprice(*, models: list[str]) -> int:
    """Price stored unpriced records of ``models`` now that the catalog knows them. Returns how many.

    Each chunk moves in one transaction: out of the rollups as unpriced, priced,
    back into the rollups, and its cost charged to the budgets (its tokens were
    charged when it arrived).
    """
    catalog.invalidate()  # a price was just added, perhaps by another process
    repriced = 0
    for ids in usage_unpriced_ids(models=models):
        with transaction.atomic():
            records = usage_unpriced_lock(ids=ids)
            if not records:
                continue
            record_ids = [r.pk for r in records]
            daily_usage_add(record_ids=record_ids, sign=-1)
            usage_records_price(records=records)
            daily_usage_add(record_ids=record_ids)
            crossings = budget_windows_charge(records=records, count_tokens=False)
            budget_alerts_raise(crossings=crossings)
        repriced += len(records)
    return repriced
