"""Cost reports (selectors): the summary and detailed JSON reports and the CSV rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from analytics import selectors
from analytics.selectors import Period
from core.money import money_str
from tokens.counts import TOKEN_FIELDS

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
        "prompt_tokens": item["input_tokens"] + item["cached_input_tokens"] + item["cache_write_tokens"],
        "completion_tokens": item["output_tokens"] + item["reasoning_tokens"],
        "cost_usd": _money(item["cost_usd"]),
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
        "total_cost_usd": _money(totals["cost_usd"]),
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
        techniques[row["optimization_technique"]] = {
            "technique": row["optimization_technique"],
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
            "usd_saved": _money(row["usd_saved"]),
        }
        out.append([values[c] for c in CSV_COLUMNS])
    return out
