"""Cost reports (selectors): the summary and detailed JSON reports and the CSV rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, Sum

from analytics import selectors
from analytics.selectors import Period
from core.money import money_str
from tokens.counts import COMPLETION_FIELDS, PROMPT_FIELDS, TOKEN_FIELDS
from tokens.models import UsageRecord

CSV_COLUMNS = (
    "day",
    "agent",
    "model",
    "tool",
    "requests",
    *TOKEN_FIELDS,
    "cost_usd",
    "cache_hits",
    "optimized_requests",
    "tokens_saved",
    "usd_saved",
    "list_cost_usd",
    "unpriced_requests",
)


def _money(value: Decimal | None) -> str | None:
    return money_str(Decimal(value)) if value is not None else None


def _rate(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(Decimal("0.0001")), "f")


def _group_out(item: dict[str, Any], total_cost: Decimal) -> dict[str, Any]:
    return {
        "key": item["key"],
        "requests": item["requests"],
        "total_tokens": item["total_tokens"],
        "prompt_tokens": sum(item[f] for f in PROMPT_FIELDS),
        "completion_tokens": sum(item[f] for f in COMPLETION_FIELDS),
        "cost_usd": _money(item["cost_usd"]),
        "list_cost_usd": _money(item["list_cost_usd"]),
        "unpriced_requests": item["unpriced_requests"],
        "share_of_cost": _rate(item["cost_usd"] / total_cost) if total_cost else None,
    }


def report_summary(*, user, period: Period, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The plan's summary report: totals, top consumer, savings and recommendations."""
    data = data or selectors.dashboard_data(user=user, period=period)
    totals = data["totals"]
    by_agent = data["breakdown"]["by_agent"]
    top = by_agent[0] if by_agent else None
    savings = data["savings"]
    return {
        "format": "summary",
        "user": user.get_username(),
        "period": period.as_dict(),
        # Billed cost (after the customer's price overrides) and the catalog's list cost.
        "total_cost_usd": _money(totals["cost_usd"]),
        "total_list_cost_usd": _money(totals["list_cost_usd"]),
        "unpriced_requests": totals["unpriced_requests"],
        "total_tokens": totals["total_tokens"],
        "total_requests": totals["requests"],
        "average_cost_per_request_usd": _money(data["average_cost_per_request"].quantize(Decimal("1e-12")))
        if data["average_cost_per_request"] is not None
        else None,
        "top_consumer": {
            "agent": top["key"],
            "cost_usd": _money(top["cost_usd"]),
            "total_tokens": top["total_tokens"],
            "share_of_cost": _rate(top["cost_usd"] / totals["cost_usd"]) if totals["cost_usd"] else None,
        }
        if top
        else None,
        "cache_hit_rate": _rate(data["cache_hit_rate"]),
        "optimization_savings": {
            "optimization_usd": _money(savings["optimization_usd"]),
            "optimization_tokens": savings["optimization_tokens"],
            "cache_usd": _money(savings["cache_usd"]),
            "cache_tokens": savings["cache_tokens"],
            "total_usd": _money(savings["optimization_usd"] + savings["cache_usd"]),
        },
        "recommendations": [r["text"] for r in data["recommendations"]],
    }


