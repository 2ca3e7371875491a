from decimal import Decimal

from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery, Sum
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from tokens import selectors
from tokens.models import ApiKey, ModelPrice, Run, UsageRecord
from tokens.services import api_key_create, api_key_revoke, money_str, usage_records_reprice


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = (
        "name", "provider", "input_per_million", "output_per_million", "cache_read_per_million",
        "cache_write_per_million", "context_window", "max_output_tokens", "valid_from",
    )
    list_filter = ("provider", "mode")
    search_fields = ("name", "aliases")
    ordering = ("name", "-valid_from")
    change_list_template = "admin/tokens/modelprice/change_list.html"

    def get_readonly_fields(self, request, obj=None):
        # A stored version is history: change a price by adding a new version.
        if obj is not None:
            return [f.name for f in self.model._meta.fields] + ["price_history"]
        return ()

    def get_fields(self, request, obj=None):
        fields = [f.name for f in self.model._meta.fields if f.name not in ("id", "created_at")]
        return fields + ["price_history"] if obj is not None else fields

    @admin.display(description="price history (USD per 1M tokens)")
    def price_history(self, obj: ModelPrice) -> str:
        rows = ModelPrice.objects.filter(name=obj.name).order_by("-valid_from")
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (f"{r.valid_from:%Y-%m-%d %H:%M}", money_str(r.input_per_million),
                 money_str(r.output_per_million), money_str(r.cache_read_per_million) or "-",
                 money_str(r.cache_write_per_million) or "-")
                for r in rows
            ),
        )
        return format_html(
            "<table><tr><th>valid from</th><th>input</th><th>output</th><th>cache read</th>"
            "<th>cache write</th></tr>{}</table>", body,
        )

    def get_urls(self):
        return [
            path("unpriced/", self.admin_site.admin_view(self.unpriced_view), name="tokens_unpriced"),
        ] + super().get_urls()

    def unpriced_view(self, request: HttpRequest):
        """Models seen in usage without a price, and a button to reprice them."""
        if request.method == "POST" and self.has_change_permission(request):
            models = request.POST.getlist("model")
            count = usage_records_reprice(models=models)
            self.message_user(request, f"Repriced {count} records.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:tokens_unpriced"))
        rows = selectors.unpriced_models()
        from tokens.pricing import catalog

        for row in rows:
            row["has_price"] = catalog.latest(row["model"]) is not None
        context = {
            **self.admin_site.each_context(request),
            "title": "Unpriced models",
            "rows": rows,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/tokens/unpriced.html", context)


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = (
        "occurred_at", "user", "agent", "tool", "model", "total_tokens", "cost", "priced", "cache_hit", "run_id",
    )
    list_filter = ("priced", "cache_hit", "agent", "model", ("occurred_at", admin.DateFieldListFilter), "user")
    search_fields = ("request_id", "run_id", "model", "user__username")
    date_hierarchy = "occurred_at"
    list_select_related = ("user",)
    show_full_result_count = False  # COUNT(*) over millions of rows is slow
    actions = ["reprice_unpriced"]

    @admin.display(description="cost (USD)", ordering="cost_usd")
    def cost(self, obj: UsageRecord) -> str:
        return money_str(obj.cost_usd)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Reprice unpriced records of the selected records' models")
    def reprice_unpriced(self, request, queryset):
        models = list(queryset.filter(priced=False).values_list("model", flat=True).distinct())
        count = usage_records_reprice(models=models)
        self.message_user(request, f"Repriced {count} records of {len(models)} models.", messages.SUCCESS)


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

    @admin.display(description="cost (USD)", ordering="total_cost")
    def cost(self, obj: Run) -> str:
        return money_str(obj.total_cost or Decimal(0))

    @admin.display(description="metrics by agent")
    def metrics_table(self, obj: Run) -> str:
        rows = selectors.run_metrics(run=obj)["by_agent"]
        if not rows:
            return "-"
        body = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((agent, f"{r['total_tokens']:,}", money_str(r["cost_usd"])) for agent, r in rows.items()),
        )
        return format_html("<table><tr><th>agent</th><th>tokens</th><th>USD</th></tr>{}</table>", body)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("key_prefix", "name", "user", "is_service", "created_at", "last_used_at", "active")
    list_filter = ("is_service", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "user__username", "key_prefix")
    list_select_related = ("user",)
    fields = ("user", "name", "is_service", "key_prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("key_prefix", "created_at", "last_used_at", "revoked_at")
    autocomplete_fields = ("user",)
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
        key, raw = api_key_create(user=obj.user, name=obj.name, is_service=obj.is_service)
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


# --- Optimization ------------------------------------------------------------------

from tokens.models import PromptTemplate, ResponseCacheEntry, SavingsRecord, UserPreference  # noqa: E402


@admin.register(PromptTemplate)
class PromptTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "agent_type", "richness", "token_count", "baseline_token_count",
                    "saved", "is_active")
    list_filter = ("agent_type", "richness", "is_active")
    search_fields = ("name", "agent_type")
    readonly_fields = ("variables", "token_count", "baseline_token_count", "saved", "created_at")

    @admin.display(description="saved vs baseline")
    def saved(self, obj: PromptTemplate) -> str:
        if not obj.baseline_token_count:
            return "-"
        return f"{obj.tokens_saved:,} tok ({obj.savings_percent}%)"


@admin.register(UserPreference)
class UserPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "optimization_enabled", "updated_at")
    list_filter = ("optimization_enabled",)
    search_fields = ("user__username",)
    list_select_related = ("user",)
    autocomplete_fields = ("user",)


class SavingsRecordAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "source", "technique", "model", "original_tokens",
                    "optimized_tokens",
                    "tokens_saved", "usd")
    list_filter = ("source", "technique", "model")
    search_fields = ("user__username", "technique", "model")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description="USD saved", ordering="usd_saved")
    def usd(self, obj: SavingsRecord) -> str:
        return money_str(obj.usd_saved)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# The analytics app may register its own view of the ledger; do not clash with it.
if not admin.site.is_registered(SavingsRecord):
    admin.site.register(SavingsRecord, SavingsRecordAdmin)


@admin.register(ResponseCacheEntry)
class ResponseCacheEntryAdmin(admin.ModelAdmin):
    list_display = ("scope", "key_hash", "user", "model", "input_tokens", "output_tokens", "hits",
                    "last_used_at", "expires_at")
    list_filter = ("model",)
    search_fields = ("key_hash", "scope", "user__username")
    list_select_related = ("user",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
