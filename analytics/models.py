"""Alerts (shared by budgets and analytics rules)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.money import COST_DIGITS
from optimization.compression import LEVELS as COMPRESSION_LEVEL_NAMES
from tokens.counts import TOKEN_FIELDS


class Alert(models.Model):
    """One alert per condition and window; ``dedupe_key`` makes raising idempotent."""

    KIND_BUDGET_THRESHOLD = "budget_threshold"
    KIND_USAGE_SPIKE = "usage_spike"
    KIND_LOW_CACHE_HIT_RATE = "low_cache_hit_rate"
    KIND_OPTIMIZATION_FAILURES = "optimization_failures"
    KIND_UNPRICED_MODEL = "unpriced_model"
    KINDS = [
        (KIND_BUDGET_THRESHOLD, "budget threshold crossed"),
        (KIND_USAGE_SPIKE, "usage spike"),
        (KIND_LOW_CACHE_HIT_RATE, "low cache hit rate"),
        (KIND_OPTIMIZATION_FAILURES, "optimization failure rate"),
        (KIND_UNPRICED_MODEL, "usage of a model without a price"),
    ]
    SEVERITIES = [("info", "info"), ("warning", "warning"), ("critical", "critical")]

    kind = models.CharField(max_length=32, choices=KINDS)
    severity = models.CharField(max_length=16, choices=SEVERITIES, default="warning")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    dedupe_key = models.CharField(max_length=255, unique=True)
    budget_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    window_start = models.DateTimeField(null=True, blank=True)
    threshold = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    percent_used = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    message = models.TextField()
    figures = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="alert_user_time_idx")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message[:60]}"


# The unique key of OrgDailyUsage (its rows are read by organization and day first).
KEY_FIELDS_ORG = ("organization", "day", "user", "project_ref", "key_ref", "agent", "model")


class DailyUsage(models.Model):
    """Exact per-day totals of the ledger for one user, agent, model and tool (UTC days)."""

    # Counter columns added by the rollup (analytics.rollups.ROLLUP_RULE); the key columns identify the row.
    COUNTERS = (
        "requests",
        *TOKEN_FIELDS,
        "cost_usd",
        "list_cost_usd",
        "cache_hits",
        "unpriced_requests",
        "optimized_requests",
        "optimization_failures",
        "original_tokens",
        "tokens_saved",
        "usd_saved",
    )
    KEY = ("user_id", "day", "agent", "model", "tool")
    # Columns set from the rows' records rather than added (analytics.rollups.KEPT says how).
    KEPT = ("organization_id",)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The organization the spend belongs to (UsageRecord.organization), for an organization's pages.
    organization = models.ForeignKey(
        "organizations.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    day = models.DateField()
    agent = models.CharField(max_length=100)
    model = models.CharField(max_length=200)
    tool = models.CharField(max_length=100, blank=True, default="")
    requests = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    cached_input_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    cache_write_1h_tokens = models.BigIntegerField(default=0)
    cache_write_12h_tokens = models.BigIntegerField(default=0)
    audio_input_tokens = models.BigIntegerField(default=0)
    cached_audio_input_tokens = models.BigIntegerField(default=0)
    image_input_tokens = models.BigIntegerField(default=0)
    cached_image_input_tokens = models.BigIntegerField(default=0)
    video_input_tokens = models.BigIntegerField(default=0)
    audio_output_tokens = models.BigIntegerField(default=0)
    image_output_tokens = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    # Billed cost (after the customer's price override) and catalog list cost.
    cost_usd = models.DecimalField(**COST_DIGITS, default=0)
    list_cost_usd = models.DecimalField(**COST_DIGITS, default=0)
    # A cache hit is a response served from cache or a prompt read from the provider's cache.
    cache_hits = models.BigIntegerField(default=0)
    unpriced_requests = models.BigIntegerField(default=0)
    # Records that reported an optimization; a failure is one that saved no prompt tokens.
    optimized_requests = models.BigIntegerField(default=0)
    optimization_failures = models.BigIntegerField(default=0)
    original_tokens = models.BigIntegerField(default=0)
    tokens_saved = models.BigIntegerField(default=0)
    usd_saved = models.DecimalField(**COST_DIGITS, default=0)

    class Meta:
        verbose_name_plural = "daily usage"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "day", "agent", "model", "tool"], name="dailyusage_key_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["day"], name="dailyusage_day_idx"),
            models.Index(fields=["organization", "day"], name="dailyusage_org_day_idx"),
        ]
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day} {self.user_id} {self.agent}/{self.model}/{self.tool}"


class UserDailyUsage(models.Model):
    """Per user and UTC day totals (a coarser rollup, kept with DailyUsage) for all-user views."""

    COUNTERS = ("requests", "total_tokens", "cost_usd")
    KEY = ("user_id", "day")
    KEPT = ("organization_id",)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(
        "organizations.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    day = models.DateField()
    requests = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(**COST_DIGITS, default=0)

    class Meta:
        verbose_name_plural = "user daily usage"
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="userdailyusage_key_uniq")]
        indexes = [
            models.Index(fields=["day"], name="userdailyusage_day_idx"),
            models.Index(fields=["organization", "day"], name="userdailyusage_org_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.user_id}"


class RunUsage(models.Model):
    """Exact totals of one run (user, run_id) over all its records: calls, tokens, cost, first and last call."""

    COUNTERS = ("requests", "total_tokens", "cost_usd")
    KEY = ("user_id", "run_id")
    KEPT = ("organization_id", "first_at", "last_at")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    run_id = models.CharField(max_length=200)
    organization = models.ForeignKey(
        "organizations.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requests = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(**COST_DIGITS, default=0)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "run usage"
        constraints = [models.UniqueConstraint(fields=["user", "run_id"], name="runusage_key_uniq")]
        indexes = [
            # Top runs of a period: the user's runs active in it (last call at or after its start).
            models.Index(fields=["user", "last_at"], name="runusage_user_last_idx"),
            models.Index(fields=["organization", "last_at"], name="runusage_org_last_idx"),
            # An organization's most expensive runs: its runs by cost, read from the top until ten are active.
            models.Index(fields=["organization", "cost_usd"], name="runusage_org_cost_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id} ({self.user_id})"


class TechniqueDailyUsage(models.Model):
    """Per user, UTC day and reported optimization technique: the records that reported it and what they saved."""

    COUNTERS = ("requests", "optimization_failures", "original_tokens", "tokens_saved", "usd_saved")
    KEY = ("user_id", "day", "technique")
    KEPT = ("organization_id",)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(
        "organizations.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    day = models.DateField()
    technique = models.CharField(max_length=100)
    requests = models.BigIntegerField(default=0)
    optimization_failures = models.BigIntegerField(default=0)
    original_tokens = models.BigIntegerField(default=0)
    tokens_saved = models.BigIntegerField(default=0)
    usd_saved = models.DecimalField(**COST_DIGITS, default=0)

    class Meta:
        verbose_name_plural = "technique daily usage"
        constraints = [
            models.UniqueConstraint(fields=["user", "day", "technique"], name="techniquedailyusage_key_uniq")
        ]
        indexes = [models.Index(fields=["day"], name="techniquedailyusage_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.user_id} {self.technique}"


class _OrgCounters(models.Model):
    """The columns OrgDailyUsage and its per-tag twin share: member, project, key, agent, model and counters.
    ``project_ref`` and ``key_ref`` are the record's project and key ids, 0 for none (a key column cannot be
    NULL and still match on conflict)."""

    COUNTERS = ("requests", "total_tokens", "cost_usd", "cache_hits", "optimized_requests")
    KEPT = ()

    organization = models.ForeignKey("organizations.Organization", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    project_ref = models.BigIntegerField(default=0)
    key_ref = models.BigIntegerField(default=0)
    agent = models.CharField(max_length=100)
    model = models.CharField(max_length=200)
    requests = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(**COST_DIGITS, default=0)
    cache_hits = models.BigIntegerField(default=0)
    optimized_requests = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class OrgDailyUsage(_OrgCounters):
    """Per organization and UTC day, the totals of each (member, project, key, agent, model): the organization
    view's totals, breakdowns and filters read these, not the ledger."""

    KEY = ("organization_id", "day", "user_id", "project_ref", "key_ref", "agent", "model")

    class Meta:
        verbose_name_plural = "organization daily usage"
        constraints = [models.UniqueConstraint(fields=KEY_FIELDS_ORG, name="orgdailyusage_key_uniq")]

    def __str__(self) -> str:
        return f"{self.day} org {self.organization_id} user {self.user_id} {self.agent}/{self.model}"