def report_detailed(*, user, period: Period) -> dict[str, Any]:
    """The summary plus breakdowns: by agent, daily trend, by model, optimization impact."""
    data = selectors.dashboard_data(user=user, period=period)
    out = report_summary(user=user, period=period, data=data)
    out["format"] = "detailed"
    total_cost = data["totals"]["cost_usd"]
    breakdown = data["breakdown"]
    out["by_agent"] = [_group_out(item, total_cost) for item in breakdown["by_agent"]]
    out["by_model"] = [_group_out(item, total_cost) for item in breakdown["by_model"]]
    out["by_tool"] = [_group_out(item, total_cost) for item in breakdown["by_tool"]]
    out["daily_trend"] = [
        {
            "day": row["day"].isoformat(),
            "requests": row["requests"],
            "total_tokens": row["total_tokens"],
            "cost_usd": _money(row["cost_usd"]),
        }
        for row in breakdown["daily"]
    ]
    totals = data["totals"]
    techniques: dict[str, dict[str, Any]] = {}
    for row in selectors.techniques_reported(user=user, period=period):
        techniques[row["technique"]] = {
            "technique": row["technique"],
            "source": "usage_records",
            "requests": row["requests"],
            "original_tokens": row["original"] or 0,
        }
    for source, bucket in data["savings"]["by_source"].items():
        for technique, figures in bucket["techniques"].items():
            techniques.setdefault(
                f"{source}:{technique}",
                {
                    "technique": technique,
                    "source": source,
                    "requests": figures["events"],
                    "original_tokens": figures["original"],
                    "tokens_saved": figures["tokens"],
                    "usd_saved": _money(figures["usd"]),
                },
            )
    out["optimization_impact"] = {
        "optimized_requests": totals["optimized_requests"],
        "optimization_failures": totals["optimization_failures"],
        "failure_rate": _rate(
            selectors._ratio(totals["optimization_failures"], totals["optimized_requests"])
        ),
        "original_tokens": totals["original_tokens"],
        "tokens_saved_reported": totals["tokens_saved"],
        "usd_saved_reported": _money(totals["usd_saved"]),
        "compression_ratio": _rate(
            selectors._ratio(totals["original_tokens"] - totals["tokens_saved"], totals["original_tokens"])
        ),
        "techniques": list(techniques.values()),
    }
    out["top_runs"] = [
        {
            "run_id": r["run_id"],
            "cost_usd": _money(r["cost_usd"]),
            "total_tokens": r["total_tokens"],
            "requests": r["requests"],
        }
        for r in data["top_runs"]
    ]
    return out


def report_csv_rows(*, user, period: Period) -> list[list[Any]]:
    """One row per day, agent, model and tool, in day order."""
    rows = sorted(
        selectors.rollup_rows(user=user, period=period),
        key=lambda r: (r["day"], r["agent"], r["model"], r["tool"]),
    )
    out = []
    for row in rows:
        values = {
            **row,
            "day": row["day"].isoformat(),
            "cost_usd": _money(row["cost_usd"]),
            "list_cost_usd": _money(row["list_cost_usd"]),
            "usd_saved": _money(row["usd_saved"]),
        }
        out.append([values[c] for c in CSV_COLUMNS])
    return out


def provider_cost_by_model(*, user, period: Period) -> list[dict[str, Any]]:
    """Priced records of the period that carry a provider-reported cost, summed by model (ledger)."""
    return list(
        UsageRecord.objects.filter(user=user, occurred_at__gte=period.since, occurred_at__lt=period.until,
                                   priced=True, provider_cost_usd__isnull=False)
        .values("model")
        .annotate(requests=Count("id"), list_cost=Sum("list_cost_usd"), provider_cost=Sum("provider_cost_usd"),
                  differing=Count("id", filter=~Q(provider_cost_usd=F("list_cost_usd"))))
        .order_by("model")
    )


def report_reconciliation(*, user, period: Period) -> dict[str, Any]:
    """Netra's list cost beside the cost the provider reported (OpenRouter's usage.cost), by model."""
    rows = provider_cost_by_model(user=user, period=period)
    models = []
    totals = {"requests": 0, "list": Decimal(0), "provider": Decimal(0), "differing": 0}
    for row in rows:
        listed, reported = Decimal(row["list_cost"] or 0), Decimal(row["provider_cost"] or 0)
        difference = reported - listed
        models.append({
            "model": row["model"],
            "requests": row["requests"],
            "list_cost_usd": _money(listed),
            "provider_cost_usd": _money(reported),
            "difference_usd": _money(difference),
            "difference_percent": _rate(difference / listed * 100) if listed else None,
            "requests_differing": row["differing"],
        })
        totals["requests"] += row["requests"]
        totals["list"] += listed
        totals["provider"] += reported
        totals["differing"] += row["differing"]
    return {
        "user": user.get_username(),
        "period": period.as_dict(),
        "requests": totals["requests"],
        "list_cost_usd": _money(totals["list"]),
        "provider_cost_usd": _money(totals["provider"]),
        "difference_usd": _money(totals["provider"] - totals["list"]),
        "requests_differing": totals["differing"],
        "by_model": models,
    }
