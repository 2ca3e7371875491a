"""Prometheus metrics, computed from the rollup at scrape time.

Every daemon and worker writes to PostgreSQL, so reading the (small) rollup of
the current UTC day at scrape time gives the same answer from any process,
without prometheus-client's multiprocess mode. Labels are bounded: users and
models are the top N of the day plus one ``other`` series, triggers and
sources are fixed sets.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from analytics.models import Alert, DailyUsage, OptimizationPolicy, UserDailyUsage
from core.events import SENT_COUNTER_KEY
from optimization.models import SavingsRecord

TOP_USERS = 20
TOP_MODELS = 10


def _top(rows: list[dict], key: str, value: str, limit: int) -> list[tuple[str, float, dict]]:
    rows = sorted(rows, key=lambda r: -(r[value] or 0))
    out = [(str(r[key]), float(r[value] or 0), r) for r in rows[:limit]]
    if len(rows) > limit:
        rest = {k: sum((r[k] or 0) for r in rows[limit:]) for k in rows[0] if k != key}
        out.append(("other", float(rest[value] or 0), rest))
    return out


class NetraCollector:
    def collect(self):
        today = timezone.now().astimezone(UTC).date()
        day = DailyUsage.objects.filter(day=today)

        per_user = GaugeMetricFamily(
            "token_usage_per_user", "Tokens used today (UTC) per user, top 20 + other.", labels=["user"]
        )
        rows = list(
            UserDailyUsage.objects.filter(day=today)
            .values("user__username")
            .annotate(tokens=Sum("total_tokens"))
            .order_by()
        )
        for name, tokens, _ in _top(rows, "user__username", "tokens", TOP_USERS):
            per_user.add_metric([name], tokens)
        yield per_user

        model_rows = list(
            day.values("model").annotate(requests=Sum("requests"), cost=Sum("cost_usd")).order_by()
        )
        cost_per_request = GaugeMetricFamily(
            "token_cost_per_request", "Average USD per request today, by model.", labels=["model"]
        )
        distribution = GaugeMetricFamily(
            "model_selection_distribution", "Share of today's requests per model.", labels=["model"]
        )
        total_requests = sum(r["requests"] or 0 for r in model_rows)
        for name, requests, row in _top(model_rows, "model", "requests", TOP_MODELS):
            if requests:
                cost_per_request.add_metric([name], float(Decimal(row["cost"] or 0) / Decimal(requests)))
            distribution.add_metric([name], requests / total_requests if total_requests else 0.0)
        yield cost_per_request
        yield distribution

        totals = day.aggregate(
            requests=Sum("requests"),
            hits=Sum("cache_hits"),
            original=Sum("original_tokens"),
            saved=Sum("tokens_saved"),
        )
        hit_rate = GaugeMetricFamily("cache_hit_rate", "Share of today's requests that hit a cache.")
        hit_rate.add_metric([], (totals["hits"] or 0) / totals["requests"] if totals["requests"] else 0.0)
        yield hit_rate

        compression = GaugeMetricFamily(
            "prompt_compression_ratio",
            "Optimized / original prompt tokens today (lower saves more).",
            labels=["source"],
        )
        if totals["original"]:
            compression.add_metric(
                ["usage_records"], (totals["original"] - totals["saved"]) / totals["original"]
            )
        services = SavingsRecord.objects.filter(
            source=SavingsRecord.SOURCE_OPTIMIZE, created_at__date=today
        ).aggregate(original=Sum("original_tokens"), optimized=Sum("optimized_tokens"))
        if services["original"]:
            compression.add_metric(["optimize_service"], services["optimized"] / services["original"])
        yield compression

        triggers = GaugeMetricFamily(
            "optimization_trigger_rate",
            "Share of users whose policy has each AutoTokenOptimizer trigger.",
            labels=["trigger"],
        )
        policies = list(OptimizationPolicy.objects.values_list("triggers", flat=True))
        for trigger in OptimizationPolicy.TRIGGERS:
            hits = sum(1 for t in policies if trigger in (t or []))
            triggers.add_metric([trigger], hits / len(policies) if policies else 0.0)
        yield triggers

        exceeded = CounterMetricFamily(
            "budget_exceeded_events", "Budget alerts at or above 100% of the limit."
        )
        exceeded.add_metric(
            [],
            Alert.objects.aggregate(
                n=Count("id", filter=Q(kind=Alert.KIND_BUDGET_THRESHOLD, threshold__gte=100))
            )["n"],
        )
        yield exceeded

        ws = CounterMetricFamily("websocket_token_events", "Live events sent to WebSocket groups.")
        ws.add_metric([], float(cache.get(SENT_COUNTER_KEY) or 0))
        yield ws


def metrics_render() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NetraCollector())
    return generate_latest(registry)
