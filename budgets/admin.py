"""Budget control in Django admin: live progress, audited changes, allocation. Thin: calls services."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.views.main import ChangeList
from django.template.response import TemplateResponse
from django.utils.html import format_html

from budgets import selectors, services
from budgets.admin_fields import ThresholdsField
from budgets.admin_text import spend_text, window_text
from budgets.allocation import DEFAULT_MINIMUM, DEFAULT_PRIORITIES
from budgets.forecast import forecast_sentence, forecasts_attach
from budgets.labels import budget_label
from budgets.models import Budget, BudgetChange, Reservation, UserRateLimit, default_thresholds
from budgets.selectors import budget_describe
from core.admin import LedgerAdminMixin, ViewOnlyAdminMixin, admin_money
from core.errors import DomainError
from core.money import dollars, money_str

FIXED_FIELDS = ("scope", "user", "organization", "project", "api_key", "tag", "agent", "run_id", "parent")


class BudgetChangeList(ChangeList):
    """Computes the live figures of a whole page in two queries, not two per row."""

    def get_results(self, request):
        super().get_results(request)
        rows = list(self.result_list)
        figures = {f["id"]: f for f in selectors.budget_figures(budgets=rows)}
        for budget in rows:
            budget.figures = figures[budget.pk]


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("ok", "ok"), ("warning", "warning (80 %+)"), ("exceeded", "exceeded")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        ids = [f["id"] for f in selectors.budget_figures(budgets=list(queryset)) if f["status"] == self.value()]
        return queryset.filter(pk__in=ids)


def _add_service_errors(form: forms.BaseForm, values: dict, *, creating: bool, checked_elsewhere=()) -> None:
    """Show what the budget services would refuse as field errors, so save_model never meets a DomainError.

    A field that already failed its own validation keeps that message (its
    value is missing from cleaned_data, so the services would misread it).
    """
    errors = services.budget_errors(values=values, creating=creating)
    limit_unread = bool({"limit_tokens", "limit_usd"} & form.errors.keys())
    if not limit_unread and values.get("limit_tokens") is None and values.get("limit_usd") is None:
        errors.setdefault("limit_tokens", [services.NO_LIMIT])
    for name, field_errors in errors.items():
        if name in checked_elsewhere or (limit_unread and field_errors == [services.NO_LIMIT]):
            continue
        if name not in form.fields:
            form.add_error(None, f"{name}: {' '.join(field_errors)}")
        elif name not in form.errors:
            form.add_error(name, field_errors)


class LimitsMessageMixin:
    """One message for a negative limit, from the form field or the services alike."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("limit_tokens", "limit_usd"):
            if name in self.fields:
                self.fields[name].error_messages["min_value"] = "Must be zero or more."


class AgentBudgetForm(LimitsMessageMixin, forms.ModelForm):
    def clean(self):
        data = super().clean()
        # The user is the parent budget's, checked by AgentBudgetFormSet.
        _add_service_errors(self, {**data, "scope": Budget.SCOPE_USER_AGENT}, creating=self.instance.pk is None,
                            checked_elsewhere=("user",))
        return data


class AgentBudgetFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        parent = self.instance
        adding = any(f.has_changed() and not f.instance.pk and f not in self.deleted_forms for f in self.forms)
        if adding and (parent.scope != Budget.SCOPE_USER or parent.user_id is None):
            raise forms.ValidationError("Per-agent budgets are allocated from a budget of scope user with a user.")


class AgentBudgetInline(admin.TabularInline):
    model = Budget
    form = AgentBudgetForm
    formset = AgentBudgetFormSet
    fk_name = "parent"
    extra = 0
    fields = ("agent", "priority", "limit_tokens", "limit_usd", "enforcement", "is_active")
    verbose_name = "per-agent budget"
    verbose_name_plural = "per-agent budgets (allocated from this budget)"


class BudgetChangeInline(admin.TabularInline):
    model = BudgetChange
    extra = 0
    can_delete = False
    fields = ("changed_at", "changed_by", "field", "old_value", "new_value", "note")
    readonly_fields = fields
    verbose_name_plural = "audit history of limit changes"

    def has_add_permission(self, request, obj=None):
        return False


class RaiseForm(forms.Form):
    percent = forms.DecimalField(min_value=Decimal("0.01"), max_value=Decimal(1000), initial=Decimal(10),
                                 help_text="Raise every limit of the selected budgets by this percentage.")


