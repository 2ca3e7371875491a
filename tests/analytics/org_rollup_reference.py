"""The organization rollups computed in Python from the ledger's records: what the SQL rollups must equal."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from analytics.models import OrgDailyUsage, OrgLatencyDaily, OrgTagDailyUsage
from analytics.rollups import latency_bucket
from tokens.models import UsageRecord

COUNTERS = OrgDailyUsage.COUNTERS


def _add(target: list, record: UsageRecord) -> None:
    hit = record.cache_hit or record.cached_input_tokens > 0
    for i, value in enumerate((1, record.total_tokens, record.cost_usd, int(hit),
                               int(record.optimization_technique != ""))):
        target[i] += value


def ledger_org_rollups() -> tuple[dict, dict, dict]:
    """(OrgDailyUsage, OrgTagDailyUsage, OrgLatencyDaily) as {key: counters} from the ledger."""
    daily: dict = defaultdict(lambda: [0, 0, Decimal(0), 0, 0])
    tagged: dict = defaultdict(lambda: [0, 0, Decimal(0), 0, 0])
    latency: dict = defaultdict(int)
    for r in UsageRecord.objects.filter(organization__isnull=False):
        dims = (r.user_id, r.project_id or 0, r.api_key_id or 0, r.agent, r.model)
        day = r.occurred_at.date()
        _add(daily[(r.organization_id, day, *dims)], r)
        for tag in set(r.tags):
            _add(tagged[(r.organization_id, day, tag, *dims)], r)
        if r.latency_ms is not None:
            latency[(r.organization_id, day, latency_bucket(r.latency_ms))] += 1
    return ({k: tuple(v) for k, v in daily.items()}, {k: tuple(v) for k, v in tagged.items()}, dict(latency))


def rollup_org_rollups() -> tuple[dict, dict, dict]:
    daily = {(r.organization_id, r.day, r.user_id, r.project_ref, r.key_ref, r.agent, r.model):
             tuple(getattr(r, name) for name in COUNTERS) for r in OrgDailyUsage.objects.all()}
    tagged = {(r.organization_id, r.day, r.tag, r.user_id, r.project_ref, r.key_ref, r.agent, r.model):
              tuple(getattr(r, name) for name in COUNTERS) for r in OrgTagDailyUsage.objects.all()}
    latency = {(r.organization_id, r.day, r.latency_bucket): r.requests for r in OrgLatencyDaily.objects.all()}
    # A row taken back to zero (a reprice moves records out and in) holds nothing: not a difference.
    daily = {k: v for k, v in daily.items() if v[0]}
    tagged = {k: v for k, v in tagged.items() if v[0]}
    latency = {k: v for k, v in latency.items() if v}
    return daily, tagged, latency
