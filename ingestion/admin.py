"""Admin of the price catalog and the usage ledger.

Both offer repricing (stored unpriced records get a price once the catalog
knows their model), which is an ingestion flow: it moves the records' cost
into budgets and rollups too. So their admins live here, above those layers.
"""

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from core.admin import LedgerAdminMixin
from core.money import money_str
from ingestion.services import usage_reprice
from tokens import selectors
from tokens.models import ModelPrice, UsageRecord
from tokens.pricing import catalog


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
            count = usage_reprice(models=models)
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

    @admin.display(description="cost (USD)", ordering="cost_usd")
    def cost(self, obj: UsageRecord) -> str:
        return money_str(obj.cost_usd)

    @admin.action(description="Reprice unpriced records of the selected records' models")
    def reprice_unpriced(self, request, queryset):
        models = list(queryset.filter(priced=False).values_list("model", flat=True).distinct())
        count = usage_reprice(models=models)
        self.message_user(request, f"Repriced {count} records of {len(models)} models.", messages.SUCCESS)
