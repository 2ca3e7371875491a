"""The run page ``/runs/<run_id>/``: one run's calls in order, for its owner, org admins and staff.

A run id is unique per user, so ``?user=<username>`` names whose run it is
(default: the viewer's own). The owner and staff see every call; an owner or
admin of an organization sees the calls attributed to that organization;
anyone else gets a 404, as if the run did not exist.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from analytics.org_views import bad_request
from core.money import ZERO
from organizations.models import Membership
from tokens.models import UsageRecord

RUN_PAGE_SIZE = 50


def run_calls_visible(*, viewer, owner, run_id: str) -> QuerySet:
    """The calls of ``owner``'s run ``run_id`` that ``viewer`` may see (possibly none)."""
    calls = UsageRecord.objects.filter(user=owner, run_id=run_id)
    if viewer.pk == owner.pk or viewer.is_staff:
        return calls
    managed = Membership.objects.filter(user=viewer, role__in=Membership.MANAGER_ROLES).values("organization_id")
    return calls.filter(organization_id__in=managed)


def run_summary(calls: QuerySet) -> dict[str, Any]:
    row = calls.aggregate(
        calls=Count("id"),
        total_tokens=Sum("total_tokens"),
        cost_usd=Sum("cost_usd"),
        latency_ms=Sum("latency_ms"),
        cache_hits=Count("id", filter=Q(cache_hit=True) | Q(cached_input_tokens__gt=0)),
        optimized=Count("id", filter=~Q(optimization_technique="")),
        unpriced=Count("id", filter=Q(priced=False)),
        agents=Count("agent", distinct=True),
        first=Min("occurred_at"),
        last=Max("occurred_at"),
    )
    row["cost_usd"] = row["cost_usd"] or ZERO
    row["total_tokens"] = row["total_tokens"] or 0
    return row


def _page_number(text: str, pages: int) -> int | None:
    if not text:
        return 1
    if not text.isdigit() or len(text) > 9 or not 1 <= int(text) <= pages:
        return None
    return int(text)


@login_required
@require_GET
def run_page(request: HttpRequest, run_id: str) -> HttpResponse:
    username = request.GET.get("user", "").strip()
    owner = request.user
    if username and username != request.user.get_username():
        owner = get_user_model().objects.filter(username=username).first()
        if owner is None:
            raise Http404("No such run.")
    calls = run_calls_visible(viewer=request.user, owner=owner, run_id=run_id)
    summary = run_summary(calls)
    if not summary["calls"]:
        raise Http404("No such run.")
    pages = -(-summary["calls"] // RUN_PAGE_SIZE)
    page = _page_number(request.GET.get("page", "").strip(), pages)
    if page is None:
        return bad_request(request, f"page must be a whole number from 1 to {pages}.", request.path)
    offset = (page - 1) * RUN_PAGE_SIZE
    rows = list(calls.order_by("occurred_at", "id")[offset:offset + RUN_PAGE_SIZE])
    user_query = f"user={owner.get_username()}&" if owner.pk != request.user.pk else ""
    return render(
        request,
        "analytics/run.html",
        {
            "run_id": run_id,
            "owner": owner,
            "summary": summary,
            "calls": [(offset + i + 1, call) for i, call in enumerate(rows)],
            "page": page,
            "pages": pages,
            "page_size": RUN_PAGE_SIZE,
            "user_query": user_query,
            "partial": owner.pk != request.user.pk and not request.user.is_staff,
        },
    )
