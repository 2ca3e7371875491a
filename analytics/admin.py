"""Admin: alerts with acknowledge, policies with pin/override, rollups, and the analytics overview."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from analytics import selectors
from analytics.models import Alert, DailyUsage, OptimizationPolicy
from analytics.services import policy_pin, policy_refresh, policy_unpin
from core.admin import ViewOnlyAdminMixin


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "severity", "user", "message", "acknowledged")
    list_filter = ("kind", "severity", ("acknowledged_at", admin.EmptyFieldListFilter))
    search_fields = ("message", "user__username", "dedupe_key")
    list_select_related = ("user", "acknowledged_by")
    readonly_fields = [f.name for f in Alert._meta.fields]
    actions = ["acknowledge"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(boolean=True, description="acknowledged", ordering="acknowledged_at")
    def acknowledged(self, obj: Alert) -> bool:
        return obj.acknowledged_at is not None

    @admin.action(description="Acknowledge selected alerts")
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        count = queryset.filter(acknowledged_at__isnull=True).update(
            acknowledged_at=timezone.now(), acknowledged_by=request.user
        )
        self.message_user(request, f"Acknowledged {count} alerts.", messages.SUCCESS)


@admin.register(OptimizationPolicy)
class OptimizationPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "compression_level",
        "current_model",
        "suggested_model",
        "caching_enabled",
        "trigger_list",
        "estimated_savings_usd",
        "pinned",
        "computed_at",
    )
    list_filter = ("pinned", "compression_level", "caching_enabled")
    search_fields = ("user__username",)
    list_select_related = ("user",)
    readonly_fields = (
        "user",
        "current_model",
        "triggers",
        "figures",
        "estimated_savings_usd",
        "pinned",
        "pinned_by",
        "computed_at",
        "updated_at",
    )
    fields = (
        "user",
        "compression_level",
        "suggested_model",
        "caching_enabled",
        "note",
        "current_model",
        "triggers",
        "estimated_savings_usd",
        "figures",
        "pinned",
        "pinned_by",
        "computed_at",
        "updated_at",
    )
    actions = ["pin", "unpin", "recompute"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # policies come from the optimizer (or GET /api/v1/policy), then admins override

    @admin.display(description="triggers")
    def trigger_list(self, obj: OptimizationPolicy) -> str:
        return ", ".join(obj.triggers or []) or "–"

    def save_model(self, request, obj, form, change):
        # An admin's edit is an override: save it, then pin it so the hourly refresh keeps it.
        super().save_model(request, obj, form, change)
        if change and form.changed_data:
            policy_pin(policy=obj, by=request.user, note=obj.note)

    @admin.action(description="Pin (keep as is)")
    def pin(self, request: HttpRequest, queryset: QuerySet[OptimizationPolicy]) -> None:
        for policy in queryset:
            policy_pin(policy=policy, by=request.user)
        self.message_user(request, f"Pinned {queryset.count()} policies.", messages.SUCCESS)

    @admin.action(description="Unpin and recompute")
    def unpin(self, request: HttpRequest, queryset: QuerySet[OptimizationPolicy]) -> None:
        for policy in queryset.select_related("user"):
            policy_unpin(policy=policy)
            policy_refresh(user=policy.user)
        self.message_user(request, f"Unpinned {queryset.count()} policies.", messages.SUCCESS)

    @admin.action(description="Recompute now (pinned ones are kept)")
    def recompute(self, request: HttpRequest, queryset: QuerySet[OptimizationPolicy]) -> None:
        for policy in queryset.select_related("user"):
            policy_refresh(user=policy.user)
        self.message_user(request, "Recomputed.", messages.SUCCESS)


@admin.register(DailyUsage)
class DailyUsageAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):  # rebuilt from the ledger, never edited
    list_display = (
        "day",
        "user",
        "agent",
        "model",
        "tool",
        "requests",
        "total_tokens",
        "cost_usd",
        "cache_hits",
        "tokens_saved",
    )
    list_filter = (("day", admin.DateFieldListFilter),)
    search_fields = ("user__username", "agent", "model", "tool")
    list_select_related = ("user",)
    show_full_result_count = False
    change_list_template = "admin/analytics/dailyusage/change_list.html"

    def get_urls(self):
        return [
            path("overview/", self.admin_site.admin_view(self.overview_view), name="analytics_overview"),
        ] + super().get_urls()

    def overview_view(self, request: HttpRequest):
        """All users at a glance: totals, top spenders, trend, unpriced models, open alerts."""
        try:
            period = selectors.period_parse(period=request.GET.get("period", "30d"))
        except selectors.PeriodError:
            period = selectors.period_parse(period="30d")
        data = selectors.admin_overview(period=period)
        peak = max((row["cost_usd"] for row in data["trend"]), default=0) or 1
        for row in data["trend"]:
            row["height"] = float(row["cost_usd"] / peak * 100)
        context = {
            **self.admin_site.each_context(request),
            "title": "Analytics overview",
            "opts": self.model._meta,
            "choice": f"{period.days}d",
            **data,
        }
        return TemplateResponse(request, "admin/analytics/overview.html", context)
