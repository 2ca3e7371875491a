"""Server-rendered pages of the tokens app: the live usage page and its JSON snapshot."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.events import jsonable
from live.selectors import LATEST_CALLS, live_budget_part, live_snapshot


def _scope_all(request: HttpRequest) -> bool:
    """Staff watch everyone by default (``?scope=mine`` for their own); customers only themselves."""
    scope = request.GET.get("scope", "")
    if scope == "all" and not request.user.is_staff:
        raise PermissionDenied("Only staff can watch all users.")
    if scope == "mine":
        return False
    return request.user.is_staff


@require_GET
@login_required
def live_page(request: HttpRequest) -> HttpResponse:
    scope_all = _scope_all(request)
    snapshot = live_snapshot(viewer=request.user, scope_all=scope_all)
    config = {
        **jsonable(snapshot),
        "ws_path": "/ws/usage/" + ("?scope=all" if scope_all else ""),
        "snapshot_url": request.path + "snapshot/" + ("?scope=all" if scope_all else "?scope=mine"),
        "time_zone": settings.TIME_ZONE,
        "latest_calls": LATEST_CALLS,
    }
    return render(request, "live.html", {"snapshot": snapshot, "config": config, "scope_all": scope_all})


@require_GET
@login_required
def live_snapshot_json(request: HttpRequest) -> JsonResponse:
    """The first paint as JSON; the page refetches it after a reconnect (``?part=budgets``: gauges and tile)."""
    if request.GET.get("part") == "budgets":
        return JsonResponse(jsonable(live_budget_part(viewer=request.user)))
    return JsonResponse(jsonable(live_snapshot(viewer=request.user, scope_all=_scope_all(request))))
