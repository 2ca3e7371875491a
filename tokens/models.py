"""Price catalog, the usage ledger, runs and API keys."""

from __future__ import annotations

import hashlib
import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.db import uuid7
from core.money import COST_DIGITS, PRICE_DIGITS
from tokens.counts import TokenCounts


class ModelPrice(models.Model):
    """One version of a model's prices; a price change adds a row, never rewrites one."""

    name = models.CharField(max_length=200, db_index=True)
    provider = models.CharField(max_length=64, db_index=True)
    mode = models.CharField(max_length=32, default="chat")
    aliases = models.JSONField(default=list, blank=True)
    # The standard tier's base rates, USD per 1M tokens. Null cache/reasoning prices fall back to
    # the input/output price; a null input or output price (a model billed per second, character
    # or image) leaves tokens of that class unpriced.
    input_per_million = models.DecimalField(**PRICE_DIGITS, null=True, blank=True)
    output_per_million = models.DecimalField(**PRICE_DIGITS, null=True, blank=True)
    cache_read_per_million = models.DecimalField(**PRICE_DIGITS, null=True, blank=True)
    cache_write_per_million = models.DecimalField(**PRICE_DIGITS, null=True, blank=True)
    reasoning_per_million = models.DecimalField(**PRICE_DIGITS, null=True, blank=True)
    # Every other rate, as plain decimal strings (tokens.rates describes the shape):
    # {"standard": {"0": {"cache_write_1h": "6", ...}, "200000": {"input": "2.5", ...}},
    #  "batch": {"0": {...}}, "flex": ..., "priority": ..., "other": {<map key>: <value>}}
    rates = models.JSONField(default=dict, blank=True)
    context_window = models.PositiveIntegerField(null=True, blank=True)
    max_output_tokens = models.PositiveIntegerField(null=True, blank=True)
    tokenizer = models.CharField(max_length=32, blank=True, default="")
    valid_from = models.DateTimeField()
    source = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["name", "valid_from"], name="modelprice_name_valid_from_uniq"),
            models.CheckConstraint(
                condition=Q(input_per_million__gte=0) & Q(output_per_million__gte=0),
                name="modelprice_prices_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (from {self.valid_from:%Y-%m-%d})"

    PRICE_FIELDS = (
        "input_per_million",
        "output_per_million",
        "cache_read_per_million",
        "cache_write_per_million",
        "reasoning_per_million",
    )

    @property
    def tiers(self) -> list[dict]:
        """The standard tier's long-context tiers: [{"above_input_tokens": 200000, "input_per_million": "2.5"}]."""
        out = []
        for threshold, card in sorted(((int(t), c) for t, c in (self.rates or {}).get("standard", {}).items()),
                                      key=lambda tc: tc[0]):
            if threshold:
                out.append({"above_input_tokens": threshold,
                            **{RATE_NAMES.get(name, name): value for name, value in card.items()}})
        return out


# Names of the base rates in the API's tier objects (the ModelPrice columns' names).
RATE_NAMES = {
    "input": "input_per_million",
    "output": "output_per_million",
    "cached_input": "cache_read_per_million",
    "cache_write": "cache_write_per_million",
    "reasoning": "reasoning_per_million",
}


class PriceOverride(models.Model):
    """A customer's negotiated discount or markup on catalog prices, in force from ``valid_from``.

    ``multiplier`` scales the list cost (0.8 is a 20 % discount, 1.1 a 10 % markup). The most
    specific override in force when a call occurred applies: one for its model, else one for its
    provider, else one for every model. Rows are never edited: a new row with a later
    ``valid_from`` changes the terms (multiplier 1 ends a discount). An ``organization`` foreign key
    can sit beside ``user`` later; the lookup keys on the customer, whichever it is.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="price_overrides")
    model = models.CharField(max_length=200, blank=True, default="", help_text="Catalog model name; blank: any.")
    provider = models.CharField(max_length=64, blank=True, default="", help_text="Blank: any provider.")
    multiplier = models.DecimalField(max_digits=12, decimal_places=6)
    valid_from = models.DateTimeField()
    note = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user_id", "model", "provider", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["user", "model", "provider", "valid_from"], name="priceoverride_uniq"),
            models.CheckConstraint(condition=Q(multiplier__gte=0), name="priceoverride_multiplier_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.model or self.provider or 'all models'} x{self.multiplier}"


class RepriceAudit(models.Model):
    """One reprice of stored usage: who, why, which records, and the cost before and after."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    actor = models.CharField(max_length=150, blank=True, default="")
    reason = models.CharField(max_length=500, blank=True, default="")
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    models_repriced = models.JSONField(default=list, blank=True)
    only_unpriced = models.BooleanField(default=True)
    records_seen = models.PositiveBigIntegerField(default=0)
    records_changed = models.PositiveBigIntegerField(default=0)
    cost_before_usd = models.DecimalField(**COST_DIGITS, default=Decimal(0))
    cost_after_usd = models.DecimalField(**COST_DIGITS, default=Decimal(0))

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"reprice {self.started_at:%Y-%m-%d %H:%M}: {self.records_changed} records"


class Run(models.Model):
    """The execution context of one agent run; its metrics are sums of its records."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="runs")
    run_id = models.CharField(max_length=200)
    token_budget = models.PositiveBigIntegerField(null=True, blank=True)
    agent_budgets = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "run_id"], name="run_user_run_id_uniq")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.run_id} ({self.user_id})"


class UsageRecordQuerySet(models.QuerySet):
    def for_user(self, user) -> UsageRecordQuerySet:
        return self.filter(user=user)

    def between(self, start=None, end=None) -> UsageRecordQuerySet:
        qs = self
        if start is not None:
            qs = qs.filter(occurred_at__gte=start)
        if end is not None:
            qs = qs.filter(occurred_at__lt=end)
        return qs


class UsageRecord(models.Model):
    """One model call, priced once when it arrives. Insert-only."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="usage_records")
    request_id = models.CharField(max_length=200)
    # Attribution (docs/organizations.md): the organization and project the spend belongs to, the key
    # that reported it, and the caller's cost-center tags (a list of strings).
    organization = models.ForeignKey(
        "organizations.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    project = models.ForeignKey(
        "organizations.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey("ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    tags = models.JSONField(default=list, blank=True)
    run_id = models.CharField(max_length=200, blank=True, default="")
    agent = models.CharField(max_length=100, default="default")
    tool = models.CharField(max_length=100, blank=True, default="")
    model = models.CharField(max_length=200)
    provider = models.CharField(max_length=64, blank=True, default="")
    input_tokens = models.PositiveBigIntegerField(default=0)
    cached_input_tokens = models.PositiveBigIntegerField(default=0)
    cache_write_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    reasoning_tokens = models.PositiveBigIntegerField(default=0)
    cache_write_1h_tokens = models.PositiveBigIntegerField(default=0)
    cache_write_12h_tokens = models.PositiveBigIntegerField(default=0)
    audio_input_tokens = models.PositiveBigIntegerField(default=0)
    cached_audio_input_tokens = models.PositiveBigIntegerField(default=0)
    image_input_tokens = models.PositiveBigIntegerField(default=0)
    cached_image_input_tokens = models.PositiveBigIntegerField(default=0)
    video_input_tokens = models.PositiveBigIntegerField(default=0)
    audio_output_tokens = models.PositiveBigIntegerField(default=0)
    image_output_tokens = models.PositiveBigIntegerField(default=0)
    total_tokens = models.PositiveBigIntegerField(default=0)
    # Billed units that are not tokens: {"web_search_requests": 2, "input_seconds": "12.5", ...}
    units = models.JSONField(default=dict, blank=True)
    # The tier the provider says served the call ("" is standard): batch, flex, priority, ...
    service_tier = models.CharField(max_length=32, blank=True, default="")
    # What the customer is billed (list cost after their price override); budgets charge this.
    cost_usd = models.DecimalField(**COST_DIGITS, default=Decimal(0))
    # The catalog (list) price of the call, before any override.
    list_cost_usd = models.DecimalField(**COST_DIGITS, default=Decimal(0))
    # The cost the provider reported in the usage object (OpenRouter's usage.cost), if any.
    provider_cost_usd = models.DecimalField(**COST_DIGITS, null=True, blank=True)
    priced = models.BooleanField(default=False)
    price = models.ForeignKey(ModelPrice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    optimization_technique = models.CharField(max_length=100, blank=True, default="")
    original_tokens = models.PositiveBigIntegerField(null=True, blank=True)
    cache_hit = models.BooleanField(default=False)
    reservation_id = models.UUIDField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    usage_format = models.CharField(max_length=32, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)

    objects = UsageRecordQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "request_id"], name="usage_user_request_id_uniq"),
            models.CheckConstraint(condition=Q(cost_usd__gte=0), name="usage_cost_non_negative"),
        ]
        indexes = [
            models.Index(fields=["user", "occurred_at"], name="usage_user_time_idx"),
            models.Index(fields=["user", "run_id"], name="usage_user_run_idx"),
            models.Index(fields=["organization", "occurred_at"], name="usage_org_time_idx"),
            models.Index(fields=["occurred_at"], name="usage_time_idx"),
            models.Index(fields=["model"], name="usage_unpriced_model_idx", condition=Q(priced=False)),
        ]
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.request_id} {self.model} {self.total_tokens} tok"

    @property
    def token_counts(self) -> TokenCounts:
        return TokenCounts.from_row(self)

    @property
    def prompt_tokens(self) -> int:
        return self.token_counts.prompt

    @property
    def completion_tokens(self) -> int:
        return self.token_counts.completion


