"""Admin of the price catalog and the usage ledger.

Both offer repricing (stored unpriced records get a price once the catalog
knows their model), which is an ingestion flow: it moves the records' cost
into budgets and rollups too. So their admins live here, above those layers.
"""

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.admin import LedgerAdminMixin, admin_money
from core.money import money_str, price_str
from ingestion.services import usage_reprice
from tokens import selectors
from tokens.models import ModelPrice, PriceOverride, RepriceAudit, UsageRecord
from tokens.pricing import catalog


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = (
        "name", "provider", "mode", "input", "output", "cache_read", "cache_write", "context_window",
        "max_output_tokens", "valid_from",
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

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        catalog.invalidate()
        count = usage_reprice(models=[obj.name, *(obj.aliases or [])], actor=request.user.get_username(),
                              reason=f"new price version of {obj.name}")
        if count:
            self.message_user(request, f"Repriced {count} unpriced records of {obj.name}.", messages.SUCCESS)

    # Prices exact and in dollars ("$30.00", "$0.075"), never "3E+1" nor "30.0000000000" (core.money.price_str).
    @admin.display(description="input / 1M", ordering="input_per_million")
    def input(self, obj: ModelPrice) -> str:
        return price_str(obj.input_per_million)

    @admin.display(description="output / 1M", ordering="output_per_million")
    def output(self, obj: ModelPrice) -> str:
        return price_str(obj.output_per_million)

    @admin.display(description="cache read / 1M", ordering="cache_read_per_million")
    def cache_read(self, obj: ModelPrice) -> str:
        return price_str(obj.cache_read_per_million)

    @admin.display(description="cache write / 1M", ordering="cache_write_per_million")
    def cache_write(self, obj: ModelPrice) -> str:
        return price_str(obj.cache_write_per_million)

    @admin.display(description="price history (USD per 1M tokens)")
    def price_history(self, obj: ModelPrice) -> str:
        rows = ModelPrice.objects.filter(name=obj.name).order_by("-valid_from")
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (f"{r.valid_from:%Y-%m-%d %H:%M}", price_str(r.input_per_million),
                 price_str(r.output_per_million), price_str(r.cache_read_per_million),
                 price_str(r.cache_write_per_million))
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
            count = usage_reprice(models=models, actor=request.user.get_username(), reason="admin: unpriced models")
            self.message_user(request, f"Repriced {count} records.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:tokens_unpriced"))
        rows = selectors.unpriced_models()
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
class UsageRecordAdmin(LedgerAdminMixin, admin.ModelAdmin):
    list_display = (
        "occurred_at", "user", "agent", "tool", "model", "total_tokens", "cost", "priced", "cache_hit", "run_id",
    )
    list_filter = ("priced", "cache_hit", "agent", "model", ("occurred_at", admin.DateFieldListFilter), "user")
    search_fields = ("request_id", "run_id", "model", "user__username")
    date_hierarchy = "occurred_at"
    list_select_related = ("user",)
    show_full_result_count = False  # COUNT(*) over millions of rows is slow
    actions = ["reprice_unpriced"]

    @admin.display(description="cost", ordering="cost_usd")
    def cost(self, obj: UsageRecord) -> str:
        return admin_money(obj.cost_usd)

    @admin.action(description="Reprice unpriced records of the selected records' models")
    def reprice_unpriced(self, request, queryset):
        models = list(queryset.filter(priced=False).values_list("model", flat=True).distinct())
        count = usage_reprice(models=models, actor=request.user.get_username(), reason="admin: reprice action")
        self.message_user(request, f"Repriced {count} records of {len(models)} models.", messages.SUCCESS)


@admin.register(PriceOverride)
class PriceOverrideAdmin(admin.ModelAdmin):
    """Negotiated discounts and markups. Rows are history: change terms by adding a row."""

    list_display = ("user", "model", "provider", "multiplier_plain", "valid_from", "note")
    list_filter = ("provider",)
    search_fields = ("user__username", "model", "note")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)

    @admin.display(description="multiplier", ordering="multiplier")
    def multiplier_plain(self, obj: PriceOverride) -> str:
        return money_str(obj.multiplier)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] if obj is not None else ()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        catalog.invalidate()
        if obj.valid_from < timezone.now():
            # Calls already stored since valid_from are billed again under the new terms.
            count = usage_reprice(start=obj.valid_from, user_id=obj.user_id, only_unpriced=False,
                                  actor=request.user.get_username(), reason=f"price override {obj}")
            self.message_user(request, f"Repriced {count} records since {obj.valid_from:%Y-%m-%d %H:%M}.",
                              messages.SUCCESS)


@admin.register(RepriceAudit)
class RepriceAuditAdmin(LedgerAdminMixin, admin.ModelAdmin):
    list_display = ("started_at", "actor", "reason", "start", "end", "records_seen", "records_changed",
                    "before", "after")

    @admin.display(description="cost before")
    def before(self, obj: RepriceAudit) -> str:
        return admin_money(obj.cost_before_usd)

    @admin.display(description="cost after")
    def after(self, obj: RepriceAudit) -> str:
        return admin_money(obj.cost_after_usd)
