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
    # USD per 1M tokens. Null cache/reasoning prices fall back to the input/output price.
    input_per_million = models.DecimalField(**PRICE_DIGITS)
    output_per_million = models.DecimalField(**PRICE_DIGITS)
    cache_read_per_million = models.DecimalField(**PRICE_DIGITS, null=True, blank=True)
    cache_write_per_million = models.DecimalField(**PRICE_DIGITS, null=True, blank=True)
    reasoning_per_million = models.DecimalField(**PRICE_DIGITS, null=True, blank=True)
    # Long-context tiers: [{"above_input_tokens": 200000, "input_per_million": "2.5", ...}]
    tiers = models.JSONField(default=list, blank=True)
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
    total_tokens = models.PositiveBigIntegerField(default=0)
    cost_usd = models.DecimalField(**COST_DIGITS, default=Decimal(0))
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
    key_prefix = models.CharField(max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_service = models.BooleanField(
        default=False, help_text="A service key may act for any user by naming them in the request."
    )
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
