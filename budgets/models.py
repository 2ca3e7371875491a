"""Budgets, their calendar windows, pre-call reservations and the audit trail.

Committed spend lives in one counter row per (budget, window start); reserved
amounts are never a counter: they are the sum of live holds (``active`` and
``expires_at > now``), computed under the window lock, so an expired hold stops
counting the instant it expires. See docs/budgets.md.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from core.db import uuid7
from core.money import COST_DIGITS

DEFAULT_THRESHOLDS = [50, 80, 90, 100]


def default_thresholds() -> list[int]:
    return list(DEFAULT_THRESHOLDS)


class Budget(models.Model):
    """A token and/or USD limit on a scope (user, user+agent, run, organization, project, key, tag, global)
    per calendar period."""

    SCOPE_USER = "user"
    SCOPE_USER_AGENT = "user_agent"
    SCOPE_RUN = "run"
    SCOPE_ORGANIZATION = "organization"
    SCOPE_PROJECT = "project"
    SCOPE_KEY = "key"
    SCOPE_TAG = "tag"
    SCOPE_GLOBAL = "global"
    SCOPES = [
        (SCOPE_USER, "user"),
        (SCOPE_USER_AGENT, "user and agent"),
        (SCOPE_RUN, "run"),
        (SCOPE_ORGANIZATION, "organization"),
        (SCOPE_PROJECT, "project"),
        (SCOPE_KEY, "API key"),
        (SCOPE_TAG, "tag (cost center) in an organization"),
        (SCOPE_GLOBAL, "global"),
    ]
    USER_SCOPES = (SCOPE_USER, SCOPE_USER_AGENT, SCOPE_RUN)
    ORG_SCOPES = (SCOPE_ORGANIZATION, SCOPE_PROJECT, SCOPE_KEY, SCOPE_TAG)
    PERIOD_DAY = "day"
    PERIOD_WEEK = "week"
    PERIOD_MONTH = "month"
    PERIOD_LIFETIME = "lifetime"
    PERIODS = [
        (PERIOD_DAY, "day"),
        (PERIOD_WEEK, "week (from Monday)"),
        (PERIOD_MONTH, "month (from the 1st)"),
        (PERIOD_LIFETIME, "lifetime"),
    ]
    HARD = "hard"
    SOFT = "soft"
    ENFORCEMENTS = [(HARD, "hard (block)"), (SOFT, "soft (alert only)")]

    name = models.CharField(max_length=100, blank=True, default="", help_text="Shown in denials and alerts.")
    scope = models.CharField(max_length=16, choices=SCOPES, default=SCOPE_USER)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="budgets"
    )
    # The organization of an organization, project, key or tag budget (the project's, the key's project's).
    organization = models.ForeignKey(
        "organizations.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="budgets"
    )
    project = models.ForeignKey(
        "organizations.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="budgets"
    )
    api_key = models.ForeignKey(
        "tokens.ApiKey", null=True, blank=True, on_delete=models.CASCADE, related_name="budgets"
    )
    tag = models.CharField(max_length=64, blank=True, default="")
    agent = models.CharField(max_length=100, blank=True, default="")
    run_id = models.CharField(max_length=200, blank=True, default="")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="agent_budgets",
        help_text="The user budget this per-agent budget was allocated from.",
    )
    priority = models.PositiveIntegerField(default=1, help_text="Weight when allocating a total across agents.")
    period = models.CharField(max_length=16, choices=PERIODS, default=PERIOD_MONTH)
    limit_tokens = models.PositiveBigIntegerField(null=True, blank=True)
    limit_usd = models.DecimalField(**COST_DIGITS, null=True, blank=True)
    enforcement = models.CharField(max_length=8, choices=ENFORCEMENTS, default=HARD)
    thresholds = models.JSONField(default=default_thresholds, blank=True, help_text="Alert at these percentages.")
    timezone = models.CharField(
        max_length=64, blank=True, default="", help_text="Window timezone; empty uses NETRA_BUDGET_TIMEZONE."
    )
    strict = models.BooleanField(
        default=False, help_text="Reserve the full max_output_tokens instead of the recent p95 output."
    )
    webhook_url = models.URLField(blank=True, default="")
    webhook_secret = models.CharField(max_length=200, blank=True, default="")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(limit_tokens__isnull=False) | Q(limit_usd__isnull=False),
                name="budget_has_a_limit",
            ),
            models.CheckConstraint(condition=Q(limit_usd__gte=0) | Q(limit_usd__isnull=True),
                                   name="budget_limit_usd_non_negative"),
            models.CheckConstraint(
                condition=(Q(scope="global") & Q(user__isnull=True))
                | (Q(scope__in=["user", "user_agent", "run"]) & Q(user__isnull=False))
                | (Q(scope="organization") & Q(user__isnull=True) & Q(organization__isnull=False))
                | (Q(scope="project") & Q(user__isnull=True) & Q(project__isnull=False))
                | (Q(scope="key") & Q(user__isnull=True) & Q(api_key__isnull=False))
                | (Q(scope="tag") & Q(user__isnull=True) & Q(organization__isnull=False) & ~Q(tag="")),
                name="budget_scope_consistent",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "is_active"], name="budget_user_active_idx"),
            models.Index(fields=["organization", "is_active"], name="budget_org_active_idx"),
        ]

    def __str__(self) -> str:
        if self.name:
            return f"#{self.pk} {self.name} ({self.scope}) / {self.period}"
        if self.scope in self.ORG_SCOPES:
            target = {"organization": self.organization_id, "project": self.project_id, "key": self.api_key_id,
                      "tag": self.tag}[self.scope]
            return f"#{self.pk} {self.scope} {target} / {self.period}"
        who = self.user.get_username() if self.user_id else "everyone"
        extra = f" agent={self.agent}" if self.agent else f" run={self.run_id}" if self.run_id else ""
        return f"#{self.pk} {self.scope} {who}{extra} / {self.period}"

    @property
    def tz_name(self) -> str:
        return self.timezone or settings.NETRA_BUDGET_TIMEZONE


class BudgetWindow(models.Model):
    """Committed spend of one budget in one calendar window; changed only with F() under a row lock."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="windows")
    window_start = models.DateTimeField()
    spent_tokens = models.BigIntegerField(default=0)
    spent_usd = models.DecimalField(**COST_DIGITS, default=Decimal(0))

    class Meta:
        ordering = ["budget", "-window_start"]
        constraints = [
            models.UniqueConstraint(fields=["budget", "window_start"], name="budgetwindow_budget_start_uniq"),
        ]

    def __str__(self) -> str:
        return f"budget {self.budget_id} from {self.window_start:%Y-%m-%d %H:%M}"


