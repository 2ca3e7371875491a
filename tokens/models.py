"""Price catalog, the usage ledger, runs and API keys."""

from __future__ import annotations

import hashlib
import os
import secrets
import time
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

PRICE_DIGITS = {"max_digits": 20, "decimal_places": 10}
COST_DIGITS = {"max_digits": 24, "decimal_places": 12}
PER_MILLION = Decimal(1_000_000)


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 v7) so ledger inserts stay index-local."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


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
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cached_input_tokens + self.cache_write_tokens

    @property
    def completion_tokens(self) -> int:
        return self.output_tokens + self.reasoning_tokens


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


class SavingsRecord(models.Model):
    """What one optimization or cache hit saved, in tokens and catalog dollars."""

    SOURCE_OPTIMIZE = "optimize"
    SOURCE_CACHE = "cache"
    SOURCE_TEMPLATE = "template"
    SOURCES = [(SOURCE_OPTIMIZE, "optimization"), (SOURCE_CACHE, "cache hit"), (SOURCE_TEMPLATE, "lean template")]

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="savings")
    source = models.CharField(max_length=16, choices=SOURCES)
    technique = models.CharField(max_length=100)
    model = models.CharField(max_length=200, blank=True, default="")
    agent = models.CharField(max_length=100, blank=True, default="")
    original_tokens = models.PositiveBigIntegerField()
    optimized_tokens = models.PositiveBigIntegerField()
    tokens_saved = models.BigIntegerField()
    usd_saved = models.DecimalField(**COST_DIGITS, default=Decimal(0))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="savings_user_time_idx")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.technique}: {self.tokens_saved} tokens"


# --- Optimization (lean templates, preferences, response cache) -------------------


class PromptTemplate(models.Model):
    """A lean prompt template, its token count and the verbose baseline it replaces."""

    RICHNESS = [("low", "low"), ("medium", "medium"), ("high", "high")]

    name = models.CharField(max_length=100)
    agent_type = models.CharField(max_length=100, db_index=True)
    richness = models.CharField(max_length=16, choices=RICHNESS, default="medium")
    version = models.PositiveIntegerField(default=1)
    body = models.TextField()
    variables = models.JSONField(default=list, blank=True)
    baseline_body = models.TextField(
        blank=True, default="", help_text="The verbose prompt this template replaces."
    )
    token_model = models.CharField(
        max_length=200, default="gpt-4o", help_text="Tokenizer used for the counts."
    )
    token_count = models.PositiveIntegerField(default=0, editable=False)
    baseline_token_count = models.PositiveIntegerField(default=0, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="prompttemplate_name_version_uniq")
        ]
        ordering = ["name", "-version"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def save(self, *args, **kwargs) -> None:
        from tokens.optimize.templates import template_variables
        from tokens.tokenizer import count_text

        self.variables = template_variables(self.body)
        self.token_count = count_text(self.body, self.token_model).tokens
        self.baseline_token_count = (
            count_text(self.baseline_body, self.token_model).tokens if self.baseline_body else 0
        )
        super().save(*args, **kwargs)

    @property
    def tokens_saved(self) -> int:
        return max(self.baseline_token_count - self.token_count, 0) if self.baseline_token_count else 0

    @property
    def savings_percent(self) -> float:
        if not self.baseline_token_count:
            return 0.0
        return round(100.0 * self.tokens_saved / self.baseline_token_count, 1)


class UserPreference(models.Model):
    """Per-user switches; optimization is on unless the user turns it off."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    optimization_enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id}: optimization {'on' if self.optimization_enabled else 'off'}"


class ResponseCacheEntry(models.Model):
    """Index row of one cached response (the payload lives in the Django cache); drives LRU eviction."""

    scope = models.CharField(
        max_length=32, help_text="'u:<user id>' for private entries, 'shared' for shared."
    )
    key_hash = models.CharField(max_length=64)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=200)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    size_bytes = models.PositiveIntegerField(default=0)
    hits = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key_hash"], name="responsecache_scope_key_uniq")
        ]
        verbose_name_plural = "response cache entries"

    def __str__(self) -> str:
        return f"{self.scope}:{self.key_hash[:12]}"


class ResponseCacheCounter(models.Model):
    """Per-user, per-day response cache lookups; counters change only with F() updates."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    hits = models.PositiveBigIntegerField(default=0)
    misses = models.PositiveBigIntegerField(default=0)
    tokens_saved = models.PositiveBigIntegerField(default=0)
    usd_saved = models.DecimalField(**COST_DIGITS, default=Decimal(0))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="responsecachecounter_user_day_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}: {self.hits} hits / {self.misses} misses"
