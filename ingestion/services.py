"""The ingestion pipeline: every step a usage record takes, in order, in one function.

``usage_ingest`` is the only way usage enters the ledger (the usage API, the
demo data, later the gateway and OTLP). Reading it top-down names each step;
no signal or receiver adds any. ``usage_reprice`` is the same for records
stored unpriced that the catalog can price now, and for a date range priced
wrongly (with an audit row).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import OperationalError, transaction
from django.utils import timezone

from analytics.alerts import budget_alerts_raise, unpriced_alerts_raise
from analytics.rollups import daily_usage_add
from budgets.selectors import remaining_for_records
from budgets.services import budget_windows_charge, reservations_settle
from core import events
from core.db import lock_conflict
from core.errors import Busy
from tokens.events import token_usage_data
from tokens.models import ApiKey, UsageRecord
from tokens.pricing import catalog
from tokens.services import (
    RecordResult,
    UsageBatch,
    reprice_audit_close,
    reprice_audit_open,
    usage_price,
    usage_records_price,
    usage_reprice_ids,
    usage_reprice_lock,
    usage_store,
    usage_validate,
)

logger = logging.getLogger(__name__)

# Tries of one batch's transaction when the database aborts it for a deadlock or serialization failure.
INGEST_ATTEMPTS = 5


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
    # Every step below locks rows in one order: ledger keys, runs, reservations, rollups, budget windows,
    # each sorted. A deadlock or serialization failure left (another writer's order) retries the batch.
    for attempt in range(1, INGEST_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                _usage_commit(batch=batch, now=now)
            break
        except OperationalError as exc:
            if not lock_conflict(exc):
                raise
            if attempt == INGEST_ATTEMPTS:
                # Nothing of the batch was stored; request_ids make sending it again safe.
                raise Busy(f"The batch met {lock_conflict(exc)} {attempt} times; send it again.") from exc
            logger.warning("usage batch of %d records: %s; retrying (attempt %d)", len(batch.priced),
                           lock_conflict(exc), attempt + 1)
            time.sleep(random.uniform(0, 0.02 * attempt))  # noqa: S311 - jitter, not a secret
    return batch.results


def _usage_commit(*, batch: UsageBatch, now: datetime) -> None:
    """The writes of one batch, in one transaction, in the lock order."""
    created = usage_store(batch=batch)  # 3. store, idempotently; create their runs
    if created:
        reservations_settle(records=created, now=now)  # 4. commit the holds they name
        daily_usage_add(record_ids=[r.pk for r in created])  # 5. roll up: daily, run and technique totals
        crossings = budget_windows_charge(records=created)  # 6. charge every applicable budget window
        budget_alerts_raise(crossings=crossings)  # 7. alert thresholds crossed (sent after commit)
        unpriced_alerts_raise(records=created)  # 8. alert models without a price (once per model and day)
        transaction.on_commit(lambda: usage_announce(records=created))  # 9. live events after commit


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


@dataclass(frozen=True)
class _CostChange:
    """What a repriced record adds to its budget windows: the change of its billed cost."""

    user_id: int
    agent: str
    run_id: str
    occurred_at: datetime
    cost_usd: Decimal
    total_tokens: int = 0
    organization_id: int | None = None
    project_id: int | None = None
    api_key_id: int | None = None
    tags: tuple[str, ...] = ()


def usage_reprice(*, models: list[str] | None = None, start: datetime | None = None, end: datetime | None = None,
                  only_unpriced: bool = True, user_id: int | None = None, actor: str = "",
                  reason: str = "") -> int:
    """Price stored records again at the catalog (and overrides) valid when each occurred. Returns how many changed.

    By default the unpriced records of ``models``, now that the catalog knows them. With
    ``only_unpriced=False``, every record of ``models`` (all models if None) that occurred in
    ``start``..``end`` (of one user with ``user_id``): the fix after a wrong price or a new
    override. Each chunk moves in one transaction: out of the rollups, priced, back into the
    rollups, and the change of its cost charged to the budgets (its tokens were charged when it
    arrived). Every run leaves a RepriceAudit row.
    """
    catalog.invalidate()  # a price was just added, perhaps by another process
    audit = reprice_audit_open(actor=actor, reason=reason, models=models, start=start, end=end,
                               only_unpriced=only_unpriced)
    seen = repriced = 0
    before = after = Decimal(0)
    for ids in usage_reprice_ids(models=models, start=start, end=end, only_unpriced=only_unpriced,
                                 user_id=user_id):
        seen += len(ids)
        with transaction.atomic():
            records = usage_reprice_lock(ids=ids, only_unpriced=only_unpriced)
            if not records:
                continue
            old = {r.pk: r.cost_usd for r in records}
            record_ids = [r.pk for r in records]
            daily_usage_add(record_ids=record_ids, sign=-1)
            usage_records_price(records=records)
            daily_usage_add(record_ids=record_ids)
            changes = [_CostChange(user_id=r.user_id, agent=r.agent, run_id=r.run_id, occurred_at=r.occurred_at,
                                   cost_usd=r.cost_usd - old[r.pk], organization_id=r.organization_id,
                                   project_id=r.project_id, api_key_id=r.api_key_id, tags=tuple(r.tags or ()))
                       for r in records]
            crossings = budget_windows_charge(records=changes, count_tokens=False)
            budget_alerts_raise(crossings=crossings)
        repriced += len(records)
        before += sum(old.values(), Decimal(0))
        after += sum((r.cost_usd for r in records), Decimal(0))
    reprice_audit_close(audit=audit, seen=seen, changed=repriced, before=before, after=after)
    return repriced