class ReservationQuerySet(models.QuerySet):
    def live(self, now=None) -> ReservationQuerySet:
        return self.filter(status=Reservation.ACTIVE, expires_at__gt=now or dj_timezone.now())

    def expired(self, now=None) -> ReservationQuerySet:
        return self.filter(status=Reservation.ACTIVE, expires_at__lte=now or dj_timezone.now())


class Reservation(models.Model):
    """A pre-call hold of an estimated cost on every budget that applies to the call."""

    ACTIVE = "active"
    COMMITTED = "committed"
    RELEASED = "released"
    EXPIRED = "expired"
    STATUSES = [(ACTIVE, "active"), (COMMITTED, "committed"), (RELEASED, "released"), (EXPIRED, "expired")]

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reservations")
    agent = models.CharField(max_length=100, default="default")
    model = models.CharField(max_length=200)
    run_id = models.CharField(max_length=200, blank=True, default="")
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    tokens = models.PositiveBigIntegerField(default=0)
    cost_usd = models.DecimalField(**COST_DIGITS, default=Decimal(0))
    status = models.CharField(max_length=16, choices=STATUSES, default=ACTIVE)
    created_at = models.DateTimeField(default=dj_timezone.now)
    expires_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)
    actual_tokens = models.PositiveBigIntegerField(null=True, blank=True)
    actual_usd = models.DecimalField(**COST_DIGITS, null=True, blank=True)
    record_id = models.UUIDField(null=True, blank=True)

    objects = ReservationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["expires_at"], name="reservation_active_exp_idx", condition=Q(status="active")),
            models.Index(fields=["user", "-created_at"], name="reservation_user_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.status} {self.tokens} tok"


class ReservationHold(models.Model):
    """The part of a reservation held on one budget window; counts while active and unexpired."""

    reservation = models.ForeignKey(Reservation, on_delete=models.CASCADE, related_name="holds")
    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="holds")
    window_start = models.DateTimeField()
    tokens = models.PositiveBigIntegerField(default=0)
    cost_usd = models.DecimalField(**COST_DIGITS, default=Decimal(0))
    # Copied from the reservation so the live sum is one indexed scan of this table.
    active = models.BooleanField(default=True)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["budget", "window_start", "expires_at"], name="hold_live_idx",
                         condition=Q(active=True)),
        ]

    def __str__(self) -> str:
        return f"{self.reservation_id} on budget {self.budget_id}: {self.tokens} tok"


class BudgetChange(models.Model):
    """Audit history: who changed which limit of a budget, when, from what to what."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="changes")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(default=dj_timezone.now)
    field = models.CharField(max_length=32)
    old_value = models.CharField(max_length=200, blank=True, default="")
    new_value = models.CharField(max_length=200, blank=True, default="")
    note = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-changed_at", "-pk"]

    def __str__(self) -> str:
        return f"budget {self.budget_id} {self.field}: {self.old_value} -> {self.new_value}"


class UserRateLimit(models.Model):
    """Requests and tokens per minute for one user, over all their keys (budgets.ratelimits)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rate_limit")
    rpm_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Requests per minute; blank: none.")
    tpm_limit = models.PositiveBigIntegerField(null=True, blank=True, help_text="Tokens per minute; blank: none.")

    class Meta:
        verbose_name = "user rate limit"

    def __str__(self) -> str:
        return f"{self.user_id}: {self.rpm_limit} rpm, {self.tpm_limit} tpm"
