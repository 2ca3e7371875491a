"""Admin of the metering core: runs and API keys (the catalog and ledger admins live in ingestion.admin)."""

from decimal import Decimal

from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery, Sum
from django.utils.html import format_html, format_html_join

from core.admin import admin_money
from core.money import dollars
from tokens import selectors
from tokens.models import ApiKey, Run, UsageRecord
from tokens.services import api_key_create, api_key_revoke


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("run_id", "user", "token_budget", "created_at", "tokens", "cost")
    search_fields = ("run_id", "user__username")
    list_select_related = ("user",)
    readonly_fields = ("metrics_table",)

    def get_queryset(self, request):
        # Runs and records join on (user, run_id): two correlated sums per page
        # row in one query, not a query per row.
        records = UsageRecord.objects.filter(user_id=OuterRef("user_id"), run_id=OuterRef("run_id")).order_by()
        totals = records.values("user_id")
        return super().get_queryset(request).annotate(
            total_tokens=Subquery(totals.annotate(t=Sum("total_tokens")).values("t")),
            total_cost=Subquery(totals.annotate(c=Sum("cost_usd")).values("c")),
        )

    @admin.display(description="tokens", ordering="total_tokens")
    def tokens(self, obj: Run) -> str:
        return f"{obj.total_tokens or 0:,}"

    @admin.display(description="cost", ordering="total_cost")
    def cost(self, obj: Run) -> str:
        return admin_money(obj.total_cost or Decimal(0))

    @admin.display(description="metrics by agent")
    def metrics_table(self, obj: Run) -> str:
        rows = selectors.run_metrics(run=obj)["by_agent"]
        if not rows:
            return "-"
        body = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((agent, f"{r['total_tokens']:,}", dollars(r["cost_usd"])) for agent, r in rows.items()),
        )
        return format_html("<table><tr><th>agent</th><th>tokens</th><th>USD</th></tr>{}</table>", body)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("key_prefix", "name", "user", "project", "rpm_limit", "tpm_limit", "is_service", "created_at",
                    "last_used_at", "active")
    list_filter = ("is_service", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "user__username", "key_prefix")
    list_select_related = ("user", "project__organization")
    fields = ("user", "name", "project", "rpm_limit", "tpm_limit", "is_service", "key_prefix", "created_at",
              "last_used_at", "revoked_at")
    readonly_fields = ("key_prefix", "created_at", "last_used_at", "revoked_at")
    autocomplete_fields = ("user", "project")
    actions = ["revoke"]

    @admin.display(boolean=True)
    def active(self, obj: ApiKey) -> bool:
        return obj.is_active

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ("user", "name", "is_service", *self.readonly_fields)
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        key, raw = api_key_create(user=obj.user, name=obj.name, is_service=obj.is_service, project=obj.project,
                                  rpm_limit=obj.rpm_limit, tpm_limit=obj.tpm_limit)
        obj.pk = key.pk
        self.message_user(
            request,
            format_html("New API key (shown once, copy it now): <code>{}</code>", raw),
            messages.WARNING,
        )

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key)
        self.message_user(request, f"Revoked {queryset.count()} keys.", messages.SUCCESS)
