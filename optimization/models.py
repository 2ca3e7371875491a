"""Token-saving services' state: the savings ledger, lean templates, preferences, the response cache."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.db import uuid7
from core.money import COST_DIGITS
from optimization.templates import template_variables
from tokens.tokenizer import count_text


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
    # Semantic entries only: what must be equal for a hit (embedder, model, parameters, earlier messages,
    # numbers and negations of the last one), and the last message's embedding (float32, unit length).
    semantic_group = models.CharField(max_length=64, blank=True, default="")
    embedding = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key_hash"], name="responsecache_scope_key_uniq")
        ]
        indexes = [
            models.Index(fields=["scope", "semantic_group", "id"], name="responsecache_semantic_idx",
                         condition=~models.Q(semantic_group=""))
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
