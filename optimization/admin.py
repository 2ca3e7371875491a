"""Admin of the token-saving services: lean templates, preferences, the savings ledger, the response cache."""

from django.contrib import admin

from core.admin import ViewOnlyAdminMixin
from core.money import money_str
from optimization.models import PromptTemplate, ResponseCacheEntry, SavingsRecord, UserPreference


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


class SavingsRecordAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
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

admin.site.register(SavingsRecord, SavingsRecordAdmin)

@admin.register(ResponseCacheEntry)
class ResponseCacheEntryAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("scope", "key_hash", "user", "model", "input_tokens", "output_tokens", "hits",
                    "last_used_at", "expires_at")
    list_filter = ("model",)
    search_fields = ("key_hash", "scope", "user__username")
    list_select_related = ("user",)

