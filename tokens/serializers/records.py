"""Stored usage records as the API answers them, and the sums of sets of them."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import IsoDateTimeField, MoneyField
from core.money import money_str
from tokens.counts import COMPLETION_CLASSES, PROMPT_CLASSES, TOKEN_CLASSES
from tokens.models import UsageRecord


def usage_record_out(record: UsageRecord, *, duplicate: bool | None = None) -> dict[str, Any]:
    data = {
        "id": str(record.pk),
        "request_id": record.request_id,
        "user": record.user.get_username(),
        "agent": record.agent,
        "tool": record.tool,
        "model": record.model,
        "provider": record.provider,
        "run_id": record.run_id,
        "organization": record.organization_id,
        "project": record.project_id,
        "tags": record.tags,
        "tokens": record.token_counts.as_dict(),
        "units": record.units,
        "service_tier": record.service_tier or "standard",
        "cost_usd": money_str(record.cost_usd),
        "list_cost_usd": money_str(record.list_cost_usd),
        "provider_cost_usd": money_str(record.provider_cost_usd),
        # What the provider reported less what the catalog lists (null without a reported cost).
        "provider_cost_difference_usd": provider_cost_difference(record),
        "priced": record.priced,
        "cache_hit": record.cache_hit,
        "optimization": (
            {"technique": record.optimization_technique, "original_tokens": record.original_tokens}
            if record.optimization_technique
            else None
        ),
        "reservation_id": str(record.reservation_id) if record.reservation_id else None,
        "latency_ms": record.latency_ms,
        "metadata": record.metadata,
        "occurred_at": record.occurred_at.isoformat(),
        "received_at": record.received_at.isoformat(),
    }
    if duplicate is not None:
        data["duplicate"] = duplicate
    return data


def provider_cost_difference(record: UsageRecord) -> str | None:
    if record.provider_cost_usd is None or not record.priced:
        return None
    return money_str(record.provider_cost_usd - record.list_cost_usd)


# What each token class is, for the schema (tokens.counts is the one list of classes).
TOKEN_CLASS_HELP = {
    "input": "Text input (prompt) tokens, not read from or written to a cache.",
    "cached_input": "Input tokens read from the provider's prompt cache (text).",
    "cache_write": "Input tokens written to the prompt cache with 5-minute (the provider's default) retention.",
    "output": "Text output tokens other than reasoning.",
    "reasoning": "Reasoning (thinking) tokens.",
    "cache_write_1h": "Cache writes with 1-hour retention (Anthropic).",
    "cache_write_12h": "Cache writes with 12-hour retention (OpenAI Responses).",
    "audio_input": "Audio input tokens, not cached.",
    "cached_audio_input": "Audio input tokens read from the cache.",
    "image_input": "Image input tokens, not cached.",
    "cached_image_input": "Image input tokens read from the cache.",
    "video_input": "Video input tokens.",
    "audio_output": "Audio output tokens (a speech model's output tokens are audio).",
    "image_output": "Image output tokens.",
}
assert tuple(TOKEN_CLASS_HELP) == tuple(TOKEN_CLASSES), "describe every token class of tokens.counts"


def _serializer(name: str, ref_name: str, doc: str, fields: dict[str, serializers.Field]) -> type:
    """A serializer class whose fields are built from the token classes (declared in their order)."""
    meta = type("Meta", (), {"ref_name": ref_name})
    return type(name, (serializers.Serializer,), {"__module__": __name__, "__doc__": doc, "Meta": meta, **fields})


TokenCountsSerializer = _serializer(
    "TokenCountsSerializer", "TokenCounts",
    "The token classes of a call, each priced once at its own rate, and their sum.",
    {
        **{name: serializers.IntegerField(help_text=text) for name, text in TOKEN_CLASS_HELP.items()},
        "total": serializers.IntegerField(help_text="Every class summed."),
    },
)


class UsageOptimizationSerializer(serializers.Serializer):
    class Meta:
        ref_name = "UsageOptimization"

    technique = serializers.CharField()
    original_tokens = serializers.IntegerField(allow_null=True)


# The answers render through usage_record_out (see the package docstring); this is their contract.
class UsageRecordOutputSerializer(serializers.Serializer):
    """One stored usage record as the server priced it."""

    class Meta:
        ref_name = "UsageRecord"

    id = serializers.UUIDField()
    request_id = serializers.CharField()
    user = serializers.CharField(source="user.get_username")
    agent = serializers.CharField()
    tool = serializers.CharField()
    model = serializers.CharField()
    provider = serializers.CharField(help_text="The catalog's provider; empty for an unpriced model.")
    run_id = serializers.CharField()
    organization = serializers.IntegerField(
        source="organization_id", allow_null=True, help_text="The organization the spend is attributed to."
    )
    project = serializers.IntegerField(source="project_id", allow_null=True, help_text="The key's project, if any.")
    tags = serializers.ListField(child=serializers.CharField(), help_text="Cost-center tags, as posted.")
    tokens = TokenCountsSerializer(source="token_counts")
    units = serializers.DictField(
        help_text="Billed units that are not tokens, as posted or read from the usage object: "
        "{\"input_seconds\": 12, \"web_search_requests\": 2, ...}."
    )
    service_tier = serializers.SerializerMethodField()
    cost_usd = MoneyField(help_text="Billed: the list cost after the customer's price override, if any.")
    list_cost_usd = MoneyField(help_text="The catalog (list) price of the call.")
    provider_cost_usd = MoneyField(allow_null=True, help_text="The cost the provider reported, if it did.")
    provider_cost_difference_usd = serializers.SerializerMethodField()
    priced = serializers.BooleanField(
        help_text="False: the model, or a token class or unit of the call, has no price yet; the costs are 0."
    )
    cache_hit = serializers.BooleanField()
    optimization = serializers.SerializerMethodField()
    reservation_id = serializers.UUIDField(allow_null=True)
    latency_ms = serializers.IntegerField(allow_null=True)
    metadata = serializers.DictField()
    occurred_at = IsoDateTimeField()
    received_at = IsoDateTimeField()
    duplicate = serializers.BooleanField(
        required=False, help_text="Answers to a post only: true when request_id was stored before."
    )

    @extend_schema_field(OpenApiTypes.STR)
    def get_service_tier(self, record: UsageRecord) -> str:
        """The tier the provider says served the call (batch, flex, priority, ...); standard if it did not say."""
        return record.service_tier or "standard"

    @extend_schema_field(MoneyField(allow_null=True, help_text="Provider less list; null without a provider cost."))
    def get_provider_cost_difference_usd(self, record: UsageRecord) -> str | None:
        return provider_cost_difference(record)

    @extend_schema_field(UsageOptimizationSerializer(allow_null=True))
    def get_optimization(self, record: UsageRecord) -> dict[str, Any] | None:
        if not record.optimization_technique:
            return None
        return {"technique": record.optimization_technique, "original_tokens": record.original_tokens}


UsageTotalsSerializer = _serializer(
    "UsageTotalsSerializer", "UsageTotals",
    "Exact sums of a set of usage records: every token class, the cost, and the provider-style sums.",
    {
        "requests": serializers.IntegerField(),
        **{f"{name}_tokens": serializers.IntegerField(help_text=text) for name, text in TOKEN_CLASS_HELP.items()},
        "total_tokens": serializers.IntegerField(),
        "cost_usd": MoneyField(help_text="Billed."),
        "prompt_tokens": serializers.IntegerField(help_text=f"{' + '.join(PROMPT_CLASSES)}."),
        "completion_tokens": serializers.IntegerField(help_text=f"{' + '.join(COMPLETION_CLASSES)}."),
    },
)
assert all(f"{name}_tokens" == column for name, column in TOKEN_CLASSES.items())


class _GroupKeySerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The agent, model or tool name, or the UTC day (YYYY-MM-DD).")


# The key's base class comes first so that the key leads each group, as it always has.
class UsageGroupSerializer(_GroupKeySerializer, UsageTotalsSerializer):
    """The totals of one group: an agent, model, tool or UTC day."""

    class Meta:
        ref_name = "UsageGroup"