class AllocateForm(forms.Form):
    total = forms.IntegerField(min_value=0, help_text="Tokens to split across the agents.")
    minimum = forms.IntegerField(min_value=0, initial=DEFAULT_MINIMUM, help_text="At least this many per agent.")
    priorities = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 40}),
        initial="\n".join(f"{agent}={weight}" for agent, weight in DEFAULT_PRIORITIES.items()),
        help_text="One agent=priority per line; shares are proportional to priority.",
    )

    def clean_priorities(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in self.cleaned_data["priorities"].splitlines():
            if not line.strip():
                continue
            agent, sep, weight = line.partition("=")
            if not sep or not agent.strip() or not weight.strip().isdigit():
                raise forms.ValidationError(f"Cannot read {line.strip()!r}: write agent=priority.")
            out[agent.strip()] = int(weight)
        if not out:
            raise forms.ValidationError("Name at least one agent.")
        return out


class BudgetForm(LimitsMessageMixin, forms.ModelForm):
    webhook_url = forms.URLField(required=False, assume_scheme="https")
    thresholds = ThresholdsField()

    class Meta:
        model = Budget
        fields = ("name", "scope", "user", "organization", "project", "api_key", "tag", "agent", "run_id", "parent",
                  "priority", "is_active", "period", "timezone",
                  "limit_tokens", "limit_usd", "enforcement", "thresholds", "strict", "webhook_url",
                  "webhook_secret")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None and "thresholds" not in self.initial:
            self.initial["thresholds"] = default_thresholds()
        # "25", not "25.000000000000": the stored value, without the column's padding.
        if self.instance.limit_usd is not None:
            self.initial["limit_usd"] = money_str(self.instance.limit_usd)

    def clean(self):
        data = super().clean()
        _add_service_errors(self, data, creating=self.instance.pk is None)
        return data


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    form = BudgetForm
    list_display = ("id", "name", "owner", "scope", "target", "period", "enforcement", "progress", "percent",
                    "status")
    list_display_links = ("id", "owner")
    list_filter = ("scope", StatusFilter, "period", "enforcement", ("user", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "user__username", "agent", "run_id", "tag", "organization__name")
    list_select_related = ("user", "organization", "project__organization", "api_key")
    autocomplete_fields = ("user", "organization", "project")
    raw_id_fields = ("api_key",)
    fieldsets = [
        (None, {"fields": ("name", "scope", "user", "organization", "project", "api_key", "tag", "agent", "run_id",
                           "parent", "priority", "is_active")}),
        ("Limits", {"fields": ("period", "timezone", "limit_tokens", "limit_usd", "enforcement", "thresholds",
                               "strict")}),
        ("Notifications", {"fields": ("webhook_url", "webhook_secret")}),
        ("Now", {"fields": ("current_window",)}),
    ]
    readonly_fields = ("current_window",)
    inlines = [AgentBudgetInline, BudgetChangeInline]
    actions = ["raise_limit", "toggle_enforcement", "reset_window", "allocate_agents"]

    def get_changelist(self, request, **kwargs):
        return BudgetChangeList

    def get_readonly_fields(self, request, obj=None):
        # Fixed once created (budget_update refuses them): an editable field would be silently ignored.
        if obj is not None:
            return (*self.readonly_fields, *FIXED_FIELDS)
        return self.readonly_fields

    def _figures(self, obj: Budget) -> dict:
        if not hasattr(obj, "figures"):
            (obj.figures,) = selectors.budget_figures(budgets=[obj])
        return obj.figures

    @admin.display(description="user", ordering="user__username")
    def owner(self, obj: Budget) -> str:
        if obj.user_id:
            return obj.user.get_username()
        return obj.organization.name if obj.organization_id else "(everyone)"

    @admin.display(description="agent / run / target")
    def target(self, obj: Budget) -> str:
        if obj.scope in Budget.ORG_SCOPES:
            return budget_label(budget_describe(obj))
        return obj.agent or obj.run_id or "-"

    @admin.display(description="spent / limit")
    def progress(self, obj: Budget):
        f = self._figures(obj)
        pct = min(float(f["percent_used"]), 100.0)
        colour = {"ok": "#2e7d32", "warning": "#ef6c00", "exceeded": "#c62828"}[f["status"]]
        parts = []
        if obj.limit_tokens is not None:
            parts.append(f"{f['spent_tokens']:,} / {obj.limit_tokens:,} tok")
        if obj.limit_usd is not None:
            # Exact figures are on the change page and the API; the list reads the one money rule.
            parts.append(f"{dollars(f['spent_usd'])} / {dollars(obj.limit_usd)}")
        return format_html(
            '<div style="width:160px;background:#eee;border-radius:3px" title="{}">'
            '<div style="width:{}%;background:{};height:10px;border-radius:3px"></div></div><small>{}</small>',
            f"{f['percent_used']}%", f"{pct:.1f}", colour, " · ".join(parts),
        )

    @admin.display(description="%")
    def percent(self, obj: Budget) -> str:
        return f"{self._figures(obj)['percent_used']}%"

    @admin.display(description="status")
    def status(self, obj: Budget) -> str:
        return self._figures(obj)["status"]

    @admin.display(description="current window")
    def current_window(self, obj: Budget) -> str:
        if not obj.pk:
            return "-"
        (f,) = forecasts_attach(budgets=[obj], items=[self._figures(obj)])
        return format_html("{}<br>{}<br>{}", window_text(obj, f), spend_text(f), forecast_sentence(f["forecast"]))

    # -- saving goes through services so every limit change is audited --------------------

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data.get(name) for name in form.cleaned_data if name != "current_window"}
        try:
            if change:
                changes = {k: data[k] for k in form.changed_data if k in services.EDITABLE}
                saved = services.budget_update(budget=Budget.objects.get(pk=obj.pk), by=request.user, **changes)
            else:
                saved = services.budget_create(by=request.user, **data)
        except DomainError as exc:
            self.message_user(request, f"Not saved: {exc.message}", messages.ERROR)
            raise
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_formset(self, request, form, formset, change):
        if formset.model is not Budget:
            return super().save_formset(request, form, formset, change)
        parent = form.instance
        # The admin's change message reads these lists.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if not inline_form.has_changed() or inline_form in formset.deleted_forms:
                continue
            data = inline_form.cleaned_data
            child = inline_form.instance
            if child.pk:
                changes = {k: data[k] for k in inline_form.changed_data if k in services.EDITABLE}
                saved = services.budget_update(budget=Budget.objects.get(pk=child.pk), by=request.user, **changes)
                formset.changed_objects.append((saved, inline_form.changed_data))
            else:
                saved = services.budget_create(
                    by=request.user, scope=Budget.SCOPE_USER_AGENT, user=parent.user, agent=data["agent"],
                    parent=parent, period=parent.period, timezone=parent.timezone, priority=data["priority"],
                    limit_tokens=data.get("limit_tokens"), limit_usd=data.get("limit_usd"),
                    enforcement=data["enforcement"], is_active=data["is_active"],
                )
                formset.new_objects.append(saved)
        for deleted_form in formset.deleted_forms:
            if deleted_form.instance.pk:
                formset.deleted_objects.append(deleted_form.instance)
                deleted_form.instance.delete()

    # -- actions ------------------------------------------------------------------------------

    def _intermediate(self, request, queryset, form, title: str, action: str, note: str = ""):
        context = {
            **self.admin_site.each_context(request),
            "title": title, "form": form, "queryset": queryset, "action": action, "note": note,
            "opts": self.model._meta, "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/budgets/action_form.html", context)

    @admin.action(description="Raise limits by a percentage (audited)")
    def raise_limit(self, request, queryset):
        form = RaiseForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            for budget in queryset:
                services.budget_limit_raise(budget=budget, by=request.user, percent=form.cleaned_data["percent"])
            self.message_user(request, f"Raised {queryset.count()} budgets by {form.cleaned_data['percent']}%.",
                              messages.SUCCESS)
            return None
        return self._intermediate(request, queryset, form, "Raise budget limits", "raise_limit")

    @admin.action(description="Switch hard / soft (audited)")
    def toggle_enforcement(self, request, queryset):
        for budget in queryset:
            services.budget_enforcement_toggle(budget=budget, by=request.user)
        self.message_user(request, f"Switched {queryset.count()} budgets.", messages.SUCCESS)

    @admin.action(description="Reset the current window's spend (audited)")
    def reset_window(self, request, queryset):
        for budget in queryset:
            services.budget_window_reset(budget=budget, by=request.user)
        self.message_user(request, f"Reset the current window of {queryset.count()} budgets.", messages.SUCCESS)

    @admin.action(description="Allocate per-agent budgets by priority")
    def allocate_agents(self, request, queryset):
        if queryset.count() != 1 or queryset.first().scope != Budget.SCOPE_USER:
            self.message_user(request, "Select exactly one user budget to allocate from.", messages.ERROR)
            return None
        parent = queryset.first()
        initial = {"total": parent.limit_tokens} if parent.limit_tokens else {}
        form = AllocateForm(request.POST if "apply" in request.POST else None, initial=initial)
        if form.is_valid():
            try:
                children = services.budgets_allocate(
                    parent=parent, by=request.user, total=form.cleaned_data["total"],
                    priorities=form.cleaned_data["priorities"], minimum=form.cleaned_data["minimum"],
                )
            except DomainError as exc:
                form.add_error("total", exc.message)
            else:
                summary = ", ".join(f"{c.agent} {c.limit_tokens:,}" for c in children)
                self.message_user(request, f"Allocated: {summary}.", messages.SUCCESS)
                return None
        return self._intermediate(
            request, queryset, form, f"Allocate per-agent budgets under budget {parent.pk}", "allocate_agents",
            note="Shares are proportional to priority, never below the minimum, and sum to the total.",
        )


@admin.register(UserRateLimit)
class UserRateLimitAdmin(admin.ModelAdmin):
    list_display = ("user", "rpm_limit", "tpm_limit")
    search_fields = ("user__username",)
    autocomplete_fields = ("user",)
    list_select_related = ("user",)


@admin.register(Reservation)
class ReservationAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "user", "agent", "model", "tokens", "cost", "status", "created_at", "expires_at")
    list_filter = ("status", "agent")
    search_fields = ("id", "user__username", "run_id")
    list_select_related = ("user",)

    @admin.display(description="cost", ordering="cost_usd")
    def cost(self, obj: Reservation) -> str:
        return admin_money(obj.cost_usd)

@admin.register(BudgetChange)
class BudgetChangeAdmin(LedgerAdminMixin, admin.ModelAdmin):
    list_display = ("changed_at", "budget", "changed_by", "field", "old_value", "new_value", "note")
    list_filter = ("field",)
    list_select_related = ("budget", "changed_by", "budget__user")