class ApiKeyQuerySet(models.QuerySet):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """An agent's credential. Only the SHA-256 of the key is stored."""

    PREFIX = "ntk_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, default="default")
    project = models.ForeignKey(
        "organizations.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="api_keys",
        help_text="Spend made with this key is attributed to this project and its organization.",
    )
    key_prefix = models.CharField(max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_service = models.BooleanField(
        default=False, help_text="A service key may act for any user by naming them in the request."
    )
    # Requests and tokens per minute through this key (budgets.ratelimits); null: no limit.
    rpm_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Requests per minute; blank: none.")
    tpm_limit = models.PositiveBigIntegerField(null=True, blank=True, help_text="Tokens per minute; blank: none.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.key_prefix}… ({self.name})"

    @staticmethod
    def hash(raw: str) -> str:
        # Keys carry 256 bits of entropy, so a fast hash is safe and keeps auth cheap.
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def generate(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class UsageTag(models.Model):
    """One tag of one usage record: filtering and grouping spend by cost center is an indexed scan."""

    record = models.ForeignKey(UsageRecord, on_delete=models.CASCADE, related_name="tag_rows")
    tag = models.CharField(max_length=64)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(
        "organizations.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    occurred_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["record", "tag"], name="usagetag_record_tag_uniq")]
        indexes = [
            models.Index(fields=["user", "tag", "occurred_at"], name="usagetag_user_tag_time_idx"),
            models.Index(fields=["organization", "tag", "occurred_at"], name="usagetag_org_tag_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tag} on {self.record_id}"
