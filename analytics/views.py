"""Server-rendered pages (dashboard, reports) and the Prometheus endpoint."""

from __future__ import annotations

import hmac
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from analytics import reports, selectors
from analytics.metrics import metrics_render
from analytics.org_selectors import orgs_managed_by
from budgets.forecast import forecasts_for_items
from tokens.counts import COMPLETION_FIELDS, PROMPT_FIELDS

PALETTE = ["#3b5bdb", "#0ca678", "#f59f00", "#e8590c", "#ae3ec9", "#1098ad", "#868e96"]
MAX_SERIES = 6


def _period(request: HttpRequest) -> tuple[selectors.Period, str | None]:
    try:
        return selectors.period_parse(
            period=request.GET.get("period") if request.GET.get("period") != "custom" else None,
            start=request.GET.get("start") or None if request.GET.get("period") == "custom" else None,
            end=request.GET.get("end") or None if request.GET.get("period") == "custom" else None,
        ), None
    except selectors.PeriodError as exc:
        return selectors.period_parse(period="30d"), str(exc)


def _top_with_other(items: list[dict[str, Any]], value: str, limit: int) -> list[tuple[str, float]]:
    head = [(item["key"] or "(none)", float(item[value])) for item in items[:limit]]
    rest = sum(float(item[value]) for item in items[limit:])
    return head + ([("other", rest)] if rest else [])


def cache_figures(*, totals: dict[str, Any], netra_cache_events: int) -> dict[str, Any]:
    """One count of cache hits for both cache tiles (docs/analytics.md, "Cache tiles").

    Responses served by Netra's response cache never reach a model, so they have
    no usage record: they are added to the calls and to the hits here, so the
    hit rate and "saved by cache" count the same events.
    """
    requests = totals["requests"] + netra_cache_events
    hits = totals["cache_hits"] + netra_cache_events
    return {
        "requests": requests,
        "hits": hits,
        "netra_hits": netra_cache_events,
        "call_hits": totals["cache_hits"],
        "rate": Decimal(hits) / requests if requests else None,
    }


def chart_data(data: dict[str, Any]) -> dict[str, Any]:
    """What dashboard.js draws; floats are fine here, the tiles show exact figures."""
    breakdown = data["breakdown"]
    agents = list(breakdown["daily_by_agent"].items())
    series = [{"label": name, "data": [float(v) for v in values]} for name, values in agents[:MAX_SERIES]]
    if len(agents) > MAX_SERIES:
        rest = [
            sum(float(values[i]) for _, values in agents[MAX_SERIES:]) for i in range(len(breakdown["days"]))
        ]
        series.append({"label": "other", "data": rest})
    for i, item in enumerate(series):
        item["color"] = PALETTE[i % len(PALETTE)]
    models = _top_with_other(breakdown["by_model"], "cost_usd", MAX_SERIES)
    tools = _top_with_other(sorted(breakdown["by_tool"], key=lambda t: -t["total_tokens"]), "total_tokens", 8)
    return {
        "days": [d.strftime("%b %d") for d in breakdown["days"]],
        "daily_by_agent": series,
        "by_model": {"labels": [m for m, _ in models], "data": [v for _, v in models], "colors": PALETTE},
        "by_tool": {"labels": [t for t, _ in tools], "data": [v for _, v in tools]},
    }


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    period, error = _period(request)
    data = selectors.dashboard_data(user=request.user, period=period)
    data["budgets"] = forecasts_for_items(items=data["budgets"])
    total_savings = data["savings"]["optimization_usd"] + data["savings"]["cache_usd"]
    cache = cache_figures(totals=data["totals"], netra_cache_events=data["savings"]["cache_events"])
    return render(
        request,
        "dashboard.html",
        {
            **data,
            "error": error,
            "choice": request.GET.get("period", "30d") if not error else "30d",
            "charts": chart_data(data),
            "has_spend": any(item["cost_usd"] for item in data["breakdown"]["by_model"]),
            "has_tokens": any(item["total_tokens"] for item in data["breakdown"]["by_tool"]),
            "cache": cache,
            "organizations": orgs_managed_by(user=request.user),
            "total_savings": total_savings,
            "prompt_tokens": sum(data["totals"][f] for f in PROMPT_FIELDS),
            "completion_tokens": sum(data["totals"][f] for f in COMPLETION_FIELDS),
            "budget_peak": max(
                (Decimal(b["percent_used"]) for b in data["budgets"] if b.get("percent_used") is not None),
                default=None,
            ),
            "spend_per_day": data["totals"]["cost_usd"] / period.days if period.days else Decimal(0),
        },
    )


@login_required
@require_GET
def reports_page(request: HttpRequest) -> HttpResponse:
    period, error = _period(request)
    summary = reports.report_summary(user=request.user, period=period)
    return render(
        request,
        "reports.html",
        {
            "summary": summary,
            "period": period,
            "error": error,
            "choice": request.GET.get("period", "30d") if not error else "30d",
            "query": f"period={period.days}d"
            if not request.GET.get("period") == "custom" or error
            else f"start={period.start:%Y-%m-%d}&end={period.end:%Y-%m-%d}",
        },
    )


def _metrics_allowed(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    return bool(token) and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition; staff session or ``Authorization: Bearer $METRICS_TOKEN``."""
    if not _metrics_allowed(request):
        response = HttpResponse(
            "metrics need a staff session or the metrics token\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_render(), content_type=CONTENT_TYPE_LATEST)
