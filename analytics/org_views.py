"""The organization dashboard page: all members' spend for owners, admins and staff."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from analytics import org_selectors, selectors
from core.errors import InvalidInput

PERIOD_CHOICES = ("7d", "30d", "90d")


def bad_request(request: HttpRequest, message: str, back: str) -> HttpResponse:
    """The 400 page: what was wrong and a way back."""
    return render(request, "analytics/bad_request.html", {"message": message, "back": back}, status=400)


def period_from_query(request: HttpRequest) -> tuple[selectors.Period, str]:
    """``period`` (7d/30d/90d/Nd) or ``start``/``end``; raises selectors.PeriodError."""
    start, end = request.GET.get("start", "").strip(), request.GET.get("end", "").strip()
    choice = request.GET.get("period", "30d").strip() or "30d"
    if start or end or choice == "custom":
        if not start:
            raise selectors.PeriodError("A custom period needs a start date.", "start")
        return selectors.period_parse(start=start or None, end=end or None), "custom"
    return selectors.period_parse(period=choice), choice


def _chart(data: dict) -> dict:
    return {
        "days": [day.strftime("%b %d") for day, _ in data["daily"]],
        "daily_by_agent": [{"label": "spend", "data": [float(v) for _, v in data["daily"]], "color": "#3b5bdb"}],
    }


@login_required
@require_GET
def org_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    organization = org_selectors.org_for_viewer(user=request.user, slug=slug)
    if organization is None:
        raise Http404("No such organization.")
    back = f"/dashboard/org/{organization.slug}/"
    try:
        period, choice = period_from_query(request)
    except selectors.PeriodError as exc:
        return bad_request(request, str(exc), back)
    try:
        filters = org_selectors.org_filters_parse(organization=organization, params=request.GET)
    except InvalidInput as exc:
        return bad_request(request, exc.message, back)
    data = org_selectors.org_dashboard(organization=organization, filters=filters, period=period)
    requests = data["totals"]["requests"]
    return render(
        request,
        "analytics/org_dashboard.html",
        {
            **data,
            "filters": filters,
            "active_filters": filters.query(),
            "choices": org_selectors.org_filter_choices(organization=organization),
            "choice": choice,
            "period_choices": PERIOD_CHOICES,
            "charts": _chart(data),
            "has_spend": any(v for _, v in data["daily"]),
            "cache_hit_rate": Decimal(data["totals"]["cache_hits"]) / requests if requests else None,
        },
    )