class OrgTagDailyUsage(_OrgCounters):
    """OrgDailyUsage per tag (a record counts once under each of its tags): the organization view by tag."""

    KEY = ("organization_id", "day", "tag", "user_id", "project_ref", "key_ref", "agent", "model")

    tag = models.CharField(max_length=64)

    class Meta:
        verbose_name_plural = "organization tag daily usage"
        constraints = [
            models.UniqueConstraint(
                fields=("organization", "tag", *KEY_FIELDS_ORG[1:]), name="orgtagdailyusage_key_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} org {self.organization_id} #{self.tag}"


class OrgLatencyDaily(models.Model):
    """Per organization and UTC day, how many calls reported each latency (``analytics.rollups.latency_bucket``:
    exact below 1 s, to three significant digits above): the organization view's p50 and p95."""

    COUNTERS = ("requests",)
    KEY = ("organization_id", "day", "latency_bucket")
    KEPT = ()

    organization = models.ForeignKey("organizations.Organization", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    latency_bucket = models.BigIntegerField()
    requests = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "organization latency daily"
        constraints = [
            models.UniqueConstraint(fields=("organization", "day", "latency_bucket"), name="orglatencydaily_key_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.day} org {self.organization_id} {self.latency_bucket} ms"


class OptimizationPolicy(models.Model):
    """A user's token-saving policy, derived by the AutoTokenOptimizer unless an admin pins it."""

    # Exactly the levels the compressor accepts (POST /api/v1/optimize/prompt), and "none".
    COMPRESSION_LEVELS = [("none", "none"), *((level, level) for level in COMPRESSION_LEVEL_NAMES)]
    TRIGGERS = ("high_token_usage", "high_cost", "low_efficiency", "repetitive_queries")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="optimization_policy"
    )
    compression_level = models.CharField(max_length=16, choices=COMPRESSION_LEVELS, default="none")
    current_model = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="The model the user spent most on in the last 30 days.",
    )
    suggested_model = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="A cheaper model of the same provider; empty keeps the model.",
    )
    caching_enabled = models.BooleanField(default=False)
    triggers = models.JSONField(default=list, blank=True)
    figures = models.JSONField(default=dict, blank=True)
    estimated_savings_usd = models.DecimalField(**COST_DIGITS, default=0)
    pinned = models.BooleanField(
        default=False, help_text="A pinned policy is an admin's decision: the hourly refresh leaves it alone."
    )
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True, default="")
    computed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "optimization policies"
        ordering = ["user_id"]

    def __str__(self) -> str:
        return f"policy of {self.user_id}"
